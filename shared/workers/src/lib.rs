//! The live services as async loops over the bus: [`ingest`], [`embedder`],
//! [`clusterer`], [`publisher`] and the closed loop's [`decider`]. Each `run` takes a [`Context`] (bus, settings, metrics,
//! shutdown) and returns when shutdown is asked for or its consumer is gone. The service
//! binaries and `tessera up` are thin shells around these.
//!
//! Every loop follows the same rules ([`settle`](common)): a message is acknowledged only
//! after what it produced is stored; bad input is answered on `tessera.rejects.<service>`
//! with a reason and never retried; a transient failure is retried with back-off and, after
//! the consumer's `max_deliver`, dead-lettered on `tessera.dlq.<stream>`. Nothing a message
//! contains can stop a service.
//!
//! # Layout
//! - `context`: [`Context`], [`WorkerError`], [`instance_name`].
//! - `common`: settling deliveries, rejects, dead letters, status heartbeats, the per-frame
//!   log lines (target `tessera::frames`).
//! - `prefetch`: the messages an embedder takes ahead, kept alive until it starts on them.
//! - `spans`: the span around each message (run and frame ids on every log line, trace
//!   context through the message headers).
//! - [`ingest`], [`embedder`], [`clusterer`], [`publisher`], [`decider`]: one service each.
//! - [`classifiers`]: named few-shot classifiers saved to, listed from and loaded from NATS.
//! - [`policies`]: closed-loop policies checked and stored for a run or an instrument.
//! - `labelling`: labels painted in the dashboard on a run's newest frame, which the
//!   clusterer keeps: a classifier made, stored and bound to the run, the frame re-classified.
//! - [`up`]: several services in one process.

pub mod classifiers;
pub mod clusterer;
mod common;
mod context;
pub mod decider;
pub mod embedder;
pub mod ingest;
mod labelling;
mod models;
pub mod policies;
mod prefetch;
pub mod publisher;
mod spans;
pub mod up;

pub use context::{Context, WorkerError, instance_name};
pub use tokio_util::sync::CancellationToken;
