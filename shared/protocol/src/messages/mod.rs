//! The messages, one module per hop, and the [`Message`] trait that the codec works through.
//!
//! Rules for changing a message without breaking older consumers (named-field msgpack):
//! add fields only with `#[serde(default)]`; never rename or retype a field; bump
//! [`PROTOCOL_VERSION`] only for a change older services cannot read.

use std::fmt;

use crate::{Limits, ProtocolError};

pub mod classes;
pub mod decision;
pub mod frame;
pub mod ops;
pub mod params;
pub mod result;
pub mod run;
pub mod segmented;
pub mod state;
pub mod work;

/// The message version this build writes and the newest it reads.
pub const PROTOCOL_VERSION: u16 = 1;

/// The oldest message version this build still reads.
pub const MIN_SUPPORTED_VERSION: u16 = 1;

/// Which message a payload holds; each subject carries exactly one kind (see
/// [`crate::Route::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// [`crate::RunStart`].
    RunStart,
    /// [`crate::Frame`].
    Frame,
    /// [`crate::RunStop`].
    RunStop,
    /// [`crate::ChipBatch`].
    ChipBatch,
    /// [`crate::EmbeddingBatch`].
    EmbeddingBatch,
    /// [`crate::Segmented`].
    Segmented,
    /// [`crate::FrameResult`].
    FrameResult,
    /// [`crate::Reject`].
    Reject,
    /// [`crate::DeadLetter`].
    DeadLetter,
    /// [`crate::ServiceStatus`].
    ServiceStatus,
    /// [`crate::RunRecord`] (KV value).
    RunRecord,
    /// [`crate::FrameProgress`] (KV value).
    FrameProgress,
    /// [`crate::RunSeries`] (KV value).
    RunSeries,
    /// [`crate::ClassifierRecord`] (KV value).
    ClassifierRecord,
    /// [`crate::ClassifyRequest`].
    ClassifyRequest,
    /// [`crate::ClassifyReply`].
    ClassifyReply,
    /// [`crate::Decision`].
    Decision,
    /// [`crate::DecisionAck`].
    DecisionAck,
    /// [`crate::PolicyRecord`] (KV value).
    PolicyRecord,
}

impl MessageKind {
    /// A short lower-case name for logs and errors ("run start").
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::RunStart => "run start",
            MessageKind::Frame => "frame",
            MessageKind::RunStop => "run stop",
            MessageKind::ChipBatch => "chip batch",
            MessageKind::EmbeddingBatch => "embedding batch",
            MessageKind::Segmented => "segmented frame",
            MessageKind::FrameResult => "frame result",
            MessageKind::Reject => "reject",
            MessageKind::DeadLetter => "dead letter",
            MessageKind::ServiceStatus => "service status",
            MessageKind::RunRecord => "run record",
            MessageKind::FrameProgress => "frame progress",
            MessageKind::RunSeries => "run series",
            MessageKind::ClassifierRecord => "classifier record",
            MessageKind::ClassifyRequest => "classify request",
            MessageKind::ClassifyReply => "classify reply",
            MessageKind::Decision => "decision",
            MessageKind::DecisionAck => "decision acknowledgement",
            MessageKind::PolicyRecord => "policy record",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol message: serde both ways, a version and a validation.
pub trait Message: serde::Serialize + serde::de::DeserializeOwned {
    /// Which message this is.
    const KIND: MessageKind;

    /// The message's `version` field.
    fn version(&self) -> u16;

    /// Checks ranges and consistency (the version is checked by the codec). Never panics.
    fn validate(&self, limits: &Limits) -> Result<(), ProtocolError>;
}

/// Implements [`Message`] for a type with a `version` field and an inherent
/// `fn check(&self, &Limits, Check) -> Result<(), ProtocolError>`.
macro_rules! impl_message {
    ($ty:ty, $kind:expr) => {
        impl $crate::Message for $ty {
            const KIND: $crate::MessageKind = $kind;

            fn version(&self) -> u16 {
                self.version
            }

            fn validate(&self, limits: &$crate::Limits) -> Result<(), $crate::ProtocolError> {
                self.check(limits, $crate::validate::Check::new($kind))
            }
        }
    };
}
pub(crate) use impl_message;
