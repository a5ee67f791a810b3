//! Logging and metrics for the Tessera services.
//!
//! [`init`] installs the process's `tracing` subscriber from `[telemetry]`: text or JSON
//! lines on stderr, filtered by `RUST_LOG` or `telemetry.log`. [`Metrics`] is a small
//! registry of counters, gauges and labels, cheap enough to bump per message, whose
//! [`snapshot`](Metrics::snapshot) fills the `detail` of a service's status message.
//!
//! # Layout
//!
//! - `logging.rs`: [`init`] and [`TelemetryError`].
//! - `metrics.rs`: [`Metrics`], [`Counter`], [`Gauge`].

mod logging;
mod metrics;

pub use logging::{TelemetryError, init};
pub use metrics::{Counter, Gauge, Metrics};
