//! Logging, metrics and the health endpoint of the Tessera services.
//!
//! [`init`] installs the process's `tracing` subscriber from `[telemetry]`: text or JSON
//! lines on stderr, filtered by `RUST_LOG` or `telemetry.log`, coloured only on a terminal
//! without `NO_COLOR` ([`ansi`]). [`Metrics`] is a small
//! registry of counters, gauges, histograms and labels, cheap enough to bump per message,
//! whose [`snapshot`](Metrics::snapshot) fills the `detail` of a service's status message and
//! which [`serve_metrics`] exposes to Prometheus with `/healthz` and `/readyz`.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, [`init`] also exports the spans as OpenTelemetry
//! traces over OTLP/HTTP, and [`shutdown`] sends the last of them. Trace context travels
//! between services in message headers: [`inject_context`] writes a span's `traceparent`,
//! [`set_parent_from`] continues it in the consumer, [`link_from`] links a batch's span to
//! every message it consumed.
//!
//! # Layout
//!
//! - `logging.rs`: [`init`], [`ansi`] and [`TelemetryError`].
//! - `metrics.rs`: [`Metrics`], [`Counter`], [`Gauge`], [`Histogram`].
//! - `prometheus.rs`: [`render`], the text exposition format.
//! - `serve.rs`: [`serve_metrics`], the HTTP endpoint, and [`probe`], its health check.
//! - `otel.rs`: the OTLP exporter, [`shutdown`], and the trace-context header helpers.

mod logging;
mod metrics;
mod otel;
mod prometheus;
mod serve;

pub use logging::{TelemetryError, ansi, init};
pub use metrics::{Counter, Gauge, Histogram, HistogramSnapshot, Metrics, SECONDS, SIZES};
pub use otel::{
    ENDPOINT_VAR, SERVICE_NAME_VAR, inject_context, link_from, set_parent_from, shutdown,
    trace_id_from,
};
pub use prometheus::{CONTENT_TYPE, Source, render};
pub use serve::{PROBE_TIMEOUT, Readiness, probe, serve_metrics};
