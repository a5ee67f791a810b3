//! [`simulate`]: a whole run — start, every frame of a [`FrameSource`] at a set rate, stop.
//! A file that cannot be read is reported and skipped; the rest of the run goes on.

use std::time::Duration;

use tessera_protocol::{PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason};
use tokio::time::Instant;

use crate::{FrameSource, Instrument, InstrumentError, Published, frame::now_ms};

/// What a simulated run published.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSummary {
    /// The run.
    pub run: RunId,
    /// Frames published (duplicates included), as seqs `0..frames`.
    pub frames: u64,
    /// Files that could not be read, in order; none of them was published.
    pub skipped: Vec<Skipped>,
    /// Frames the stream already had (same run and seq within its duplicate window).
    pub duplicates: u64,
    /// Raw sample bytes published.
    pub bytes: u64,
    /// Frames whose samples went through the object store.
    pub via_object_store: u64,
    /// From before the run start to after the run stop.
    pub elapsed: Duration,
}

/// A file of a [`FrameSource::Files`] run that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its place in the source (from 0).
    pub index: u64,
    /// The file, as given.
    pub name: String,
    /// The reader's error, which says what is wrong and what to do.
    pub reason: String,
}

/// What [`simulate`] reports as it goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Source entry `index` was published as frame `seq` and acknowledged by the stream.
    Published {
        /// Its place in the source.
        index: u64,
        /// The frame number it was published as.
        seq: u64,
        /// What was published.
        published: &'a Published,
    },
    /// Source entry `index` (a file) could not be read and was skipped.
    Skipped(&'a Skipped),
}

impl SimulationSummary {
    /// Frames per second over the whole run.
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Publishes `start`, then each frame of `source` at `rate_hz` frames per second (0: as fast
/// as possible), numbered from 0 as published, then a [`RunStop`] (success) with the frame
/// count. Entry `i` of the source is
/// due `i / rate_hz` seconds after the first, by the clock, so slow frames do not add up to
/// drift; a late frame goes at once. Frames are prepared on the calling task, in turn with
/// publishing (a synthetic 1024² frame takes about 40 ms, publishing it about 10 ms), so
/// the rate a source can reach is bounded by both. Each frame is stamped when it is
/// published, and `on_progress` hears of it after its ack.
///
/// A file that cannot be read or decoded ([`FrameSource::Files`]) is skipped: `on_progress`
/// hears why, the next file takes its frame number, the run goes on, and the run stop's
/// message counts the skipped files. If publishing fails (NATS), or a synthetic frame
/// cannot be made, the run is stopped with [`StopReason::Fail`] and the error's text, and the
/// error is returned.
pub async fn simulate(
    instrument: &Instrument,
    start: RunStart,
    source: &FrameSource,
    rate_hz: f64,
    mut on_progress: impl FnMut(Progress<'_>),
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
        skipped: Vec::new(),
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
        let mut frame = match source.frame(index) {
            Ok(frame) => frame,
            Err(e) if source.is_files() => {
                let skipped = Skipped {
                    index,
                    name: source.name(index),
                    reason: e.to_string(),
                };
                tracing::info!(run = %run, file = %skipped.name, error = %e, "file skipped");
                on_progress(Progress::Skipped(&skipped));
                summary.skipped.push(skipped);
                continue;
            }
            Err(e) => {
                fail_run(instrument, &run, summary.frames, &e).await;
                return Err(e);
            }
        };
        let seq = summary.frames;
        frame.timestamp_ms = now_ms();
        match instrument.publish_frame(&run, seq, &frame).await {
            Ok(published) => {
                tracing::debug!(run = %run, seq, name = %source.name(index), bytes = published.bytes,
                    object = published.via_object_store, duplicate = published.ack.duplicate, "frame published");
                summary.frames += 1;
                summary.duplicates += u64::from(published.ack.duplicate);
                summary.bytes += published.bytes;
                summary.via_object_store += u64::from(published.via_object_store);
                on_progress(Progress::Published {
                    index,
                    seq,
                    published: &published,
                });
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
        message: skipped_message(&summary.skipped),
    };
    instrument.stop_run(&stop).await?;
    summary.elapsed = t0.elapsed();
    tracing::info!(run = %run, frames = summary.frames, elapsed_ms = summary.elapsed.as_millis() as u64, "run stopped");
    Ok(summary)
}

/// The run stop's message when files were skipped: how many, and the first few.
fn skipped_message(skipped: &[Skipped]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = skipped.iter().take(5).map(|s| s.name.as_str()).collect();
    let more = skipped.len().saturating_sub(names.len());
    let mut text = format!(
        "{} file(s) skipped, unreadable: {}",
        skipped.len(),
        names.join(", ")
    );
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    truncate(text)
}

/// Stops `run` as failed; a failure to do so is logged, the frame's error is what matters.
async fn fail_run(instrument: &Instrument, run: &RunId, frames: u64, error: &InstrumentError) {
    let message = truncate(error.to_string());
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

/// `text` cut to the 4000 bytes a run stop's message may hold, on a character boundary.
fn truncate(mut text: String) -> String {
    if text.len() > 4000 {
        let mut end = 4000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
