//! Logging, metrics and the health endpoint of the Tessera services.
//!
//! [`init`] installs the process's `tracing` subscriber from `[telemetry]`: text or JSON
//! lines on stderr, filtered by `RUST_LOG` or `telemetry.log`. [`Metrics`] is a small
//! registry of counters, gauges, histograms and labels, cheap enough to bump per message,
//! whose [`snapshot`](Metrics::snapshot) fills the `detail` of a service's status message and
//! which [`serve_metrics`] exposes to Prometheus with `/healthz` and `/readyz`.
//!
//! # Layout
//!
//! - `logging.rs`: [`init`] and [`TelemetryError`].
//! - `metrics.rs`: [`Metrics`], [`Counter`], [`Gauge`], [`Histogram`].
//! - `prometheus.rs`: [`render`], the text exposition format.
//! - `serve.rs`: [`serve_metrics`], the HTTP endpoint, and [`probe`], its health check.

mod logging;
mod metrics;
mod prometheus;
mod serve;

pub use logging::{TelemetryError, init};
pub use metrics::{Counter, Gauge, Histogram, HistogramSnapshot, Metrics, SECONDS, SIZES};
pub use prometheus::{CONTENT_TYPE, Source, render};
pub use serve::{Readiness, probe, serve_metrics};
