//! A policy evaluated on one frame: which rules fire, and what they ask.

use tessera_protocol::{Action, Fired, Roi, RoiGoal};

use crate::file::Policy;
use crate::observe::{Observation, largest_change, listing, slope};
use crate::rules::{ActionSpec, Condition, Level, Per, Rule, Target, number};
use crate::state::{Point, RuleState, RunState};

/// Turns an `acquire_roi` request into a region on the current frame (the decider implements
/// it with the ROI crate).
pub trait Proposer {
    /// The best region for `goal` on the current frame (around `target`'s boundary for
    /// [`RoiGoal::Boundary`]), or `None` when there is none.
    fn propose(&self, goal: RoiGoal, target: Option<&Target>, magnification: f64) -> Option<Roi>;
}

/// The outcome of one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// The frame was at or before the last one evaluated (a redelivery, or out of order):
    /// nothing changed in the state.
    Stale {
        /// The last frame evaluated.
        last: u64,
    },
    /// The rules that fired on this frame, in the policy's order (empty: go on), and notes on
    /// what could not be evaluated (a class rule on a frame without classes, a rate rule
    /// without doses, an `acquire_roi` rule the proposer had no region for, which then fires
    /// as nothing and says so).
    Done {
        /// The rules that fired.
        fired: Vec<Fired>,
        /// What could not be evaluated, in words.
        notes: Vec<String>,
    },
}

/// Evaluates `policy` on the frame `obs`, updating `state`. Frames must come in `seq` order;
/// a gap is fine (counters count evaluated frames), an earlier or repeated frame is
/// [`Evaluation::Stale`].
pub fn evaluate(
    policy: &Policy,
    state: &mut RunState,
    obs: &Observation<'_>,
    proposer: &dyn Proposer,
) -> Evaluation {
    if let Some(last) = state.last_seq {
        if obs.seq <= last {
            return Evaluation::Stale { last };
        }
    }
    let mut notes = Vec::new();
    let point = obs.point(&mut notes);
    let mut fired = Vec::new();
    for rule in &policy.rules {
        let fingerprint = rule.condition.fingerprint();
        let fresh = state
            .rules
            .get(&rule.name)
            .is_none_or(|s| s.fingerprint != fingerprint);
        if fresh {
            let new = RuleState {
                fingerprint,
                ..RuleState::default()
            };
            state.rules.insert(rule.name.clone(), new);
        }
        let Some(rs) = state.rules.get_mut(&rule.name) else {
            continue;
        };
        let frame = Frame {
            obs,
            point: &point,
            history: &state.history,
            fresh,
        };
        match frame.check(rule, rs) {
            Ok(Some(reason)) => match act(&rule.action, proposer) {
                Some(action) => fired.push(Fired {
                    rule: rule.name.clone(),
                    action,
                    reason,
                }),
                None => notes.push(format!(
                    "rule \"{}\" fired ({reason}) but no region was found for its \
                     acquire_roi goal; nothing was asked",
                    rule.name
                )),
            },
            Ok(None) => {}
            Err(note) => notes.push(format!("rule \"{}\": {note}", rule.name)),
        }
    }
    state.history.push(point);
    state.trim(&policy.rules);
    state.last_seq = Some(obs.seq);
    state.evaluated += 1;
    Evaluation::Done { fired, notes }
}

/// The action a fired rule asks, `None` when the proposer has no region.
fn act(spec: &ActionSpec, proposer: &dyn Proposer) -> Option<Action> {
    Some(match spec {
        ActionSpec::Stop => Action::Stop,
        ActionSpec::Continue => Action::Continue,
        ActionSpec::Notify { message } => Action::Notify {
            message: message.clone(),
        },
        ActionSpec::ChangeDoseRate { factor } => Action::ChangeDoseRate { factor: *factor },
        ActionSpec::AcquireRoi {
            goal,
            magnification,
            target,
        } => Action::AcquireRoi {
            roi: proposer.propose(*goal, target.as_ref(), *magnification)?,
        },
    })
}

/// One frame, seen by one rule.
struct Frame<'a> {
    obs: &'a Observation<'a>,
    point: &'a Point,
    /// Earlier frames, oldest first.
    history: &'a [Point],
    /// The rule has no memory yet (the run's first frame, or a rule new to the run).
    fresh: bool,
}

impl Frame<'_> {
    /// Advances the rule's memory; `Ok(Some(reason))` when it fires, `Err(note)` when it
    /// could not be evaluated on this frame.
    fn check(&self, rule: &Rule, rs: &mut RuleState) -> Result<Option<String>, String> {
        let seq = self.point.seq;
        match &rule.condition {
            Condition::Threshold(level) => {
                let Some(v) = self.point.value(&level.target) else {
                    return Err(self.no_classes(&level.target, rs));
                };
                Ok(step(
                    rs,
                    level.compare.holds(v),
                    level.compare.rearms(v, level.release),
                    level.frames,
                )
                .then(|| {
                    format!(
                        "{} at {} {} {}",
                        level.target,
                        number(v),
                        level.compare,
                        for_frames(level.frames)
                    )
                }))
            }
            Condition::Rate { level, window, per } => self.rate(level, *window, *per, rs),
            Condition::NewCommunity { min_fraction } => {
                let present: Vec<(u32, f64)> = self
                    .point
                    .communities
                    .iter()
                    .filter(|(_, f)| *f > 0.0 && *f >= *min_fraction)
                    .copied()
                    .collect();
                let new: Vec<(u32, f64)> = present
                    .iter()
                    .filter(|(id, _)| rs.seen.binary_search(id).is_err())
                    .copied()
                    .collect();
                for (id, _) in &new {
                    if let Err(at) = rs.seen.binary_search(id) {
                        rs.seen.insert(at, *id);
                    }
                }
                if self.fresh || new.is_empty() {
                    return Ok(None);
                }
                let word = if new.len() == 1 {
                    "community"
                } else {
                    "communities"
                };
                Ok(Some(format!(
                    "{word} {} appeared for the first time in the run (at least {} of the frame)",
                    listing(&new),
                    number(*min_fraction)
                )))
            }
            Condition::LowConfidence {
                margin,
                area,
                frames,
            } => {
                let Some(unsure) = self.obs.unsure(*margin) else {
                    return Err(format!(
                        "frame {seq} carries no chip confidences, so it was not evaluated"
                    ));
                };
                let holds = unsure >= *area;
                Ok(step(rs, holds, !holds, *frames).then(|| {
                    format!(
                        "a share of {} of the chips has a confidence below {} (at least {}) {}",
                        number(unsure),
                        number(*margin),
                        number(*area),
                        for_frames(*frames)
                    )
                }))
            }
            Condition::Unchanged { tolerance, frames } => {
                let Some(before) = self.history.last() else {
                    return Ok(None);
                };
                let (change, what) = largest_change(before, self.point);
                let holds = change <= *tolerance;
                Ok(step(rs, holds, !holds, *frames).then(|| {
                    let largest = if what.is_empty() {
                        String::new()
                    } else {
                        format!(" (largest: {what}, {})", number(change))
                    };
                    format!(
                        "no fraction moved by more than {}{largest} {}",
                        number(*tolerance),
                        for_frames(*frames)
                    )
                }))
            }
        }
    }

    fn rate(
        &self,
        level: &Level,
        window: usize,
        per: Per,
        rs: &mut RuleState,
    ) -> Result<Option<String>, String> {
        let seq = self.point.seq;
        if self.point.value(&level.target).is_none() {
            return Err(self.no_classes(&level.target, rs));
        }
        if per == Per::Dose && self.point.dose.is_none() {
            return Err(format!(
                "frame {seq} carries no dose, so the rate of {} per unit dose was not \
                 evaluated (write per = \"frame\" for a rate per frame)",
                level.target
            ));
        }
        let mut xy: Vec<(f64, f64)> = self
            .history
            .iter()
            .chain(std::iter::once(self.point))
            .rev()
            .filter_map(|p| {
                let x = match per {
                    Per::Dose => p.dose?,
                    Per::Frame => p.seq as f64,
                };
                Some((x, p.value(&level.target)?))
            })
            .take(window)
            .collect();
        if xy.len() < window {
            return Ok(None); // still gathering the window's frames
        }
        xy.reverse();
        let Some(s) = slope(&xy) else {
            return Err(format!(
                "the last {window} frames' {} do not differ, so no rate was measured",
                match per {
                    Per::Dose => "doses",
                    Per::Frame => "sequence numbers",
                }
            ));
        };
        let unit = match per {
            Per::Dose => "per unit dose",
            Per::Frame => "per frame",
        };
        let verb = if s >= 0.0 { "grows" } else { "changes" };
        let frames = if level.frames > 1 {
            format!(", {}", for_frames(level.frames))
        } else {
            String::new()
        };
        Ok(step(
            rs,
            level.compare.holds(s),
            level.compare.rearms(s, level.release),
            level.frames,
        )
        .then(|| {
            format!(
                "{} {verb} {} {unit} {} (last {window} frames{frames})",
                level.target,
                number(s),
                level.compare
            )
        }))
    }

    fn no_classes(&self, target: &Target, rs: &RuleState) -> String {
        format!(
            "frame {} has no classes, so {target} was not evaluated (its count stays at {})",
            self.point.seq, rs.streak
        )
    }
}

/// Advances a counter with hysteresis: fires when the condition has held for `frames`
/// consecutive evaluated frames, then stays latched until `rearms`.
fn step(rs: &mut RuleState, holds: bool, rearms: bool, frames: u32) -> bool {
    if rs.latched {
        if rearms {
            rs.latched = false;
            rs.streak = 0;
        }
        return false;
    }
    if !holds {
        rs.streak = 0;
        return false;
    }
    rs.streak = rs.streak.saturating_add(1);
    if rs.streak >= frames {
        rs.latched = true;
        rs.streak = 0;
        return true;
    }
    false
}

/// "for 1 frame", "for 2 frames".
fn for_frames(n: u32) -> String {
    if n == 1 {
        "for 1 frame".into()
    } else {
        format!("for {n} frames")
    }
}
