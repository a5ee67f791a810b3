//! Key-value records: [`RunRecord`] (bucket `tessera_runs`, key [`crate::keys::run_key`]) and
//! [`FrameProgress`] (bucket `tessera_progress`, key [`crate::keys::progress_key`]). They are
//! encoded like messages, with [`crate::encode`] and [`crate::decode`].

use serde::{Deserialize, Serialize};

use crate::{
    InstrumentId, Limits, MessageKind, ProtocolError, RunId, StopReason, WireParams,
    messages::impl_message,
    validate::{Check, MAX_NAME_LEN},
};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Started; frames may still arrive.
    Running,
    /// Stopped (see [`RunRecord::stop_reason`]); frames already accepted are still processed.
    Stopped,
}

/// A run as ingest knows it (written on start, each frame and stop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Record version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// What is imaged.
    #[serde(default)]
    pub sample: String,
    /// Imaging mode.
    #[serde(default)]
    pub modality: String,
    /// Running or stopped.
    pub state: RunState,
    /// Why it stopped, once it has.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// Start time, milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Stop time, once stopped.
    #[serde(default)]
    pub stopped_at_ms: Option<u64>,
    /// Frames the instrument says it published (from the run stop).
    #[serde(default)]
    pub frames_expected: Option<u64>,
    /// Frames ingest accepted so far.
    pub frames_accepted: u64,
    /// Frames ingest rejected so far.
    pub frames_rejected: u64,
    /// The run's parameters, resolved.
    pub params: WireParams,
    /// Last update, milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

impl RunRecord {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.text("sample", &self.sample, MAX_NAME_LEN, true)?;
        c.text("modality", &self.modality, 64, true)?;
        self.params.check_in(c, "params")
    }
}
impl_message!(RunRecord, MessageKind::RunRecord);

/// Where one frame's assembly stands in the clusterer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressState {
    /// Embedding batches are arriving.
    Assembling,
    /// Segmented and published; later copies of its batches are acknowledged and dropped.
    Done,
}

/// One frame's assembly progress, so a restarted clusterer neither loses nor repeats it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameProgress {
    /// Record version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// Assembling or done.
    pub state: ProgressState,
    /// Batches of the frame.
    pub batches: u32,
    /// Distinct batches received so far.
    pub received: u32,
    /// Last update, milliseconds since the Unix epoch.
    pub updated_at_ms: u64,
}

impl FrameProgress {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        if self.received > self.batches {
            return Err(c.fail(
                "received",
                format!(
                    "is {}, more than the frame's {} batches",
                    self.received, self.batches
                ),
            ));
        }
        Ok(())
    }
}
impl_message!(FrameProgress, MessageKind::FrameProgress);
