//! [`InstrumentError`], the one error type of this crate.

use std::path::PathBuf;

use tessera_bus::BusError;
use tessera_protocol::ProtocolError;
use tessera_synth::SynthError;

/// Everything that can keep an instrument from publishing or a watcher from reading.
///
/// Each message names the run, frame, file or subject, and the way out.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    /// NATS refused or did not answer (see [`BusError::is_transient`]).
    #[error("{context}: {source}")]
    Bus {
        /// What was being published or stored, e.g. "frame run-1/3".
        context: String,
        /// The bus's error, which names the subject or bucket.
        source: BusError,
    },
    /// A message is invalid or could not be encoded; nothing was published.
    #[error("{context}: {source}")]
    Protocol {
        /// Which message, e.g. "frame run-1/3".
        context: String,
        /// What is wrong with it.
        source: ProtocolError,
    },
    /// A result arrived that this build cannot decode; the watch goes on.
    #[error("undecodable result on {subject}: {source}")]
    Result {
        /// The subject it came on.
        subject: String,
        /// Why it could not be decoded.
        source: ProtocolError,
    },
    /// A frame file could not be read.
    #[error("reading frame file {path}: {source}; check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A frame file is not in a format `tessera_formats` reads, or is damaged.
    #[error("reading {path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The reader's error, which says what to do.
        source: tessera_formats::FormatError,
    },
    /// A synthetic frame could not be generated.
    #[error("synthetic dose series: {source}")]
    Synth {
        /// The generator's error.
        #[from]
        source: SynthError,
    },
    /// An argument is out of range; the message says which and what is allowed.
    #[error("{0}")]
    Invalid(String),
}

impl InstrumentError {
    /// Whether publishing again later may succeed (a NATS outage or timeout).
    pub fn is_transient(&self) -> bool {
        matches!(self, InstrumentError::Bus { source, .. } if source.is_transient())
    }
}
