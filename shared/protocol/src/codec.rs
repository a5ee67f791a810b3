//! Encoding and decoding: named-field msgpack (`rmp_serde::to_vec_named`), version checks
//! before the body is read, and validation after.
//!
//! [`decode`] refuses, in this order: an empty payload, one over
//! [`Limits::max_payload_bytes`], one that is not a msgpack map, a truncated one, a missing
//! `version`, a version outside [`MIN_SUPPORTED_VERSION`]`..=`[`PROTOCOL_VERSION`], a missing
//! field (named), a field of the wrong type, bytes after the message, and finally anything
//! [`Message::validate`] rejects. Unknown fields are ignored, so newer publishers can add
//! fields. Nothing here panics on any input.

use std::io::{Cursor, ErrorKind};

use serde::{
    Deserialize, Deserializer, Serialize,
    de::{IgnoredAny, MapAccess, Visitor},
};

use crate::{
    Frame, InstrumentId, Limits, MIN_SUPPORTED_VERSION, Message, MessageKind, PROTOCOL_VERSION,
    ProtocolError, Route, RunStart, RunStop,
};

/// Deepest nesting accepted; Tessera's messages nest four levels at most.
const MAX_DEPTH: usize = 32;

/// Encodes any serialisable value as named-field msgpack.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    rmp_serde::to_vec_named(value).map_err(|e| ProtocolError::Encode {
        what: std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("value")
            .to_owned(),
        detail: e.to_string(),
    })
}

/// Validates `message`, checks its version and encodes it; refuses a result over
/// [`Limits::max_payload_bytes`]. What publishers should call.
pub fn encode_message<T: Message>(message: &T, limits: &Limits) -> Result<Vec<u8>, ProtocolError> {
    check_version(T::KIND, message.version())?;
    message.validate(limits)?;
    let bytes = encode(message)?;
    if bytes.len() > limits.max_payload_bytes {
        return Err(ProtocolError::TooLarge {
            kind: T::KIND,
            size: bytes.len(),
            max: limits.max_payload_bytes,
        });
    }
    Ok(bytes)
}

/// Checks that this build reads `version` of `kind`.
pub fn check_version(kind: MessageKind, version: u16) -> Result<(), ProtocolError> {
    if version > PROTOCOL_VERSION {
        return Err(ProtocolError::VersionTooNew {
            kind,
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    if version < MIN_SUPPORTED_VERSION {
        return Err(ProtocolError::VersionTooOld {
            kind,
            found: version,
            oldest: MIN_SUPPORTED_VERSION,
        });
    }
    Ok(())
}

/// Reads only the `version` field of a `kind` payload (after the size and shape checks).
pub fn peek_version(
    kind: MessageKind,
    bytes: &[u8],
    limits: &Limits,
) -> Result<u16, ProtocolError> {
    if bytes.is_empty() {
        return Err(ProtocolError::Empty { kind });
    }
    if bytes.len() > limits.max_payload_bytes {
        return Err(ProtocolError::TooLarge {
            kind,
            size: bytes.len(),
            max: limits.max_payload_bytes,
        });
    }
    if !is_map_marker(bytes[0]) {
        return Err(ProtocolError::NotMsgpack {
            kind,
            detail: format!("it starts with byte 0x{:02x}, not a msgpack map", bytes[0]),
        });
    }
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_DEPTH);
    let probe = Probe::deserialize(&mut de).map_err(|e| classify(kind, bytes.len(), e))?;
    probe.0.ok_or_else(|| ProtocolError::MissingField {
        kind,
        field: "version".into(),
    })
}

/// Decodes and validates a `T`; see the module docs for what is refused.
pub fn decode<T: Message>(bytes: &[u8], limits: &Limits) -> Result<T, ProtocolError> {
    let message = decode_unvalidated::<T>(bytes, limits)?;
    message.validate(limits)?;
    Ok(message)
}

/// Decodes a `T` with every check of [`decode`] except [`Message::validate`].
pub fn decode_unvalidated<T: Message>(bytes: &[u8], limits: &Limits) -> Result<T, ProtocolError> {
    let kind = T::KIND;
    let version = peek_version(kind, bytes, limits)?;
    check_version(kind, version)?;
    let mut de = rmp_serde::Deserializer::new(Cursor::new(bytes));
    de.set_max_depth(MAX_DEPTH);
    let message: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        match classify(kind, bytes.len(), e.into_inner()) {
            ProtocolError::Malformed { kind, detail } if path != "." => ProtocolError::Malformed {
                kind,
                detail: format!("field `{path}`: {detail}"),
            },
            other => other,
        }
    })?;
    let used = usize::try_from(de.position()).unwrap_or(usize::MAX);
    if used < bytes.len() {
        return Err(ProtocolError::TrailingBytes {
            kind,
            extra: bytes.len() - used,
        });
    }
    Ok(message)
}

/// One message from the acquisition stream.
#[derive(Debug, Clone, PartialEq)]
pub enum AcqMessage {
    /// From `tessera.acq.<instrument>.start`.
    Start(RunStart),
    /// From `tessera.acq.<instrument>.frame`.
    Frame(Frame),
    /// From `tessera.acq.<instrument>.stop`.
    Stop(RunStop),
}

/// Decodes an acquisition-stream message by its subject; a run start must name the
/// subject's instrument. Returns the instrument from the subject with the message.
pub fn decode_acq(
    subject: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(InstrumentId, AcqMessage), ProtocolError> {
    match Route::parse(subject)? {
        Route::AcqStart(instrument) => {
            let start: RunStart = decode(bytes, limits)?;
            if start.instrument != instrument {
                return Err(ProtocolError::invalid(
                    MessageKind::RunStart,
                    "instrument",
                    format!(
                        "is {:?} but the message came on {subject:?}; publish on \
                         tessera.acq.{}.start",
                        start.instrument.as_str(),
                        start.instrument
                    ),
                ));
            }
            Ok((instrument, AcqMessage::Start(start)))
        }
        Route::AcqFrame(instrument) => Ok((instrument, AcqMessage::Frame(decode(bytes, limits)?))),
        Route::AcqStop(instrument) => Ok((instrument, AcqMessage::Stop(decode(bytes, limits)?))),
        other => Err(ProtocolError::Subject {
            subject: subject.to_owned(),
            reason: format!(
                "it carries {} messages, not acquisition messages (tessera.acq.<instrument>.\
                 start|frame|stop)",
                other.kind()
            ),
        }),
    }
}

fn is_map_marker(b: u8) -> bool {
    (0x80..=0x8f).contains(&b) || b == 0xde || b == 0xdf
}

/// Turns a decoder error into the error that says what to do.
fn classify(kind: MessageKind, size: usize, e: rmp_serde::decode::Error) -> ProtocolError {
    use rmp_serde::decode::Error as E;
    match e {
        E::InvalidMarkerRead(io) | E::InvalidDataRead(io)
            if io.kind() == ErrorKind::UnexpectedEof =>
        {
            ProtocolError::Truncated { kind, size }
        }
        E::Syntax(msg) => match missing_field(&msg) {
            Some(field) => ProtocolError::MissingField { kind, field },
            None => ProtocolError::Malformed { kind, detail: msg },
        },
        other => ProtocolError::Malformed {
            kind,
            detail: other.to_string(),
        },
    }
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

/// The `version` of a map, every other entry skipped.
struct Probe(Option<u16>);

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Probe, D::Error> {
        d.deserialize_map(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a msgpack map of named fields")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut version = None;
        while let Some(key) = map.next_key::<Key>()? {
            if key.0 {
                version = Some(map.next_value::<u16>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Probe(version))
    }
}

/// A map key: whether it is `"version"`.
struct Key(bool);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v == "version"))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Key, E> {
        Ok(Key(v == b"version"))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Key, E> {
        Ok(Key(false))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Key, E> {
        Ok(Key(false))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Dtype, Pixels, RunId};

    /// A frame whose `width` is the string "64": the reason names the field.
    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        #[derive(Serialize)]
        struct BadWidth<'a> {
            version: u16,
            run: &'a str,
            seq: u64,
            timestamp_ms: u64,
            width: &'a str,
            height: u32,
            dtype: Dtype,
            pixels: Pixels,
        }
        let bytes = encode(&BadWidth {
            version: PROTOCOL_VERSION,
            run: "r",
            seq: 0,
            timestamp_ms: 0,
            width: "64",
            height: 1,
            dtype: Dtype::U8,
            pixels: Pixels::Inline(vec![0; 64]),
        })
        .unwrap();
        let e = decode::<Frame>(&bytes, &Limits::default()).unwrap_err();
        assert!(matches!(e, ProtocolError::Malformed { .. }), "{e}");
        assert!(e.to_string().contains("field `width`"), "{e}");
        // A nested field is named by its path.
        let mut good = Frame {
            version: PROTOCOL_VERSION,
            run: RunId::new("r").unwrap(),
            seq: 0,
            timestamp_ms: 0,
            width: 1,
            height: 1,
            dtype: Dtype::U8,
            pixel_size_nm: None,
            dose: None,
            scalars: BTreeMap::new(),
            pixels: Pixels::Inline(vec![0]),
        };
        good.scalars.insert("x".into(), 1.0);
        let ok = encode(&good).unwrap();
        assert_eq!(decode::<Frame>(&ok, &Limits::default()).unwrap(), good);
    }
}
