//! The NATS JetStream adapter: the only crate that talks to async-nats. Services move bytes
//! and headers through a [`Bus`]; they never see async-nats types, and message encoding is
//! the protocol crate's business.
//!
//! What it offers:
//! - [`Bus::connect`] from a [`BusConfig`] (URL, credentials, TLS), with clear errors and
//!   reconnection forever once connected;
//! - [`Bus::ensure_topology`]: streams, durable pull consumers, KV buckets and object stores
//!   from the protocol's specs, created or updated idempotently;
//! - [`Bus::publish`] (JetStream, acknowledged, `Nats-Msg-Id` de-duplication) and
//!   [`Bus::publish_core`] / [`Bus::subscribe`] (core NATS, for status subjects);
//! - [`Bus::consume`]: a stream of [`Delivery`]s from a durable pull consumer, shared by every
//!   copy of a service, with explicit ack, nak, progress and term, re-pulling after outages;
//!   [`Bus::dead_letter`] for poison messages;
//! - the object store ([`Bus::put_object`], [`Bus::get_object`]) for large payloads, and KV
//!   with compare-and-set ([`Bus::kv_update`]);
//! - [`Bus::replay`]: a stream's messages for a subject filter, oldest first, for catching up;
//! - [`Bus::consumer_lag`] for lag metrics, and `traceparent` header helpers.
//!
//! Every error is a [`BusError`], which says whether retrying may help
//! ([`BusError::is_transient`]).
//!
//! # Layout
//! - [`config`]: [`BusConfig`], [`TlsConfig`]; `Debug` redacts secrets.
//! - `connect`: [`Bus`], connecting, connection events.
//! - `topology`: [`Bus::ensure_topology`], [`TopologyReport`].
//! - `publish`: publishing, core subscriptions, headers and trace context.
//! - `consume`: [`Bus::consume`], [`Delivery`], [`Bus::dead_letter`], lag.
//! - `replay`: [`Bus::replay`], [`StoredMessage`].
//! - `objects`: the object store.
//! - `kv`: key-value buckets.
//! - `error`: [`BusError`].

pub mod config;
mod connect;
mod consume;
mod error;
mod kv;
mod objects;
mod publish;
mod replay;
mod topology;

pub use config::{BusConfig, TlsConfig};
pub use connect::Bus;
pub use consume::{
    ConsumerLag, DLQ_DELIVERIES_HEADER, DLQ_REASON_HEADER, DLQ_SEQ_HEADER, DLQ_STREAM_HEADER,
    DLQ_SUBJECT_HEADER, Deliveries, Delivery, PullOptions, StreamState,
};
pub use error::BusError;
pub use objects::ObjectInfo;
pub use publish::{
    CoreMessage, Headers, MSG_ID_HEADER, PublishAck, TRACEPARENT_HEADER, extract_traceparent,
    header, inject_traceparent,
};
pub use replay::StoredMessage;
pub use topology::TopologyReport;
