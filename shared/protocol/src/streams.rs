//! Streams, consumers, key-value buckets and object stores, as plain data.
//!
//! The bus adapter creates (or updates) exactly these at start-up; ARCHITECTURE.md lists
//! them. Durations are in seconds, sizes in bytes; `-1` means unlimited where NATS allows it.
//!
//! | stream | subjects | retention | kept | max msg | consumer (durable) |
//! | --- | --- | --- | --- | --- | --- |
//! | ACQ | `tessera.acq.*.start\|frame\|stop` | limits | 7 days, 50 GiB | 8 MiB | ingest |
//! | WORK | `tessera.work.*` | work queue | 1 day, 20 GiB | 8 MiB | embedder (all copies) |
//! | EMBEDDED | `tessera.embedded.*` | work queue | 1 day, 20 GiB | 8 MiB | clusterer |
//! | SEGMENTED | `tessera.segmented.*` | work queue | 1 day, 5 GiB | 8 MiB | publisher |
//! | RESULTS | `tessera.results.*.*` | limits | 30 days, 10 GiB | 1 MiB | dashboards (own consumers) |
//! | REJECTS | `tessera.rejects.*` | limits | 30 days, 1 GiB | 64 KiB | operators |
//! | DECISIONS | `tessera.decisions.*.*`, `tessera.acks.*.*` | limits | 30 days, 1 GiB | 64 KiB | instruments, dashboards (own consumers) |
//! | DLQ | `tessera.dlq.*` | limits | 30 days, 20 GiB | 8 MiB + 64 KiB | operators |
//!
//! Every stream is on file storage with a 2-minute duplicate window. The pipeline's streams
//! refuse new messages when full ([`Discard::New`]): a full pipeline shows up as failed
//! publishes at the instrument, never as silently dropped frames. Messages over 1 MiB need
//! the server's `max_payload` raised (to 8 MiB, e.g. `max_payload: 8MB`); frames over
//! [`crate::DEFAULT_INLINE_MAX_BYTES`] travel through the object store instead.

use crate::sites::StreamSource;
use crate::subjects::{
    ACKS_PATTERN, ACQ_FRAME_PATTERN, ACQ_START_PATTERN, ACQ_STOP_PATTERN, DECISIONS_PATTERN,
    DLQ_PATTERN, EMBEDDED_PATTERN, REJECTS_PATTERN, RESULTS_PATTERN, SEGMENTED_PATTERN,
    WORK_PATTERN, subject_matches,
};

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

/// What a full stream does with a new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Drop the oldest messages to make room (fine for history such as results).
    Old,
    /// Refuse the publish, so the publisher sees backpressure instead of work vanishing.
    New,
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
    /// What happens when `max_bytes` is reached.
    pub discard: Discard,
    /// One line on what it carries.
    pub description: &'static str,
    /// Streams in other JetStream domains whose messages this one copies in (edge and hub
    /// sites, [`crate::sites`]); empty on a single site.
    pub sources: Vec<StreamSource>,
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

const KIB: i32 = 1024;
const MIB: i32 = 1024 * KIB;
const GIB: i64 = 1024 * 1024 * 1024;
const DAY: u64 = 24 * 60 * 60;
/// The duplicate window of every stream: 2 minutes.
pub const DUPLICATE_WINDOW_SECS: u64 = 120;

/// Acquisition messages from instruments. Kept 7 days so a run can be replayed into a fresh
/// pipeline; limits retention, so replay tools can add their own consumers.
pub const ACQ: StreamSpec = StreamSpec {
    name: "ACQ",
    subjects: &[ACQ_START_PATTERN, ACQ_FRAME_PATTERN, ACQ_STOP_PATTERN],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 7 * DAY,
    max_bytes: 50 * GIB,
    max_msg_size: 8 * MIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::New,
    description: "Run starts, frames and run stops from instruments (tessera.acq.<instrument>.*)",
    sources: Vec::new(),
};

/// Chip batches waiting for an embedder. Work-queue retention: a batch is gone once an
/// embedder acknowledges it; every embedder copy shares the one durable consumer. Stale work
/// is useless after a day.
pub const WORK: StreamSpec = StreamSpec {
    name: "WORK",
    subjects: &[WORK_PATTERN],
    retention: Retention::WorkQueue,
    storage: Storage::File,
    max_age_secs: DAY,
    max_bytes: 20 * GIB,
    max_msg_size: 8 * MIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::New,
    description: "Chip batches for the embedders (tessera.work.<run>)",
    sources: Vec::new(),
};

/// Embedding batches waiting for the clusterer; work-queue retention bounds the store to the
/// backlog. (A debugging tap can still subscribe to the subjects on core NATS.)
pub const EMBEDDED: StreamSpec = StreamSpec {
    name: "EMBEDDED",
    subjects: &[EMBEDDED_PATTERN],
    retention: Retention::WorkQueue,
    storage: Storage::File,
    max_age_secs: DAY,
    max_bytes: 20 * GIB,
    max_msg_size: 8 * MIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::New,
    description: "Embedding batches for the clusterer (tessera.embedded.<run>)",
    sources: Vec::new(),
};

/// Segmented frames waiting for the publisher (chip labels, small).
pub const SEGMENTED: StreamSpec = StreamSpec {
    name: "SEGMENTED",
    subjects: &[SEGMENTED_PATTERN],
    retention: Retention::WorkQueue,
    storage: Storage::File,
    max_age_secs: DAY,
    max_bytes: 5 * GIB,
    max_msg_size: 8 * MIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::New,
    description: "Segmented frames for the publisher (tessera.segmented.<run>)",
    sources: Vec::new(),
};

/// Results for dashboards, kept 30 days so a dashboard can resume by stream sequence or
/// replay a run. Results are small: images travel as object references.
pub const RESULTS: StreamSpec = StreamSpec {
    name: "RESULTS",
    subjects: &[RESULTS_PATTERN],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 30 * DAY,
    max_bytes: 10 * GIB,
    max_msg_size: MIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::Old,
    description: "Frame results for dashboards (tessera.results.<instrument>.<run>)",
    sources: Vec::new(),
};

/// Refused messages with their reasons (no payloads), kept 30 days for operators.
pub const REJECTS: StreamSpec = StreamSpec {
    name: "REJECTS",
    subjects: &[REJECTS_PATTERN],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 30 * DAY,
    max_bytes: GIB,
    max_msg_size: 64 * KIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::Old,
    description: "Messages a service refused, with the reason (tessera.rejects.<service>)",
    sources: Vec::new(),
};

/// Dead letters: messages given up on after `max_deliver`, with their payloads, for replay.
pub const DLQ: StreamSpec = StreamSpec {
    name: "DLQ",
    subjects: &[DLQ_PATTERN],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 30 * DAY,
    max_bytes: 20 * GIB,
    max_msg_size: 8 * MIB + 64 * KIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::Old,
    description: "Messages given up on after repeated failures (tessera.dlq.<stream>)",
    sources: Vec::new(),
};

/// The closed loop: the decider's verdict on every frame of a run with a policy, and the
/// instruments' answers. Small messages, kept as long as RESULTS so a run's decisions can
/// be replayed beside its results.
pub const DECISIONS: StreamSpec = StreamSpec {
    name: "DECISIONS",
    subjects: &[DECISIONS_PATTERN, ACKS_PATTERN],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 30 * DAY,
    max_bytes: GIB,
    max_msg_size: 64 * KIB,
    duplicate_window_secs: DUPLICATE_WINDOW_SECS,
    discard: Discard::Old,
    description: "Decisions for instruments and their answers \
                  (tessera.decisions.<instrument>.<run>, tessera.acks.<instrument>.<run>)",
    sources: Vec::new(),
};

/// Every stream, in pipeline order.
pub static STREAMS: [StreamSpec; 8] = [
    ACQ, WORK, EMBEDDED, SEGMENTED, RESULTS, DECISIONS, REJECTS, DLQ,
];

/// Every stream, in pipeline order.
pub fn all_streams() -> Vec<StreamSpec> {
    STREAMS.to_vec()
}

/// The stream called `name`.
pub fn stream(name: &str) -> Option<&'static StreamSpec> {
    STREAMS.iter().find(|s| s.name == name)
}

/// The stream that captures the concrete `subject`, if any.
pub fn stream_for_subject(subject: &str) -> Option<&'static StreamSpec> {
    STREAMS
        .iter()
        .find(|s| s.subjects.iter().any(|p| subject_matches(p, subject)))
}

/// Ingest on ACQ. One copy at a time keeps each instrument's start → frames → stop in order;
/// 60 s covers fetching a large frame from the object store and chipping it.
pub const INGEST_CONSUMER: ConsumerSpec = ConsumerSpec {
    stream: "ACQ",
    durable: "ingest",
    filter_subject: "",
    ack_wait_secs: 60,
    max_deliver: 5,
    max_ack_pending: 64,
};

/// Every embedder copy on WORK (one durable consumer, scaled by adding workers). A batch
/// taking longer than 30 s must send progress acks.
pub const EMBEDDER_CONSUMER: ConsumerSpec = ConsumerSpec {
    stream: "WORK",
    durable: "embedder",
    filter_subject: "",
    ack_wait_secs: 30,
    max_deliver: 5,
    max_ack_pending: 256,
};

/// The clusterer on EMBEDDED. It may hold a frame's batches unacknowledged until the frame is
/// published (a 2048² frame at stride 32 is about 60 batches of 64 chips), hence the wide
/// `max_ack_pending`; progress acks keep them alive.
pub const CLUSTERER_CONSUMER: ConsumerSpec = ConsumerSpec {
    stream: "EMBEDDED",
    durable: "clusterer",
    filter_subject: "",
    ack_wait_secs: 60,
    max_deliver: 5,
    max_ack_pending: 4096,
};

/// The publisher on SEGMENTED; 60 s covers rendering and storing an overlay.
pub const PUBLISHER_CONSUMER: ConsumerSpec = ConsumerSpec {
    stream: "SEGMENTED",
    durable: "publisher",
    filter_subject: "",
    ack_wait_secs: 60,
    max_deliver: 5,
    max_ack_pending: 64,
};

/// The decider reads every result once, in order (one copy). One result at a time
/// (`max_ack_pending` 1): a run's hysteresis depends on its frames' order, and a result left
/// unacknowledged by a decider that died must be decided again before any later one, which
/// the server then redelivers first, once its ack wait has passed. A decision takes about
/// 2 ms, so one at a time still serves hundreds of frames a second.
pub const DECIDER_CONSUMER: ConsumerSpec = ConsumerSpec {
    stream: "RESULTS",
    durable: "decider",
    filter_subject: "",
    ack_wait_secs: 30,
    max_deliver: 5,
    max_ack_pending: 1,
};

/// Every durable consumer, in pipeline order.
pub const CONSUMERS: [ConsumerSpec; 5] = [
    INGEST_CONSUMER,
    EMBEDDER_CONSUMER,
    CLUSTERER_CONSUMER,
    PUBLISHER_CONSUMER,
    DECIDER_CONSUMER,
];

/// Every durable consumer, in pipeline order.
pub fn all_consumers() -> Vec<ConsumerSpec> {
    CONSUMERS.to_vec()
}

/// Per-frame assembly progress ([`crate::FrameProgress`], key `<run>.<seq>`); only the
/// latest state matters, and a day outlives any frame in flight.
pub const PROGRESS_KV: KvSpec = KvSpec {
    bucket: "tessera_progress",
    history: 1,
    max_age_secs: DAY,
    description: "Per-frame assembly progress of the clusterer (key <run>.<seq>)",
};

/// The latest [`crate::FrameResult`] of each run (key `<run>`), kept as long as RESULTS.
pub const LATEST_KV: KvSpec = KvSpec {
    bucket: "tessera_latest",
    history: 1,
    max_age_secs: 30 * DAY,
    description: "Latest result of each run (key <run>)",
};

/// Run state ([`crate::RunRecord`], key `<run>`), with a few revisions to show its history;
/// kept 90 days.
pub const RUNS_KV: KvSpec = KvSpec {
    bucket: "tessera_runs",
    history: 5,
    max_age_secs: 90 * DAY,
    description: "Run state written by ingest (key <run>)",
};

/// Each run's community fractions frame by frame ([`crate::RunSeries`], key `<run>`), kept as
/// long as RESULTS.
pub const SERIES_KV: KvSpec = KvSpec {
    bucket: "tessera_series",
    history: 1,
    max_age_secs: 30 * DAY,
    description: "Per-run time series of community area fractions (key <run>)",
};

/// Each run's community tracks (the clusterer's matching state, opaque msgpack, key `<run>`),
/// so a restarted clusterer keeps the ids; kept as long as a run's frames can arrive.
pub const TRACKS_KV: KvSpec = KvSpec {
    bucket: "tessera_tracks",
    history: 1,
    max_age_secs: 7 * DAY,
    description: "Community tracks of each run, for stable ids across frames (key <run>)",
};

/// Named few-shot classifiers ([`crate::ClassifierRecord`], key: the name), with the last
/// [`crate::messages::classes::CLASSIFIER_HISTORY`] revisions of each: who edited it and when.
/// Kept until deleted.
pub const CLASSIFIERS_KV: KvSpec = KvSpec {
    bucket: "tessera_classifiers",
    history: crate::messages::classes::CLASSIFIER_HISTORY,
    max_age_secs: 0,
    description: "Named few-shot classifiers and their edit history (key <name>)",
};

/// Policies for the closed loop ([`crate::PolicyRecord`], key `run.<run>` or
/// `instrument.<instrument>`), with their edit history.
pub const POLICIES_KV: KvSpec = KvSpec {
    bucket: "tessera_policies",
    history: 16,
    max_age_secs: 0,
    description: "Closed-loop policies (key run.<run> or instrument.<instrument>)",
};

/// The decider's state per run (hysteresis counters, fraction history; opaque msgpack, key
/// `<run>`), so that a restarted decider carries on where it stopped.
pub const DECIDER_KV: KvSpec = KvSpec {
    bucket: "tessera_decider",
    history: 1,
    max_age_secs: 7 * DAY,
    description: "The decider's state per run (key <run>)",
};

/// Every KV bucket.
pub const KV_BUCKETS: [KvSpec; 8] = [
    PROGRESS_KV,
    LATEST_KV,
    RUNS_KV,
    SERIES_KV,
    TRACKS_KV,
    CLASSIFIERS_KV,
    POLICIES_KV,
    DECIDER_KV,
];

/// Every KV bucket.
pub fn all_kv_buckets() -> Vec<KvSpec> {
    KV_BUCKETS.to_vec()
}

/// Large raw frames from instruments and normalised frames from ingest, kept as long as ACQ.
pub const FRAMES_STORE: ObjectStoreSpec = ObjectStoreSpec {
    bucket: "tessera_frames",
    max_age_secs: 7 * DAY,
    description: "Raw frames too large to send inline, and normalised frames (<run>/<seq>.*)",
};

/// Overlays (PNG) and label maps (TIFF), kept as long as RESULTS.
pub const OUTPUTS_STORE: ObjectStoreSpec = ObjectStoreSpec {
    bucket: "tessera_outputs",
    max_age_secs: 30 * DAY,
    description: "Overlays and label maps of segmented frames (<run>/<seq>.*)",
};

/// The bodies of the named classifiers (`<name>/<digest>.msgpack`), one per saved revision;
/// kept until deleted.
pub const CLASSIFIERS_STORE: ObjectStoreSpec = ObjectStoreSpec {
    bucket: "tessera_classifiers",
    max_age_secs: 0,
    description: "Bodies of the named few-shot classifiers (<name>/<digest>.msgpack)",
};

/// Every object store.
pub const OBJECT_STORES: [ObjectStoreSpec; 3] = [FRAMES_STORE, OUTPUTS_STORE, CLASSIFIERS_STORE];

/// Every object store.
pub fn all_object_stores() -> Vec<ObjectStoreSpec> {
    OBJECT_STORES.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_holds_a_whole_message_of_any_other_stream() {
        for s in STREAMS.iter().filter(|s| s.name != DLQ.name) {
            assert!(DLQ.max_msg_size > s.max_msg_size, "{}", s.name);
        }
    }
}
