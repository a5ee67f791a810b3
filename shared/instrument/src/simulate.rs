//! [`simulate`]: a whole run — start, every frame of a [`FrameSource`] at a set rate, stop.

use std::time::Duration;

use tessera_protocol::{PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason};
use tokio::time::Instant;

use crate::{FrameSource, Instrument, InstrumentError, Published, frame::now_ms};

/// What a simulated run published.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSummary {
    /// The run.
    pub run: RunId,
    /// Frames published (duplicates included).
    pub frames: u64,
    /// Frames the stream already had (same run and seq within its duplicate window).
    pub duplicates: u64,
    /// Raw sample bytes published.
    pub bytes: u64,
    /// Frames whose samples went through the object store.
    pub via_object_store: u64,
    /// From before the run start to after the run stop.
    pub elapsed: Duration,
}

impl SimulationSummary {
    /// Frames per second over the whole run.
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Publishes `start`, then frame `i` of `source` as seq `i` at `rate_hz` frames per second
/// (0: as fast as possible), then a [`RunStop`] (success) with the frame count. Frame `i` is
/// due `i / rate_hz` seconds after the first, by the clock, so slow frames do not add up to
/// drift; a late frame goes at once. Frames are prepared on the calling task, in turn with
/// publishing (a synthetic 1024² frame takes about 40 ms, publishing it about 10 ms), so
/// the rate a source can reach is bounded by both. Each frame is stamped when it is
/// published, and `on_frame(i, &published)` is called after its ack.
///
/// If a frame fails, the run is stopped with [`StopReason::Fail`] and the error's text, and
/// the error is returned.
pub async fn simulate(
    instrument: &Instrument,
    start: RunStart,
    source: &FrameSource,
    rate_hz: f64,
    mut on_frame: impl FnMut(u64, &Published),
) -> Result<SimulationSummary, InstrumentError> {
    if !(rate_hz.is_finite() && rate_hz >= 0.0) {
        return Err(InstrumentError::Invalid(format!(
            "frame rate {rate_hz} Hz is invalid; give a rate ≥ 0 (0: as fast as possible)"
        )));
    }
    let t0 = Instant::now();
    let run = start.run.clone();
    instrument.start_run(&start).await?;
    tracing::info!(run = %run, frames = source.len(), source = %source.describe(), "run started");
    let mut summary = SimulationSummary {
        run: run.clone(),
        frames: 0,
        duplicates: 0,
        bytes: 0,
        via_object_store: 0,
        elapsed: Duration::ZERO,
    };
    let first = Instant::now();
    for index in 0..source.len() {
        if rate_hz > 0.0 {
            // Out of range only for absurd rates and indices; then there is no waiting.
            if let Ok(due) = Duration::try_from_secs_f64(index as f64 / rate_hz) {
                tokio::time::sleep_until(first + due).await;
            }
        }
        match publish_one(instrument, &run, source, index).await {
            Ok(published) => {
                summary.frames += 1;
                summary.duplicates += u64::from(published.ack.duplicate);
                summary.bytes += published.bytes;
                summary.via_object_store += u64::from(published.via_object_store);
                on_frame(index, &published);
            }
            Err(e) => {
                fail_run(instrument, &run, summary.frames, &e).await;
                return Err(e);
            }
        }
    }
    let stop = RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason: StopReason::Success,
        frames: summary.frames,
        message: String::new(),
    };
    instrument.stop_run(&stop).await?;
    summary.elapsed = t0.elapsed();
    tracing::info!(run = %run, frames = summary.frames, elapsed_ms = summary.elapsed.as_millis() as u64, "run stopped");
    Ok(summary)
}

async fn publish_one(
    instrument: &Instrument,
    run: &RunId,
    source: &FrameSource,
    index: u64,
) -> Result<Published, InstrumentError> {
    let mut frame = source.frame(index)?;
    frame.timestamp_ms = now_ms();
    let published = instrument.publish_frame(run, index, &frame).await?;
    tracing::debug!(run = %run, seq = index, name = %source.name(index), bytes = published.bytes,
        object = published.via_object_store, duplicate = published.ack.duplicate, "frame published");
    Ok(published)
}

/// Stops `run` as failed; a failure to do so is logged, the frame's error is what matters.
async fn fail_run(instrument: &Instrument, run: &RunId, frames: u64, error: &InstrumentError) {
    let mut message = error.to_string();
    if message.len() > 4000 {
        let mut end = 4000;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    let stop = RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason: StopReason::Fail,
        frames,
        message,
    };
    if let Err(e) = instrument.stop_run(&stop).await {
        tracing::warn!(run = %run, error = %e, "could not publish the failed run's stop");
    }
}
