//! The wire contract of Tessera's live pipeline: versioned msgpack messages, subject names,
//! and the JetStream streams, consumers, key-value buckets and object stores they travel on.
//! Nothing here does I/O, nothing is async and nothing panics on any input; the bus adapter
//! turns these definitions into NATS calls, and the services convert between these wire
//! types and the domain types (`tessera_segment::SegmentParams` and friends).
//!
//! The instrument side follows Bluesky's documents: a [`RunStart`], [`Frame`]s, a
//! [`RunStop`]. Each subject carries exactly one message kind ([`Route::kind`]; the table is
//! in [`subjects`]), so there is no envelope. Messages are named-field msgpack
//! ([`encode`] = `rmp_serde::to_vec_named`): unknown fields are ignored on decode, so a field
//! can be added without breaking older consumers. Every message has `version`
//! ([`PROTOCOL_VERSION`]); [`decode`] refuses versions it does not understand with an error
//! that says which side to upgrade.
//!
//! ```
//! use tessera_protocol::*;
//! let run = RunId::new("run-1")?;
//! let stop = RunStop { version: PROTOCOL_VERSION, run, reason: StopReason::Success,
//!                      frames: 12, message: String::new() };
//! let bytes = encode_message(&stop, &Limits::default())?;
//! assert_eq!(decode::<RunStop>(&bytes, &Limits::default())?, stop);
//! # Ok::<(), ProtocolError>(())
//! ```
//!
//! # Layout
//! - `error.rs`: [`ProtocolError`], the one error type.
//! - `ids.rs`: [`RunId`], [`InstrumentId`], [`FrameId`].
//! - `validate.rs`: [`check_token`] and the field checks the messages share.
//! - `limits.rs`: [`Limits`], the sizes a decoder accepts.
//! - [`messages`]: one module per hop — `run.rs` ([`RunStart`], [`RunStop`]), `frame.rs`
//!   ([`Frame`], [`Pixels`], [`ObjectRef`]), `params.rs` ([`WireParams`]), `work.rs`
//!   ([`ChipBatch`], [`EmbeddingBatch`]), `segmented.rs` ([`Segmented`]), `result.rs`
//!   ([`FrameResult`]), `ops.rs` ([`Reject`], [`DeadLetter`], [`ServiceStatus`]), `state.rs`
//!   (KV records [`RunRecord`], [`FrameProgress`], [`RunSeries`]).
//! - `messages/classes.rs` ([`FrameClasses`], [`ClassifierRecord`]): few-shot classes and the
//!   classifiers' KV records.
//! - `messages/decision.rs` ([`Decision`], [`DecisionAck`], [`PolicyRecord`]): the closed
//!   loop, decider → instrument and back.
//! - `codec.rs`: [`encode`], [`encode_message`], [`decode`], [`decode_acq`].
//! - `le.rs`: raw little-endian buffers to and from `f32`/`u32`.
//! - [`subjects`]: subject patterns, builders, [`Route`] (the parser) and wildcard matching.
//! - [`keys`]: headers, `Nats-Msg-Id` values, KV keys and object names.
//! - [`streams`]: streams, consumers, KV buckets and object stores, as plain data.
//! - [`sites`]: which of them an edge site and its hub hold, and what each copies from the other.

mod codec;
mod error;
mod ids;
pub mod keys;
mod le;
mod limits;
pub mod messages;
pub mod sites;
pub mod streams;
pub mod subjects;
mod validate;

pub use codec::{
    AcqMessage, check_version, decode, decode_acq, decode_unvalidated, encode, encode_message,
    peek_version,
};
pub use error::ProtocolError;
pub use ids::{FrameId, InstrumentId, RunId};
pub use le::{f32s_to_le_bytes, le_bytes_to_f32s, le_bytes_to_u32s, u32s_to_le_bytes};
pub use limits::{
    DEFAULT_INLINE_MAX_BYTES, DEFAULT_MAX_FRAME_PIXELS, DEFAULT_MAX_PAYLOAD_BYTES, Limits,
};
pub use messages::{
    MIN_SUPPORTED_VERSION, Message, MessageKind, PROTOCOL_VERSION,
    classes::{
        ClassName, ClassWire, ClassifierRecord, ClassifyReply, ClassifyRequest, FrameClasses,
    },
    decision::{
        Action, Decision, DecisionAck, Fired, MAX_POLICY_BYTES, PolicyRecord, Roi, RoiGoal,
        check_roi_on_frame,
    },
    frame::{Dtype, Frame, ObjectRef, Pixels, samples_to_f32},
    ops::{DeadLetter, Reject, ServiceStatus},
    params::{AlgorithmWire, GraphWire, Preset, SplitWire, WireParams},
    result::{ChipMap, FrameResult},
    run::{RunStart, RunStop, StopReason},
    segmented::{CommunityWire, Segmented},
    state::{FrameProgress, ProgressState, RunRecord, RunSeries, RunState, SeriesPoint},
    work::{ChipBatch, EmbeddingBatch, FrameMeta, GridWire},
};
pub use subjects::{Route, Service, patterns_overlap, subject_matches};
pub use validate::{
    MAX_MAP_ENTRIES, MAX_NAME_LEN, MAX_TEXT_LEN, MAX_TOKEN_LEN, check_token, is_valid_token,
};
