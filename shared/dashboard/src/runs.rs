//! Runs and their frames as the dashboard shows them: run records from KV `tessera_runs`
//! with their progress from KV `tessera_series`, and a run's results read back from the
//! RESULTS stream.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tessera_bus::Bus;
use tessera_protocol::{
    FrameResult, Limits, ProtocolError, RunId, RunRecord, RunSeries, decode, keys,
    streams::{RESULTS, RUNS_KV, SERIES_KV},
    subjects,
};

use crate::error::ApiError;

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

/// The run `run`, or `None` when ingest never recorded it.
pub(crate) async fn read_run(bus: &Bus, run: &RunId) -> Result<Option<RunSummary>, ApiError> {
    let limits = result_limits();
    let Some((bytes, _)) = bus.kv_get(RUNS_KV.bucket, &keys::run_key(run)).await? else {
        return Ok(None);
    };
    let record: RunRecord = decode(&bytes, &limits)?;
    let series = match bus.kv_get(SERIES_KV.bucket, &keys::series_key(run)).await? {
        Some((bytes, _)) => Some(decode::<RunSeries>(&bytes, &limits)?),
        None => None,
    };
    Ok(Some(RunSummary {
        record,
        frames_segmented: series
            .as_ref()
            .map_or(0, |s| s.points.len() as u64 + s.dropped),
        latest_seq: series.and_then(|s| s.points.last().map(|p| p.seq)),
    }))
}

/// Every recorded run, most recently started first, at most [`MAX_LISTED_RUNS`]. A record
/// that cannot be read is logged and left out rather than hiding the others.
pub(crate) async fn list_runs(bus: &Bus) -> Result<Vec<RunSummary>, ApiError> {
    let mut runs = Vec::new();
    for key in bus.kv_keys(RUNS_KV.bucket).await? {
        let Ok(run) = RunId::parse(&key) else {
            tracing::warn!(key, "a key of KV tessera_runs is not a run id; skipped");
            continue;
        };
        match read_run(bus, &run).await {
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
                .filter_map(|c| Some((c.id, crate::layer::parse_hex(&c.color)?)))
                .collect(),
        };
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_REMEMBERED_FRAMES {
                map.clear();
            }
            map.insert((r.run.clone(), r.seq), look);
        }
    }

    /// How frame `seq` of `run` looks, if a result for it was seen.
    pub(crate) fn get(&self, run: &RunId, seq: u64) -> Option<FrameLook> {
        self.0.lock().ok()?.get(&(run.clone(), seq)).cloned()
    }
}
