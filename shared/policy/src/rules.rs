//! The rule kinds a policy is made of, as checked at load.

use std::fmt;

use tessera_protocol::RoiGoal;

/// Most rules a policy may have (a decision names at most this many fired rules).
pub const MAX_RULES: usize = tessera_protocol::messages::decision::MAX_FIRED;

/// Most consecutive frames a condition may be asked to hold.
pub const MAX_FRAMES: u32 = 1000;

/// Most frames a rate's least-squares window may span.
pub const MAX_WINDOW: usize = 100;

/// One named rule: a condition, and what to ask when it has held long enough.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name, unique within the policy (1-64 characters).
    pub name: String,
    /// When it fires.
    pub condition: Condition,
    /// What it asks for when it fires.
    pub action: ActionSpec,
    /// The line of the policy file where it starts (its `[[rule]]`), for messages.
    pub line: usize,
}

/// What a rule watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A target's area fraction past a threshold (`when = "threshold"`).
    Threshold(Level),
    /// The slope of a target's fraction past a threshold (`when = "rate"`).
    Rate {
        /// The target, the comparison and its hysteresis (on the slope).
        level: Level,
        /// How many frames the least-squares fit spans (2..=100).
        window: usize,
        /// What the slope is measured against.
        per: Per,
    },
    /// A community id not seen earlier covers at least `min_fraction` of a frame.
    NewCommunity {
        /// The smallest area fraction that counts as an appearance.
        min_fraction: f64,
    },
    /// At least `area` of the chips have a confidence below `margin`, for `frames` frames.
    LowConfidence {
        /// The confidence below which a chip counts as unsure.
        margin: f64,
        /// The fraction of chips that must be unsure, in `(0, 1]`.
        area: f64,
        /// Consecutive frames the condition must hold.
        frames: u32,
    },
    /// No fraction moved by more than `tolerance` from the previous frame, for `frames` frames.
    Unchanged {
        /// The largest change that still counts as no change.
        tolerance: f64,
        /// Consecutive frames the condition must hold.
        frames: u32,
    },
}

impl Condition {
    /// The kind's name, as policies write it in `when`.
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::Threshold(_) => "threshold",
            Condition::Rate { .. } => "rate",
            Condition::NewCommunity { .. } => "new_community",
            Condition::LowConfidence { .. } => "low_confidence",
            Condition::Unchanged { .. } => "unchanged",
        }
    }

    /// The target it watches, for the kinds that watch one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Condition::Threshold(level) | Condition::Rate { level, .. } => Some(&level.target),
            _ => None,
        }
    }

    /// What makes two conditions the same one: the kind, the target, the comparison and its
    /// threshold (not `frames`, `release` or `window`). A run's per-rule state is kept only
    /// while its rule's fingerprint stays the same.
    pub fn fingerprint(&self) -> String {
        match self {
            Condition::Threshold(l) => format!("threshold {} {}", l.target, exact(l.compare)),
            Condition::Rate { level, per, .. } => format!(
                "rate {} {} per {}",
                level.target,
                exact(level.compare),
                per.as_str()
            ),
            Condition::NewCommunity { min_fraction } => format!("new_community {min_fraction}"),
            Condition::LowConfidence { margin, area, .. } => {
                format!("low_confidence {margin} {area}")
            }
            Condition::Unchanged { tolerance, .. } => format!("unchanged {tolerance}"),
        }
    }
}

/// A comparison with its threshold written in full (shortest exact form).
fn exact(c: Compare) -> String {
    format!("{} {}", c.symbol(), c.threshold())
}

/// The names `when` accepts.
pub const KINDS: [&str; 5] = [
    "threshold",
    "rate",
    "new_community",
    "low_confidence",
    "unchanged",
];

/// A watched value, compared to a threshold, with hysteresis.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// What is watched.
    pub target: Target,
    /// Which side of which threshold fires.
    pub compare: Compare,
    /// Consecutive frames the comparison must hold before the rule fires (1..=1000).
    pub frames: u32,
    /// The value the watched one must go back past before the rule can fire again.
    pub release: f64,
}

/// Which side of a threshold a value must be on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    /// Strictly above.
    Above(f64),
    /// Strictly below.
    Below(f64),
}

impl Compare {
    /// The threshold.
    pub fn threshold(self) -> f64 {
        match self {
            Compare::Above(t) | Compare::Below(t) => t,
        }
    }

    /// Whether `value` is on the firing side.
    pub fn holds(self, value: f64) -> bool {
        match self {
            Compare::Above(t) => value > t,
            Compare::Below(t) => value < t,
        }
    }

    /// Whether `value` is back past `release`, on the re-arming side.
    pub fn rearms(self, value: f64, release: f64) -> bool {
        match self {
            Compare::Above(_) => value < release,
            Compare::Below(_) => value > release,
        }
    }

    /// `>` or `<`.
    pub fn symbol(self) -> &'static str {
        match self {
            Compare::Above(_) => ">",
            Compare::Below(_) => "<",
        }
    }
}

impl fmt::Display for Compare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.symbol(), number(self.threshold()))
    }
}

/// What a rate's slope is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Per unit dose, over the frames that carry one (`per = "dose"`, the default).
    Dose,
    /// Per frame, by sequence number (`per = "frame"`).
    Frame,
}

impl Per {
    /// Its name, as policies write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Per::Dose => "dose",
            Per::Frame => "frame",
        }
    }
}

/// A community (run-stable id) or a few-shot class (by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `community = <id>`.
    Community(u32),
    /// `class = "<name>"`.
    Class(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Community(id) => write!(f, "community {id}"),
            Target::Class(name) => write!(f, "class {name}"),
        }
    }
}

/// What a rule asks for, as written; an `acquire_roi` becomes a region only when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionSpec {
    /// Stop the acquisition.
    Stop,
    /// Go on (explicitly).
    Continue,
    /// Tell the operator.
    Notify {
        /// What to tell (1-1000 characters).
        message: String,
    },
    /// Multiply the dose rate.
    ChangeDoseRate {
        /// The factor, in `(0, 100]`.
        factor: f64,
    },
    /// Image a region next, chosen by the decider's [`crate::Proposer`].
    AcquireRoi {
        /// What the region is for.
        goal: RoiGoal,
        /// Magnification relative to the frame's, in `(1, 1000]`.
        magnification: f64,
        /// The community or class whose boundary is wanted (goal `boundary` only).
        target: Option<Target>,
    },
}

impl ActionSpec {
    /// Its name, as policies write it in `do`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActionSpec::Stop => "stop",
            ActionSpec::Continue => "continue",
            ActionSpec::Notify { .. } => "notify",
            ActionSpec::ChangeDoseRate { .. } => "change_dose_rate",
            ActionSpec::AcquireRoi { .. } => "acquire_roi",
        }
    }
}

/// The names `do` accepts.
pub const ACTIONS: [&str; 5] = [
    "stop",
    "continue",
    "notify",
    "change_dose_rate",
    "acquire_roi",
];

/// A number as messages show it: about three significant digits, no trailing zeros.
pub(crate) fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor();
    let decimals = (2.0 - magnitude).clamp(0.0, 12.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(0.62), "0.62");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(0.0031), "0.0031");
        assert_eq!(number(0.003_141_59), "0.00314");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(number(1234.6), "1235");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn comparisons_and_release() {
        let a = Compare::Above(0.5);
        assert!(a.holds(0.51) && !a.holds(0.5));
        assert!(a.rearms(0.44, 0.45) && !a.rearms(0.45, 0.45));
        let b = Compare::Below(0.2);
        assert!(b.holds(0.1) && !b.holds(0.2));
        assert!(b.rearms(0.3, 0.25));
        assert_eq!(a.to_string(), "> 0.5");
    }
}
