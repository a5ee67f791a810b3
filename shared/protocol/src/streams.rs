//! Streams, consumers, key-value buckets and object stores, as plain data.
//!
//! The bus adapter creates (or updates) exactly these at start-up; ARCHITECTURE.md lists
//! them. Durations are in seconds, sizes in bytes; `-1` means unlimited where NATS allows it.

/// How a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Until limits (age, bytes, count) remove them.
    Limits,
    /// Until a consumer acknowledges them: each message is worked on once.
    WorkQueue,
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// On disk; survives a server restart.
    File,
    /// In memory.
    Memory,
}

/// A JetStream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Stream name.
    pub name: &'static str,
    /// Subjects it captures (wildcards allowed).
    pub subjects: &'static [&'static str],
    /// Retention policy.
    pub retention: Retention,
    /// Storage.
    pub storage: Storage,
    /// Oldest message kept, in seconds (0: no age limit).
    pub max_age_secs: u64,
    /// Total size kept, in bytes (-1: unlimited).
    pub max_bytes: i64,
    /// Largest message accepted, in bytes.
    pub max_msg_size: i32,
    /// Window in which a repeated `Nats-Msg-Id` is dropped, in seconds.
    pub duplicate_window_secs: u64,
    /// One line on what it carries.
    pub description: &'static str,
}

/// A durable pull consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// The stream it reads.
    pub stream: &'static str,
    /// Durable name, shared by every copy of a service.
    pub durable: &'static str,
    /// Subject filter within the stream (empty: all).
    pub filter_subject: &'static str,
    /// Seconds before an unacknowledged message is redelivered.
    pub ack_wait_secs: u64,
    /// Deliveries before a message is given up on and dead-lettered.
    pub max_deliver: i64,
    /// Messages delivered but not yet acknowledged, at most.
    pub max_ack_pending: i64,
}

/// A JetStream key-value bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSpec {
    /// Bucket name.
    pub bucket: &'static str,
    /// Revisions kept per key.
    pub history: i64,
    /// Age after which entries expire, in seconds (0: never).
    pub max_age_secs: u64,
    /// One line on what it holds.
    pub description: &'static str,
}

/// A JetStream object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStoreSpec {
    /// Bucket name.
    pub bucket: &'static str,
    /// Age after which objects expire, in seconds (0: never).
    pub max_age_secs: u64,
    /// One line on what it holds.
    pub description: &'static str,
}
