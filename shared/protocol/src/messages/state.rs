//! Key-value records: [`RunRecord`] (bucket `tessera_runs`, key [`crate::keys::run_key`]),
//! [`FrameProgress`] (bucket `tessera_progress`, key [`crate::keys::progress_key`]) and
//! [`RunSeries`] (bucket `tessera_series`, key [`crate::keys::series_key`]). They are encoded
//! like messages, with [`crate::encode`] and [`crate::decode`].

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

/// One frame's point in a run's time series: when, at what dose, and how much of the frame
/// each community covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The frame's sequence number.
    pub seq: u64,
    /// Acquisition time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The frame's dose, if the instrument sent one.
    #[serde(default)]
    pub dose: Option<f64>,
    /// `(community id, area fraction)` for every community of the frame; ids are the run's
    /// stable ids, so a column of the series follows one phase.
    pub fractions: Vec<(u32, f64)>,
    /// `(class name, area fraction)` for every class of the run's classifier, by name so that
    /// a column keeps its class when the classifier is edited; empty without one.
    #[serde(default)]
    pub classes: Vec<(String, f64)>,
    /// The fraction of the frame no class claimed, with a classifier.
    #[serde(default)]
    pub unknown: Option<f64>,
}

/// A run's community fractions frame by frame (e.g. the disordered fraction against dose),
/// kept by the publisher in sequence order. Bounded: the oldest points go first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSeries {
    /// Record version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// Points in ascending `seq`, one per frame.
    pub points: Vec<SeriesPoint>,
    /// Points dropped to respect the bound.
    #[serde(default)]
    pub dropped: u64,
}

impl RunSeries {
    /// An empty series.
    pub fn new(run: RunId) -> Self {
        RunSeries {
            version: crate::PROTOCOL_VERSION,
            run,
            points: Vec::new(),
            dropped: 0,
        }
    }

    /// Adds (or replaces) the point of `point.seq`, keeping `seq` order and at most `max`
    /// points.
    pub fn upsert(&mut self, point: SeriesPoint, max: usize) {
        match self.points.binary_search_by_key(&point.seq, |p| p.seq) {
            Ok(i) => self.points[i] = point,
            Err(i) => self.points.insert(i, point),
        }
        let excess = self.points.len().saturating_sub(max.max(1));
        if excess > 0 {
            self.points.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        if self.points.windows(2).any(|w| w[0].seq >= w[1].seq) {
            return Err(c.fail("points", "are not in strictly ascending seq order"));
        }
        for (i, p) in self.points.iter().enumerate() {
            for (id, f) in &p.fractions {
                c.within(&format!("points[{i}].fractions[{id}]"), *f, 0.0, 1.0)?;
            }
            for (name, f) in &p.classes {
                c.within(&format!("points[{i}].classes[{name:?}]"), *f, 0.0, 1.0)?;
            }
        }
        Ok(())
    }
}
impl_message!(RunSeries, MessageKind::RunSeries);

#[cfg(test)]
mod tests {
    use super::*;

    fn point(seq: u64) -> SeriesPoint {
        SeriesPoint {
            seq,
            timestamp_ms: seq * 10,
            dose: Some(seq as f64),
            fractions: vec![(0, 0.5), (1, 0.5)],
            classes: vec![("oxide".into(), 0.25)],
            unknown: Some(0.0),
        }
    }

    #[test]
    fn series_stays_ordered_unique_and_bounded() {
        let mut s = RunSeries::new(RunId::new("r").unwrap());
        for seq in [3, 1, 2, 2, 5, 4] {
            s.upsert(point(seq), 4);
        }
        let seqs: Vec<u64> = s.points.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [2, 3, 4, 5]);
        assert_eq!(s.dropped, 1);
        let bytes = crate::encode_message(&s, &Limits::default()).unwrap();
        assert_eq!(
            crate::decode::<RunSeries>(&bytes, &Limits::default()).unwrap(),
            s
        );
    }
}
