//! The closed loop on the wire: what the decider tells an instrument after each frame
//! ([`Decision`], on `tessera.decisions.<instrument>.<run>`), what the instrument answers
//! ([`DecisionAck`], on `tessera.acks.<instrument>.<run>`), and the policy a user stored for
//! a run or an instrument ([`PolicyRecord`], KV `tessera_policies`).
//!
//! The decider publishes one [`Decision`] per frame it evaluated, in the frame's order, so
//! that an instrument stepping frame by frame always hears a verdict: an empty `fired` list
//! means "go on". Each decision's `Nats-Msg-Id` is its run and frame, so a decider restarted
//! mid-run never issues one twice.

use serde::{Deserialize, Serialize};

use crate::{
    InstrumentId, Limits, MessageKind, ProtocolError, RunId, messages::impl_message,
    validate::Check,
};

/// Most rules a decision may name, and most proposals it may carry.
pub const MAX_FIRED: usize = 64;

/// Largest policy file, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// What a region of interest is proposed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoiGoal {
    /// Where the segmentation is least sure (lowest chip confidence).
    LowConfidence,
    /// Along the boundary of a chosen community or class (an interface).
    Boundary,
    /// Around the rarest community.
    Rarest,
    /// Where nothing has been imaged at high magnification yet.
    Unexplored,
}

impl RoiGoal {
    /// Every goal.
    pub const ALL: [RoiGoal; 4] = [
        RoiGoal::LowConfidence,
        RoiGoal::Boundary,
        RoiGoal::Rarest,
        RoiGoal::Unexplored,
    ];

    /// Its name, as policies write it: "low_confidence", "boundary", "rarest", "unexplored".
    pub fn as_str(self) -> &'static str {
        match self {
            RoiGoal::LowConfidence => "low_confidence",
            RoiGoal::Boundary => "boundary",
            RoiGoal::Rarest => "rarest",
            RoiGoal::Unexplored => "unexplored",
        }
    }
}

/// A proposed region of interest on a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roi {
    /// What it is proposed for.
    pub goal: RoiGoal,
    /// Left edge, in the frame's pixels.
    pub x: u32,
    /// Top edge, in the frame's pixels.
    pub y: u32,
    /// Width, in the frame's pixels.
    pub width: u32,
    /// Height, in the frame's pixels.
    pub height: u32,
    /// The same rectangle in nanometres from the frame's top-left corner, `[x, y, width,
    /// height]`, when the frame is calibrated.
    #[serde(default)]
    pub nm: Option<[f64; 4]>,
    /// Magnification asked for, relative to the frame's (2 = twice the frame's).
    pub magnification: f64,
    /// Its score within its goal, higher is more wanted (`0..=1`).
    pub score: f64,
    /// Why, in words.
    pub reason: String,
}

impl Roi {
    fn check_in(&self, c: Check, at: &str, width: u32, height: u32) -> Result<(), ProtocolError> {
        if self.width == 0 || self.height == 0 {
            return Err(c.fail(at, "is empty"));
        }
        let right = u64::from(self.x) + u64::from(self.width);
        let bottom = u64::from(self.y) + u64::from(self.height);
        if right > u64::from(width) || bottom > u64::from(height) {
            return Err(c.fail(
                at,
                format!("reaches ({right}, {bottom}), outside the {width}×{height} frame"),
            ));
        }
        if let Some(nm) = &self.nm {
            for v in nm {
                c.finite(&format!("{at}.nm"), *v)?;
            }
        }
        c.within(&format!("{at}.magnification"), self.magnification, 1.0, 1e6)?;
        c.within(&format!("{at}.score"), self.score, 0.0, 1.0)?;
        c.text(&format!("{at}.reason"), &self.reason, 1000, true)
    }
}

/// What a rule asks the instrument to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    /// Stop the acquisition.
    Stop,
    /// Go on as now (a rule that says so explicitly, e.g. to log a milestone).
    Continue,
    /// Image the region at the magnification it names next.
    AcquireRoi {
        /// The region (the best of the decision's proposals for the rule's goal).
        roi: Roi,
    },
    /// Multiply the dose rate by `factor`.
    ChangeDoseRate {
        /// The factor (0.5 halves the dose rate).
        factor: f64,
    },
    /// Tell the operator.
    Notify {
        /// What to tell.
        message: String,
    },
}

impl Action {
    /// Its name, as policies write it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Continue => "continue",
            Action::AcquireRoi { .. } => "acquire_roi",
            Action::ChangeDoseRate { .. } => "change_dose_rate",
            Action::Notify { .. } => "notify",
        }
    }
}

/// One rule that fired on a frame, and what it asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// The rule's name, from the policy.
    pub rule: String,
    /// What it asks.
    pub action: Action,
    /// Why it fired, with the numbers ("disordered 0.62 > 0.5 for 2 frames").
    pub reason: String,
}

/// The decider's verdict on one frame (decider → instrument, dashboards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The frame it was decided on.
    pub seq: u64,
    /// That frame's dose, if sent.
    #[serde(default)]
    pub dose: Option<f64>,
    /// When it was decided, milliseconds since the Unix epoch.
    pub decided_ms: u64,
    /// The policy it was decided by: its KV key and revision ("run.r1@3").
    pub policy: String,
    /// The rules that fired, in the policy's order; empty: go on.
    pub fired: Vec<Fired>,
    /// Rules that could not be evaluated on this frame, and why (a class rule on a frame
    /// without classes, a region asked for on a frame without confidences).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Why no rule could be evaluated, when the policy could not be used (the loop then
    /// says nothing more until it can).
    #[serde(default)]
    pub error: Option<String>,
}

impl Decision {
    /// Whether a rule asks the instrument to stop.
    pub fn stops(&self) -> bool {
        self.fired.iter().any(|f| f.action == Action::Stop)
    }

    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        if let Some(d) = self.dose {
            c.within("dose", d, 0.0, f64::MAX)?;
        }
        c.text("policy", &self.policy, 256, true)?;
        c.int_within("fired", self.fired.len() as u64, 0, MAX_FIRED as u64)?;
        for (i, f) in self.fired.iter().enumerate() {
            let at = format!("fired[{i}]");
            c.text(&format!("{at}.rule"), &f.rule, 128, false)?;
            c.text(&format!("{at}.reason"), &f.reason, 1000, true)?;
            match &f.action {
                Action::AcquireRoi { roi } => {
                    roi.check_in(c, &format!("{at}.action.roi"), u32::MAX, u32::MAX)?
                }
                Action::ChangeDoseRate { factor } => {
                    c.within(&format!("{at}.action.factor"), *factor, 1e-6, 1e6)?
                }
                Action::Notify { message } => {
                    c.text(&format!("{at}.action.message"), message, 1000, true)?
                }
                Action::Stop | Action::Continue => {}
            }
        }
        c.int_within("notes", self.notes.len() as u64, 0, MAX_FIRED as u64)?;
        for (i, n) in self.notes.iter().enumerate() {
            c.text(&format!("notes[{i}]"), n, 1000, true)?;
        }
        if let Some(e) = &self.error {
            c.text("error", e, 4000, true)?;
        }
        Ok(())
    }
}
impl_message!(Decision, MessageKind::Decision);

/// Checks a proposal against the frame it was made on.
pub fn check_roi_on_frame(roi: &Roi, width: u32, height: u32) -> Result<(), ProtocolError> {
    roi.check_in(Check::new(MessageKind::Decision), "roi", width, height)
}

/// What the instrument did with a decision (instrument → decider's stream, dashboards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionAck {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The frame of the decision answered.
    pub seq: u64,
    /// The rule whose action this answers.
    pub rule: String,
    /// The action's name ("stop", "acquire_roi", …).
    pub action: String,
    /// Whether the instrument carried it out.
    pub executed: bool,
    /// What it did, or why it refused.
    pub detail: String,
    /// When, milliseconds since the Unix epoch.
    pub acked_ms: u64,
}

impl DecisionAck {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.text("rule", &self.rule, 128, false)?;
        c.text("action", &self.action, 64, false)?;
        c.text("detail", &self.detail, 1000, true)
    }
}
impl_message!(DecisionAck, MessageKind::DecisionAck);

/// A stored policy (KV `tessera_policies`, key `run.<run>` or `instrument.<instrument>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Record version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The policy's TOML, as the user wrote it (checked before it was stored).
    pub toml: String,
    /// Where it came from (a file name), for messages.
    pub origin: String,
    /// Who stored it.
    pub saved_by: String,
    /// When, milliseconds since the Unix epoch.
    pub saved_ms: u64,
}

impl PolicyRecord {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.int_within("toml", self.toml.len() as u64, 1, MAX_POLICY_BYTES as u64)?;
        c.text("origin", &self.origin, 1000, true)?;
        c.text("saved_by", &self.saved_by, 128, true)
    }
}
impl_message!(PolicyRecord, MessageKind::PolicyRecord);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{PROTOCOL_VERSION, decode, encode_message};

    fn roi() -> Roi {
        Roi {
            goal: RoiGoal::LowConfidence,
            x: 10,
            y: 20,
            width: 64,
            height: 64,
            nm: Some([0.39, 0.78, 2.5, 2.5]),
            magnification: 4.0,
            score: 0.8,
            reason: "lowest mean confidence 0.02".into(),
        }
    }

    #[test]
    fn a_decision_round_trips_and_bad_fields_are_named() {
        let limits = Limits::default();
        let d = Decision {
            version: PROTOCOL_VERSION,
            run: RunId::new("r1").unwrap(),
            instrument: InstrumentId::new("stem-1").unwrap(),
            seq: 7,
            dose: Some(70.0),
            decided_ms: 1,
            policy: "run.r1@2".into(),
            fired: vec![
                Fired {
                    rule: "half".into(),
                    action: Action::Stop,
                    reason: "0.6 > 0.5 for 2 frames".into(),
                },
                Fired {
                    rule: "zoom".into(),
                    action: Action::AcquireRoi { roi: roi() },
                    reason: "low confidence".into(),
                },
            ],
            notes: vec!["rule oxide: the frame has no classes".into()],
            error: None,
        };
        let bytes = encode_message(&d, &limits).unwrap();
        let back: Decision = decode(&bytes, &limits).unwrap();
        assert_eq!(back, d);
        assert!(back.stops());

        let mut bad = d.clone();
        bad.fired[1].action = Action::ChangeDoseRate { factor: -1.0 };
        let e = encode_message(&bad, &limits).unwrap_err().to_string();
        assert!(e.contains("fired[1].action.factor"), "{e}");
        let mut bad = d;
        bad.fired[1].action = Action::AcquireRoi {
            roi: Roi { width: 0, ..roi() },
        };
        let e = encode_message(&bad, &limits).unwrap_err().to_string();
        assert!(e.contains("fired[1].action.roi"), "{e}");
    }

    #[test]
    fn a_proposal_outside_its_frame_is_refused() {
        assert!(check_roi_on_frame(&roi(), 128, 128).is_ok());
        let e = check_roi_on_frame(&roi(), 64, 64).unwrap_err().to_string();
        assert!(e.contains("outside the 64×64 frame"), "{e}");
    }
}
