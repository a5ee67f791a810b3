//! Runs and their frames as the dashboard shows them: run records from KV `tessera_runs`
//! with their progress from KV `tessera_series` and their rejects from REJECTS
//! ([`crate::rejects`]), what state each is in ([`Phase`]), and a run's results read back
//! from the RESULTS stream.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tessera_bus::Bus;
use tessera_protocol::{
    FrameResult, Limits, ProtocolError, RunId, RunRecord, RunSeries, RunState, StopReason, decode,
    keys,
    streams::{LATEST_KV, RESULTS, RUNS_KV, SERIES_KV},
    subjects,
};

use crate::error::ApiError;
use crate::rejects::{RejectIndex, RunReject};

/// Most runs the runs list shows (the most recently started).
const MAX_LISTED_RUNS: usize = 500;
/// Frames whose look is remembered; the map is cleared when it grows past this.
const MAX_REMEMBERED_FRAMES: usize = 1 << 20;

/// A run as the runs list and the run page show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunSummary {
    /// What ingest recorded: instrument, sample, state, frame counts, parameters.
    #[serde(flatten)]
    pub record: RunRecord,
    /// Frames segmented so far (the points of the run's series).
    pub frames_segmented: u64,
    /// The newest segmented frame.
    pub latest_seq: Option<u64>,
    /// Frames refused by any service: ingest's count, or the distinct frames among the
    /// run's rejects on REJECTS when those are more (a frame given up on after ingest).
    pub rejected: u64,
    /// Where the run stands, as the page labels it.
    pub phase: Phase,
    /// The run's rejects, oldest first (only for one run, not in the runs list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects: Option<Vec<RunReject>>,
    /// Why the rejects could not be read, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_problem: Option<String>,
}

/// Where a run stands, as the dashboard labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Phase {
    /// Started and not stopped: frames may still arrive.
    Live,
    /// Stopped as planned, every frame accepted.
    Finished,
    /// Stopped as planned, but some frames were refused.
    FinishedWithRejects,
    /// Stopped early by someone.
    Aborted,
    /// The acquisition failed.
    Failed,
}

impl Phase {
    /// The phase of a run recorded as `record`, with `rejected` frames refused.
    pub(crate) fn of(record: &RunRecord, rejected: u64) -> Phase {
        match (record.state, record.stop_reason) {
            (RunState::Running, _) => Phase::Live,
            (RunState::Stopped, Some(StopReason::Fail)) => Phase::Failed,
            (RunState::Stopped, Some(StopReason::Abort)) => Phase::Aborted,
            (RunState::Stopped, _) if rejected > 0 => Phase::FinishedWithRejects,
            (RunState::Stopped, _) => Phase::Finished,
        }
    }
}

/// Decoder limits for results: a result holds no pixels, so no frame-size limit applies.
pub(crate) fn result_limits() -> Limits {
    Limits {
        max_frame_pixels: u64::MAX,
        ..Limits::default()
    }
}

/// Decodes and validates a stored or published [`FrameResult`].
pub(crate) fn decode_result(bytes: &[u8]) -> Result<FrameResult, ProtocolError> {
    decode::<FrameResult>(bytes, &result_limits())
}

/// The run `run` with its rejects listed, or `None` when ingest never recorded it.
pub(crate) async fn read_run(
    bus: &Bus,
    run: &RunId,
    rejects: &RejectIndex,
) -> Result<Option<RunSummary>, ApiError> {
    let summary = summarize(bus, run, rejects).await?;
    Ok(summary.map(|s| RunSummary {
        rejects: Some(rejects.of(run)),
        ..s
    }))
}

/// The run `run` without its list of rejects, or `None` when ingest never recorded it.
async fn summarize(
    bus: &Bus,
    run: &RunId,
    rejects: &RejectIndex,
) -> Result<Option<RunSummary>, ApiError> {
    let limits = result_limits();
    let Some((bytes, _)) = bus.kv_get(RUNS_KV.bucket, &keys::run_key(run)).await? else {
        return Ok(None);
    };
    let record: RunRecord = decode(&bytes, &limits)?;
    let series = match bus.kv_get(SERIES_KV.bucket, &keys::series_key(run)).await? {
        Some((bytes, _)) => Some(decode::<RunSeries>(&bytes, &limits)?),
        None => None,
    };
    let rejected = record.frames_rejected.max(rejects.frames_rejected(run));
    Ok(Some(RunSummary {
        phase: Phase::of(&record, rejected),
        record,
        frames_segmented: series
            .as_ref()
            .map_or(0, |s| s.points.len() as u64 + s.dropped),
        latest_seq: series.and_then(|s| s.points.last().map(|p| p.seq)),
        rejected,
        rejects: None,
        rejects_problem: rejects.problem.clone(),
    }))
}

/// The run's newest result (KV `tessera_latest`), if it has one.
pub(crate) async fn read_latest(bus: &Bus, run: &RunId) -> Result<Option<FrameResult>, ApiError> {
    match bus.kv_get(LATEST_KV.bucket, &keys::latest_key(run)).await? {
        Some((bytes, _)) => Ok(Some(decode_result(&bytes)?)),
        None => Ok(None),
    }
}

/// Every recorded run, most recently started first, at most [`MAX_LISTED_RUNS`]. A record
/// that cannot be read is logged and left out rather than hiding the others.
pub(crate) async fn list_runs(
    bus: &Bus,
    rejects: &RejectIndex,
) -> Result<Vec<RunSummary>, ApiError> {
    let mut runs = Vec::new();
    for key in bus.kv_keys(RUNS_KV.bucket).await? {
        let Ok(run) = RunId::parse(&key) else {
            tracing::warn!(key, "a key of KV tessera_runs is not a run id; skipped");
            continue;
        };
        match summarize(bus, &run, rejects).await {
            Ok(Some(summary)) => runs.push(summary),
            Ok(None) => {}
            Err(e) => tracing::warn!(run = %run, error = %e, "run record unreadable; skipped"),
        }
    }
    runs.sort_by(|a, b| {
        b.record
            .started_at_ms
            .cmp(&a.record.started_at_ms)
            .then_with(|| a.record.run.as_str().cmp(b.record.run.as_str()))
    });
    runs.truncate(MAX_LISTED_RUNS);
    Ok(runs)
}

/// The run's results so far, in stream order, at most `max` (the oldest). A result that
/// cannot be decoded is logged and left out.
pub(crate) async fn read_frames(
    bus: &Bus,
    run: &RunId,
    max: usize,
) -> Result<Vec<FrameResult>, ApiError> {
    let stored = bus
        .replay(RESULTS.name, &subjects::results_run_filter(run), max)
        .await?;
    Ok(stored
        .into_iter()
        .filter_map(|m| match decode_result(&m.payload) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(subject = %m.subject, seq = m.stream_seq, error = %e,
                    "a stored result cannot be decoded; skipped");
                None
            }
        })
        .collect())
}

/// What the dashboard remembers of each frame it has seen a result for: its size (its
/// 8-bit preview is stored without one) and its communities' colours, so that its images
/// can be made without reading the run back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FrameLook {
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// Each community's id and colour.
    pub colors: Vec<(u32, [u8; 3])>,
    /// Each class's index and colour, when the frame was classified.
    pub class_colors: Vec<(u32, [u8; 3])>,
}

/// Each class's index and colour, of classes applied to a frame.
fn class_colors(classes: Option<&tessera_protocol::FrameClasses>) -> Vec<(u32, [u8; 3])> {
    (classes.iter())
        .flat_map(|k| k.classes.iter().enumerate())
        .filter_map(|(i, c)| Some((i as u32, tessera_imaging::parse_color_hex(&c.color)?)))
        .collect()
}

/// [`FrameLook`]s of the frames seen, by run and frame.
#[derive(Debug, Default)]
pub(crate) struct FrameLooks(Mutex<HashMap<(RunId, u64), FrameLook>>);

impl FrameLooks {
    /// Remembers how `r`'s frame looks.
    pub(crate) fn remember(&self, r: &FrameResult) {
        let look = FrameLook {
            size: (r.width, r.height),
            colors: r
                .communities
                .iter()
                .filter_map(|c| Some((c.id, tessera_imaging::parse_color_hex(&c.color)?)))
                .collect(),
            class_colors: class_colors(r.applied_classes()),
        };
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_REMEMBERED_FRAMES {
                map.clear();
            }
            map.insert((r.run.clone(), r.seq), look);
        }
    }

    /// The class colours of frame `seq` of `run`, classified after its result was seen.
    pub(crate) fn remember_classes(
        &self,
        run: &RunId,
        seq: u64,
        classes: &tessera_protocol::FrameClasses,
    ) {
        if let Ok(mut map) = self.0.lock()
            && let Some(look) = map.get_mut(&(run.clone(), seq))
        {
            look.class_colors = class_colors(Some(classes));
        }
    }

    /// How frame `seq` of `run` looks, if a result for it was seen.
    pub(crate) fn get(&self, run: &RunId, seq: u64) -> Option<FrameLook> {
        self.0.lock().ok()?.get(&(run.clone(), seq)).cloned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tessera_protocol::{InstrumentId, PROTOCOL_VERSION, WireParams};

    use super::*;

    fn record(state: RunState, stop_reason: Option<StopReason>) -> RunRecord {
        RunRecord {
            version: PROTOCOL_VERSION,
            run: RunId::new("r").unwrap(),
            instrument: InstrumentId::new("tem-1").unwrap(),
            sample: String::new(),
            modality: String::new(),
            state,
            stop_reason,
            started_at_ms: 1,
            stopped_at_ms: None,
            frames_expected: None,
            frames_accepted: 3,
            frames_rejected: 0,
            params: WireParams::default(),
            updated_at_ms: 1,
        }
    }

    #[test]
    fn each_way_a_run_ends_has_its_own_phase() {
        use {Phase::*, RunState::*, StopReason::*};
        let cases = [
            (Running, None, 0, Live),
            (Running, None, 2, Live),
            (Stopped, Some(Success), 0, Finished),
            (Stopped, None, 0, Finished),
            (Stopped, Some(Success), 2, FinishedWithRejects),
            (Stopped, Some(Abort), 2, Aborted),
            (Stopped, Some(Fail), 0, Failed),
            (Stopped, Some(Fail), 2, Failed),
        ];
        for (state, reason, rejected, phase) in cases {
            assert_eq!(
                Phase::of(&record(state, reason), rejected),
                phase,
                "{state:?} {reason:?} with {rejected} rejected"
            );
        }
        let json = serde_json::to_string(&FinishedWithRejects).unwrap();
        assert_eq!(json, "\"finished_with_rejects\"");
    }
}
