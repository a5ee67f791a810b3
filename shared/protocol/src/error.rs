//! [`ProtocolError`], the one error type of the crate.

use crate::MessageKind;

/// Everything that can be wrong with an id, a subject or a message.
///
/// Each message names the problem and the way out, so a service can put
/// `error.to_string()` straight into a [`crate::Reject`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// An id or subject token is not 1–64 characters of `[A-Za-z0-9_-]`.
    #[error(
        "invalid {what} {value:?}: {reason}; use 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-' \
         (ids become NATS subject tokens)"
    )]
    InvalidToken {
        /// What the token is ("run id", "instrument id", …).
        what: &'static str,
        /// The offending value, shortened to 80 characters.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A subject does not belong to the Tessera namespace or has the wrong shape.
    #[error("subject {subject:?} is not a Tessera subject: {reason}")]
    Subject {
        /// The subject, shortened to 200 characters.
        subject: String,
        /// What is wrong with it, and what was expected.
        reason: String,
    },
    /// The payload has no bytes at all.
    #[error("empty {kind} payload; publish a msgpack-encoded {kind} (rmp_serde::to_vec_named)")]
    Empty {
        /// The message kind expected.
        kind: MessageKind,
    },
    /// The payload is larger than the caller allows.
    #[error(
        "{kind} payload of {size} bytes exceeds the limit of {max} bytes; send large pixel data \
         through the object store (Pixels::Object) or raise the limit"
    )]
    TooLarge {
        /// The message kind expected.
        kind: MessageKind,
        /// Payload size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not a msgpack map (random bytes, JSON, another encoding).
    #[error(
        "{kind} payload is not a msgpack map ({detail}); encode messages with \
         rmp_serde::to_vec_named (or msgpack's packb of a dict)"
    )]
    NotMsgpack {
        /// The message kind expected.
        kind: MessageKind,
        /// What the decoder found.
        detail: String,
    },
    /// The payload ends in the middle of a value.
    #[error(
        "{kind} payload is truncated ({size} bytes); the publisher must send the whole message"
    )]
    Truncated {
        /// The message kind expected.
        kind: MessageKind,
        /// Payload size.
        size: usize,
    },
    /// Bytes follow the end of the message.
    #[error(
        "{kind} payload has {extra} bytes after the end of the message; publish exactly one \
         msgpack message per NATS message"
    )]
    TrailingBytes {
        /// The message kind expected.
        kind: MessageKind,
        /// Bytes left over.
        extra: usize,
    },
    /// The message is newer than this build of the protocol understands.
    #[error(
        "{kind} message version {found} is newer than this service understands ({supported}); \
         upgrade the service"
    )]
    VersionTooNew {
        /// The message kind.
        kind: MessageKind,
        /// Version in the message.
        found: u16,
        /// Newest version understood here.
        supported: u16,
    },
    /// The message is older than this build of the protocol still accepts.
    #[error(
        "{kind} message version {found} is older than the oldest this service supports \
         ({oldest}); upgrade the publisher"
    )]
    VersionTooOld {
        /// The message kind.
        kind: MessageKind,
        /// Version in the message.
        found: u16,
        /// Oldest version accepted here.
        oldest: u16,
    },
    /// A required field is absent.
    #[error(
        "{kind} message is missing the required field `{field}`; the publisher must set it \
         (is it sending another kind of message on this subject?)"
    )]
    MissingField {
        /// The message kind.
        kind: MessageKind,
        /// The field's name.
        field: String,
    },
    /// The message is msgpack but does not fit the message's shape (a field of the wrong type,
    /// an unknown enum value, an invalid id).
    #[error(
        "{kind} message is malformed: {detail}; check the field types against tessera-protocol"
    )]
    Malformed {
        /// The message kind.
        kind: MessageKind,
        /// What the decoder said.
        detail: String,
    },
    /// The message decoded but a value is out of range or inconsistent.
    #[error("invalid {kind}: `{field}` {reason}")]
    Invalid {
        /// The message kind.
        kind: MessageKind,
        /// The field at fault (dotted for nested fields).
        field: String,
        /// What is wrong, and what would be right.
        reason: String,
    },
    /// Raw little-endian bytes do not hold the number of values they should.
    #[error("{what}: {reason}")]
    Bytes {
        /// Which buffer.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Encoding failed (only possible for values serde cannot express in msgpack).
    #[error("cannot encode {what} as msgpack: {detail}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// The encoder's message.
        detail: String,
    },
}

impl ProtocolError {
    /// An [`ProtocolError::Invalid`] for `kind`.
    pub(crate) fn invalid(
        kind: MessageKind,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ProtocolError {
        ProtocolError::Invalid {
            kind,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// `s` cut to at most `max` characters, with an ellipsis when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}
