//! [`obey`]: a synthetic dose series run by an instrument that does what the decider says —
//! stops, changes its dose rate, or images a region at a higher magnification for one frame
//! — and answers every action it was given ([`DecisionAck`]: executed, or refused and why).

use std::time::Duration;

use futures::StreamExt;
use tessera_protocol::{
    Action, Decision, DecisionAck, PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason,
};
use tokio::time::Instant;

use crate::{DOSE_STEP, DoseSeries, Instrument, InstrumentError, Published, Zoom, frame::now_ms};

/// How a closed-loop run obeys.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    /// Frames per second (0: as fast as the loop allows).
    pub rate_hz: f64,
    /// Wait for each frame's decision before taking the next (a run whose policy decides
    /// every frame); otherwise decisions are obeyed as they arrive, between frames.
    pub lockstep: bool,
    /// In lockstep, how long to wait for a frame's decision before going on without it.
    pub decision_timeout: Duration,
    /// The highest magnification the instrument can reach; a region asked for beyond it is
    /// refused.
    pub max_magnification: f64,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            rate_hz: 1.0,
            lockstep: true,
            decision_timeout: Duration::from_secs(120),
            max_magnification: 64.0,
        }
    }
}

/// What a closed-loop run reports as it goes.
#[derive(Debug)]
pub enum LoopEvent<'a> {
    /// Frame `seq` was published at `dose`, of the region `zoom` (none: the whole field).
    Published {
        /// The frame number.
        seq: u64,
        /// Its cumulative dose.
        dose: f64,
        /// The region it shows, when zoomed.
        zoom: Option<Zoom>,
        /// Its exact disordered fraction.
        truth: f64,
        /// What publishing did.
        published: &'a Published,
    },
    /// A decision arrived.
    Decided(&'a Decision),
    /// The instrument answered one of its actions.
    Answered(&'a DecisionAck),
    /// No decision came for frame `seq` within the timeout (lockstep); the run went on.
    NoDecision(u64),
}

/// What a closed-loop run did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopSummary {
    /// The run.
    pub run: RunId,
    /// Frames published, as seqs `0..frames`.
    pub frames: u64,
    /// The frame whose decision stopped the run, and the rule; `None` when the series ran out.
    pub stopped_by: Option<(u64, String)>,
    /// The dose rate at the end, relative to the start's.
    pub dose_rate: f64,
    /// Frames taken of a region: `(seq, region)`.
    pub zooms: Vec<(u64, Zoom)>,
    /// Actions answered (executed or refused).
    pub answered: u64,
    /// From before the run start to after the run stop.
    pub elapsed: Duration,
}

/// Runs `series` as run `start` while obeying its decisions (see the module docs). Frame `i`
/// is due `i / rate_hz` seconds after the first; a frame waiting for its decision in lockstep
/// goes as soon as the decision is obeyed. The dose grows by [`DOSE_STEP`] × the dose rate
/// per survey frame; a zoomed frame, taken of a region the decider asked for, adds none and
/// is followed by the survey again. A `stop` ends the run (reason success, the rule in its
/// message) before the next frame; at most `series.count()` frames are taken.
pub async fn obey(
    instrument: &Instrument,
    start: RunStart,
    series: &DoseSeries,
    options: &LoopOptions,
    mut on_event: impl FnMut(LoopEvent<'_>),
) -> Result<LoopSummary, InstrumentError> {
    if !(options.rate_hz.is_finite() && options.rate_hz >= 0.0) {
        return Err(InstrumentError::Invalid(format!(
            "frame rate {} Hz is invalid; give a rate ≥ 0 (0: as fast as possible)",
            options.rate_hz
        )));
    }
    let t0 = Instant::now();
    let run = start.run.clone();
    let mut decisions = instrument.decisions(&run).await?;
    instrument.start_run(&start).await?;
    let mut state = Obeying {
        dose: 0.0,
        dose_rate: 1.0,
        zoom: None,
        stopped_by: None,
        answered: 0,
    };
    let mut zooms = Vec::new();
    let mut frames = 0;
    let first = Instant::now();
    while frames < series.count() && state.stopped_by.is_none() {
        if options.rate_hz > 0.0
            && let Ok(due) = Duration::try_from_secs_f64(frames as f64 / options.rate_hz)
        {
            tokio::time::sleep_until(first + due).await;
        }
        let seq = frames;
        let zoom = state.zoom.take();
        let mut frame = series.frame_at(state.dose, seq, zoom.as_ref())?;
        frame.timestamp_ms = now_ms();
        let truth = frame
            .scalars
            .get(crate::DISORDERED_FRACTION_SCALAR)
            .copied()
            .unwrap_or(f64::NAN);
        let published = instrument.publish_frame(&run, seq, &frame).await?;
        frames += 1;
        on_event(LoopEvent::Published {
            seq,
            dose: state.dose,
            zoom,
            truth,
            published: &published,
        });
        match zoom {
            Some(z) => zooms.push((seq, z)),
            None => state.dose += DOSE_STEP * state.dose_rate,
        }
        // Lockstep: until this frame's decision is obeyed; otherwise what has arrived.
        let deadline = Instant::now() + options.decision_timeout;
        loop {
            let next = if options.lockstep {
                match tokio::time::timeout_at(deadline, decisions.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        on_event(LoopEvent::NoDecision(seq));
                        break;
                    }
                }
            } else {
                match futures::FutureExt::now_or_never(decisions.next()) {
                    Some(next) => next,
                    None => break,
                }
            };
            let decision = match next {
                Some(Ok(d)) => d,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "a decision could not be read");
                    continue;
                }
                None => {
                    return Err(InstrumentError::Invalid(
                        "the connection to NATS closed while waiting for decisions".into(),
                    ));
                }
            };
            on_event(LoopEvent::Decided(&decision));
            for ack in state.apply(&decision, series.size(), options) {
                instrument.ack_decision(&ack).await?;
                on_event(LoopEvent::Answered(&ack));
            }
            if decision.seq >= seq || state.stopped_by.is_some() {
                break;
            }
        }
    }
    let message = match &state.stopped_by {
        Some((seq, rule)) => format!("stopped by rule {rule:?} on frame {seq}"),
        None => String::new(),
    };
    let stop = RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason: StopReason::Success,
        frames,
        message,
    };
    instrument.stop_run(&stop).await?;
    Ok(LoopSummary {
        run,
        frames,
        stopped_by: state.stopped_by,
        dose_rate: state.dose_rate,
        zooms,
        answered: state.answered,
        elapsed: t0.elapsed(),
    })
}

/// The instrument's state while it obeys.
struct Obeying {
    dose: f64,
    dose_rate: f64,
    zoom: Option<Zoom>,
    stopped_by: Option<(u64, String)>,
    answered: u64,
}

impl Obeying {
    /// Carries out `decision`'s actions on a `side × side` field of view, and the answer to
    /// each.
    fn apply(&mut self, decision: &Decision, side: u32, options: &LoopOptions) -> Vec<DecisionAck> {
        let mut acks = Vec::new();
        for fired in &decision.fired {
            let (executed, detail) = match &fired.action {
                Action::Stop => {
                    self.stopped_by
                        .get_or_insert((decision.seq, fired.rule.clone()));
                    (true, "acquisition stopped".to_string())
                }
                Action::Continue => (true, "going on".to_string()),
                Action::Notify { message } => (true, format!("shown to the operator: {message}")),
                Action::ChangeDoseRate { factor } => {
                    let rate = (self.dose_rate * factor).clamp(0.01, 100.0);
                    self.dose_rate = rate;
                    (true, format!("dose rate now {rate:.3}× the run's first"))
                }
                Action::AcquireRoi { roi } if roi.magnification > options.max_magnification => (
                    false,
                    format!(
                        "magnification {:.1} is beyond this instrument's {:.1}",
                        roi.magnification, options.max_magnification
                    ),
                ),
                Action::AcquireRoi { roi }
                    if roi.x + roi.width > side || roi.y + roi.height > side =>
                {
                    (
                        false,
                        format!(
                            "region ({}, {}) {}×{} lies outside the {side}×{side} field of view",
                            roi.x, roi.y, roi.width, roi.height
                        ),
                    )
                }
                Action::AcquireRoi { roi } => {
                    self.zoom = Some(Zoom {
                        x: roi.x,
                        y: roi.y,
                        width: roi.width,
                        height: roi.height,
                    });
                    (
                        true,
                        format!(
                            "next frame: ({}, {}) {}×{} at {:.1}×",
                            roi.x, roi.y, roi.width, roi.height, roi.magnification
                        ),
                    )
                }
            };
            self.answered += 1;
            acks.push(DecisionAck {
                version: PROTOCOL_VERSION,
                run: decision.run.clone(),
                instrument: decision.instrument.clone(),
                seq: decision.seq,
                rule: fired.rule.clone(),
                action: fired.action.as_str().to_string(),
                executed,
                detail,
                acked_ms: now_ms(),
            });
        }
        acks
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tessera_protocol::{Fired, InstrumentId, Roi, RoiGoal};

    use super::*;

    fn decision(actions: Vec<Action>) -> Decision {
        Decision {
            version: PROTOCOL_VERSION,
            run: RunId::new("r").unwrap(),
            instrument: InstrumentId::new("sim-1").unwrap(),
            seq: 4,
            dose: Some(40.0),
            decided_ms: 0,
            policy: "run.r@1".into(),
            fired: actions
                .into_iter()
                .enumerate()
                .map(|(i, action)| Fired {
                    rule: format!("rule-{i}"),
                    action,
                    reason: "test".into(),
                })
                .collect(),
            notes: Vec::new(),
            error: None,
        }
    }

    fn roi(x: u32, magnification: f64) -> Roi {
        Roi {
            goal: RoiGoal::LowConfidence,
            x,
            y: 0,
            width: 64,
            height: 64,
            nm: None,
            magnification,
            score: 1.0,
            reason: "test".into(),
        }
    }

    fn obeying() -> Obeying {
        Obeying {
            dose: 0.0,
            dose_rate: 1.0,
            zoom: None,
            stopped_by: None,
            answered: 0,
        }
    }

    #[test]
    fn each_action_is_carried_out_or_refused_and_answered() {
        let options = LoopOptions {
            max_magnification: 8.0,
            ..LoopOptions::default()
        };
        let mut s = obeying();
        let acks = s.apply(
            &decision(vec![
                Action::ChangeDoseRate { factor: 0.5 },
                Action::AcquireRoi { roi: roi(192, 4.0) },
                Action::AcquireRoi { roi: roi(0, 16.0) },
                Action::AcquireRoi { roi: roi(250, 4.0) },
                Action::Notify {
                    message: "look".into(),
                },
                Action::Stop,
            ]),
            256,
            &options,
        );
        let got: Vec<(&str, bool)> = acks
            .iter()
            .map(|a| (a.action.as_str(), a.executed))
            .collect();
        assert_eq!(
            got,
            [
                ("change_dose_rate", true),
                ("acquire_roi", true),
                ("acquire_roi", false),
                ("acquire_roi", false),
                ("notify", true),
                ("stop", true)
            ]
        );
        assert!(acks[2].detail.contains("beyond this instrument's 8.0"));
        assert!(acks[3].detail.contains("outside the 256×256 field of view"));
        assert_eq!(s.dose_rate, 0.5);
        assert_eq!(
            s.zoom,
            Some(Zoom {
                x: 192,
                y: 0,
                width: 64,
                height: 64
            })
        );
        assert_eq!(s.stopped_by, Some((4, "rule-5".to_string())));
        assert_eq!((s.answered, acks[0].seq), (6, 4));
    }
}
