//! The wire contract of Tessera's live pipeline: versioned msgpack messages, subject names,
//! and the JetStream streams, consumers, key-value buckets and object stores they travel on.
//! Nothing here does I/O; the bus adapter turns these definitions into NATS calls.
//!
//! # Layout
//! - [`streams`]: streams, consumers, KV buckets and object stores, as plain data.

pub mod streams;
