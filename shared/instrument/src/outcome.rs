//! A published run's outcome: every frame's result or reject as it comes
//! ([`watch_run`]), the tally of them ([`RunOutcome`]), and, for frames that never came,
//! what they were last seen doing ([`describe_missing`]).

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tessera_bus::Bus;
use tessera_protocol::{
    FrameProgress, FrameResult, InstrumentId, Limits, ProgressState, Reject, RunId, decode, keys,
    streams, subjects,
};

use crate::{InstrumentError, LATENCY_TIMING, frame::now_ms};

/// Frames [`describe_missing`] looks up; the rest are counted.
const DESCRIBED: usize = 10;

/// One frame's (or the run's) outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// A frame was segmented.
    Result(Box<FrameResult>),
    /// A service refused a message of the run.
    Rejected(RunReject),
}

/// A service refused one of the run's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReject {
    /// The frame, or `None` for the run's start or stop.
    pub seq: Option<u64>,
    /// The refusing service.
    pub service: String,
    /// Why, with the way out.
    pub reason: String,
}

/// The run's events, or why one could not be decoded.
pub type RunEventStream = BoxStream<'static, Result<RunEvent, InstrumentError>>;

/// Subscribes (core NATS) to `run`'s results and to every service's rejects, keeping the
/// rejects of this run's messages (traced by their Msg-Id). Only events after the call
/// arrive, so subscribe before publishing. The stream ends when the connection closes.
pub async fn watch_run(
    bus: &Bus,
    instrument: &InstrumentId,
    run: &RunId,
) -> Result<RunEventStream, InstrumentError> {
    let results = crate::watch(
        bus,
        crate::ResultFilter::Run(instrument.clone(), run.clone()),
    )
    .await?
    .map(|r| r.map(|r| RunEvent::Result(Box::new(r))));
    let rejects = bus
        .subscribe(subjects::REJECTS_PATTERN)
        .await
        .map_err(|source| InstrumentError::Bus {
            context: "watching rejects".into(),
            source,
        })?;
    let run = run.clone();
    let limits = Limits::default();
    let rejects = rejects.filter_map(move |m| {
        let event = match decode::<Reject>(&m.payload, &limits) {
            Ok(r) => of_run(&r, &run).map(|seq| {
                Ok(RunEvent::Rejected(RunReject {
                    seq,
                    service: r.service,
                    reason: r.reason,
                }))
            }),
            Err(source) => Some(Err(InstrumentError::Result {
                subject: m.subject,
                source,
            })),
        };
        std::future::ready(event)
    });
    Ok(futures::stream::select(results.boxed(), rejects.boxed()).boxed())
}

/// `Some(frame)` when `reject` refused a message of `run` (`Some(None)`: not of one frame).
fn of_run(reject: &Reject, run: &RunId) -> Option<Option<u64>> {
    let (of, seq) = reject.about()?;
    (&of == run).then_some(seq)
}

/// The tally of a run's events: which frames have an outcome, and the latencies.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    segmented: BTreeSet<u64>,
    rejected: BTreeSet<u64>,
    run_rejected: bool,
    latencies_ms: Vec<f64>,
}

impl RunOutcome {
    /// Counts `event`.
    pub fn record(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Result(r) => {
                if self.segmented.insert(r.seq)
                    && let Some((_, ms)) = r.timings.iter().find(|(n, _)| n == LATENCY_TIMING)
                {
                    self.latencies_ms.push(*ms);
                }
            }
            RunEvent::Rejected(RunReject { seq: Some(seq), .. }) => {
                self.rejected.insert(*seq);
            }
            RunEvent::Rejected(RunReject { seq: None, .. }) => self.run_rejected = true,
        }
    }

    /// Whether every frame of `0..sent` has a result or a reject (or the run itself was
    /// refused, so no frame will come).
    pub fn is_complete(&self, sent: u64) -> bool {
        self.run_rejected || self.missing(sent).is_empty()
    }

    /// The frames of `0..sent` with neither a result nor a reject.
    pub fn missing(&self, sent: u64) -> Vec<u64> {
        (0..sent)
            .filter(|s| !self.segmented.contains(s) && !self.rejected.contains(s))
            .collect()
    }

    /// Frames segmented.
    pub fn segmented(&self) -> u64 {
        self.segmented.len() as u64
    }

    /// Frames rejected (and not segmented after all).
    pub fn rejected(&self) -> u64 {
        self.rejected.difference(&self.segmented).count() as u64
    }

    /// The `p`-th percentile (0–100) of publish-to-result latency in ms, nearest rank.
    pub fn latency_percentile(&self, p: f64) -> Option<f64> {
        let mut v = self.latencies_ms.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        Some(v[rank.clamp(1, v.len()) - 1])
    }
}

/// One line per missing frame (the first ten; the rest counted), saying what it was last
/// seen doing, from the clusterer's progress records in KV `tessera_progress`.
pub async fn describe_missing(bus: &Bus, run: &RunId, missing: &[u64]) -> Vec<String> {
    let mut lines = Vec::new();
    for &seq in missing.iter().take(DESCRIBED) {
        let key = keys::progress_key(run, seq);
        let line = match bus.kv_get(streams::PROGRESS_KV.bucket, &key).await {
            Ok(Some((bytes, _))) => match decode::<FrameProgress>(&bytes, &Limits::default()) {
                Ok(p) => describe(&p),
                Err(e) => format!("frame {seq}: its progress record is unreadable ({e})"),
            },
            Ok(None) => format!(
                "frame {seq}: never reached the clusterer (still with ingest or waiting for an \
                 embedder; is an embedder running?)"
            ),
            Err(e) => format!("frame {seq}: its progress could not be read ({e})"),
        };
        lines.push(line);
    }
    if missing.len() > DESCRIBED {
        lines.push(format!("and {} more", missing.len() - DESCRIBED));
    }
    lines
}

fn describe(p: &FrameProgress) -> String {
    let ago = Duration::from_millis(now_ms().saturating_sub(p.updated_at_ms)).as_secs();
    match p.state {
        ProgressState::Assembling => format!(
            "frame {}: at the clusterer, {} of {} embedding batches received, last one {ago} s \
             ago (is an embedder running?)",
            p.seq, p.received, p.batches
        ),
        ProgressState::Done => format!(
            "frame {}: segmented {ago} s ago, but its result was not seen (is the publisher \
             running?)",
            p.seq
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(seq: Option<u64>) -> RunEvent {
        RunEvent::Rejected(RunReject {
            seq,
            service: "ingest".into(),
            reason: "constant".into(),
        })
    }

    #[test]
    fn a_run_is_complete_when_every_frame_has_an_outcome() {
        let mut o = RunOutcome::default();
        assert!(o.is_complete(0));
        assert!(!o.is_complete(2));
        o.record(&reject(Some(1)));
        assert_eq!(o.missing(2), [0]);
        o.record(&reject(Some(1)));
        assert_eq!((o.rejected(), o.segmented()), (1, 0));
        assert!(!o.is_complete(2));
        o.record(&reject(None));
        assert!(o.is_complete(2), "a refused run start ends the wait");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut o = RunOutcome::default();
        assert_eq!(o.latency_percentile(50.0), None);
        o.latencies_ms = (1..=100).map(f64::from).collect();
        assert_eq!(o.latency_percentile(50.0), Some(50.0));
        assert_eq!(o.latency_percentile(99.0), Some(99.0));
        assert_eq!(o.latency_percentile(100.0), Some(100.0));
        assert_eq!(o.latency_percentile(0.0), Some(1.0));
    }
}
