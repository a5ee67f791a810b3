//! Logging and metrics for the Tessera services.
//!
//! [`init`] installs the process's `tracing` subscriber from `[telemetry]`: text or JSON
//! lines on stderr, filtered by `RUST_LOG` or `telemetry.log`. [`Metrics`] is a small
//! registry of counters, gauges and labels, cheap enough to bump per message, whose
//! [`snapshot`](Metrics::snapshot) fills the `detail` of a service's status message.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, [`init`] also exports the spans as OpenTelemetry
//! traces over OTLP/HTTP, and [`shutdown`] sends the last of them. Trace context travels
//! between services in message headers: [`inject_context`] writes a span's `traceparent`,
//! [`set_parent_from`] continues it in the consumer, [`link_from`] links a batch's span to
//! every message it consumed.
//!
//! # Layout
//!
//! - `logging.rs`: [`init`] and [`TelemetryError`].
//! - `metrics.rs`: [`Metrics`], [`Counter`], [`Gauge`].
//! - `otel.rs`: the OTLP exporter, [`shutdown`], and the trace-context header helpers.

mod logging;
mod metrics;
mod otel;

pub use logging::{TelemetryError, init};
pub use metrics::{Counter, Gauge, Metrics};
pub use otel::{
    ENDPOINT_VAR, SERVICE_NAME_VAR, inject_context, link_from, set_parent_from, shutdown,
    trace_id_from,
};
