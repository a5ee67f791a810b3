//! Typed ids: [`RunId`], [`InstrumentId`] and [`FrameId`].
//!
//! Run and instrument ids become NATS subject tokens and KV key parts, so they are 1–64
//! characters of `[A-Za-z0-9_-]` (see [`crate::check_token`]). They travel as plain strings
//! and are checked again on decode, so an invalid id never gets past the codec.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{ProtocolError, validate::check_token};

macro_rules! token_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks `value` and wraps it; the error says which character or length is wrong.
            pub fn new(value: impl Into<String>) -> Result<$name, ProtocolError> {
                let value = value.into();
                check_token($what, &value)?;
                Ok($name(value))
            }

            /// Checks and copies `value`.
            pub fn parse(value: &str) -> Result<$name, ProtocolError> {
                $name::new(value)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ProtocolError;

            fn from_str(s: &str) -> Result<$name, ProtocolError> {
                $name::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ProtocolError;

            fn try_from(value: String) -> Result<$name, ProtocolError> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

token_id!(
    /// One acquisition run (Bluesky's run), unique across instruments: `tessera.work.<run>`.
    RunId,
    "run id"
);

token_id!(
    /// One instrument (microscope): `tessera.acq.<instrument>.frame`.
    InstrumentId,
    "instrument id"
);

/// One frame of a run: the run and the frame's sequence number within it.
///
/// Displays (and parses) as `<run>/<seq>`; travels as a map `{run, seq}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FrameId {
    /// The run.
    pub run: RunId,
    /// Sequence number within the run, from 0.
    pub seq: u64,
}

impl FrameId {
    /// The frame `seq` of `run`.
    pub fn new(run: RunId, seq: u64) -> FrameId {
        FrameId { run, seq }
    }
}

impl fmt::Display for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.run, self.seq)
    }
}

impl FromStr for FrameId {
    type Err = ProtocolError;

    /// Parses `<run>/<seq>`.
    fn from_str(s: &str) -> Result<FrameId, ProtocolError> {
        let bad = |reason: &str| ProtocolError::InvalidToken {
            what: "frame id",
            value: crate::error::shorten(s, 80),
            reason: format!("{reason}; write a frame id as <run>/<seq>, e.g. run-1/42"),
        };
        let (run, seq) = s.rsplit_once('/').ok_or_else(|| bad("it has no '/'"))?;
        let seq = seq
            .parse::<u64>()
            .map_err(|_| bad("the part after '/' is not a sequence number"))?;
        Ok(FrameId {
            run: RunId::new(run)?,
            seq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_display_and_serde() {
        let run = RunId::new("run-42_a").unwrap();
        assert_eq!(run.to_string(), "run-42_a");
        assert_eq!("run-42_a".parse::<RunId>().unwrap(), run);
        let bytes = rmp_serde::to_vec_named(&run).unwrap();
        assert_eq!(rmp_serde::from_slice::<String>(&bytes).unwrap(), "run-42_a");
        let bad = rmp_serde::to_vec_named("a.b").unwrap();
        let e = rmp_serde::from_slice::<RunId>(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("run id"), "{e}");
        assert!(InstrumentId::new("titan 1").is_err());
        assert!(InstrumentId::parse("titan-1").is_ok());
    }

    #[test]
    fn frame_ids() {
        let f = FrameId::new(RunId::new("r1").unwrap(), 7);
        assert_eq!(f.to_string(), "r1/7");
        assert_eq!("r1/7".parse::<FrameId>().unwrap(), f);
        for bad in ["r1", "r1/x", "/7", "a.b/7", "r1/-1"] {
            assert!(bad.parse::<FrameId>().is_err(), "{bad}");
        }
    }
}
