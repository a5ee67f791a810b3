//! The run's bracket, after Bluesky's documents: [`RunStart`] before the frames, [`RunStop`]
//! after them. Both travel on `tessera.acq.<instrument>.start|stop`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    InstrumentId, Limits, MessageKind, ProtocolError, RunId, WireParams,
    messages::impl_message,
    validate::{Check, MAX_NAME_LEN, MAX_TEXT_LEN},
};

/// A run begins: who acquires what, and how to segment it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStart {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run; unique across instruments, never reused.
    pub run: RunId,
    /// The instrument; must match the subject's instrument token.
    pub instrument: InstrumentId,
    /// What is imaged (free text, up to 256 characters; may be empty).
    #[serde(default)]
    pub sample: String,
    /// Imaging mode, e.g. "HAADF-STEM", "SEM-SE" (1–64 characters).
    pub modality: String,
    /// Start time, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Segmentation parameters; unset fields take the service's defaults.
    #[serde(default)]
    pub params: WireParams,
    /// Anything else the instrument wants to keep with the run (at most 256 entries).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl RunStart {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.text("sample", &self.sample, MAX_NAME_LEN, true)?;
        c.text("modality", &self.modality, 64, false)?;
        self.params.check_in(c, "params")?;
        c.string_map("metadata", &self.metadata)
    }
}
impl_message!(RunStart, MessageKind::RunStart);

/// Why a run ended (Bluesky's exit status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The run finished as planned.
    Success,
    /// Someone stopped it early; frames so far are still processed.
    Abort,
    /// The acquisition failed.
    Fail,
}

/// A run ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStop {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// Why it ended.
    pub reason: StopReason,
    /// Frames the instrument published in the run, so consumers can tell when all arrived.
    pub frames: u64,
    /// A human-readable note (up to 4096 characters; may be empty).
    #[serde(default)]
    pub message: String,
}

impl RunStop {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.text("message", &self.message, MAX_TEXT_LEN, true)
    }
}
impl_message!(RunStop, MessageKind::RunStop);
