//! What a run's evaluation remembers between frames, serializable so that a restarted
//! decider carries on where it stopped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::{Condition, Per, Rule, Target};

/// A run's memory: the last frame evaluated, each rule's counter and latch (by rule name),
/// and the few recent frames that rates and `unchanged` need (at most the largest window's
/// worth: 100 frames, and 100 frames with a dose). Start a run with `RunState::default()`.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct RunState {
    /// The last frame evaluated.
    #[serde(default)]
    pub(crate) last_seq: Option<u64>,
    /// How many frames were evaluated.
    #[serde(default)]
    pub(crate) evaluated: u64,
    /// Per rule, by name.
    #[serde(default)]
    pub(crate) rules: BTreeMap<String, RuleState>,
    /// Recent frames, oldest first.
    #[serde(default)]
    pub(crate) history: Vec<Point>,
}

impl RunState {
    /// The last frame evaluated, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// How many frames were evaluated in this run.
    pub fn frames_evaluated(&self) -> u64 {
        self.evaluated
    }

    /// Whether the named rule has fired and waits to re-arm.
    pub fn is_latched(&self, rule: &str) -> bool {
        self.rules.get(rule).is_some_and(|r| r.latched)
    }

    /// For how many consecutive evaluated frames the named rule's condition has held (while
    /// it is not latched).
    pub fn streak(&self, rule: &str) -> u32 {
        self.rules.get(rule).map_or(0, |r| r.streak)
    }

    /// How many recent frames are kept.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Drops what the rules no longer need: the state of rules the policy does not have, and
    /// frames older than the windows need.
    pub(crate) fn trim(&mut self, rules: &[Rule]) {
        self.rules
            .retain(|name, _| rules.iter().any(|r| &r.name == name));
        let (mut frames, mut dosed) = (0, 0);
        for r in rules {
            match &r.condition {
                Condition::Rate {
                    window,
                    per: Per::Frame,
                    ..
                } => frames = frames.max(*window),
                Condition::Rate {
                    window,
                    per: Per::Dose,
                    ..
                } => dosed = dosed.max(*window),
                Condition::Unchanged { .. } => frames = frames.max(1),
                _ => {}
            }
        }
        let len = self.history.len();
        let mut dosed_seen = 0;
        let mut keep = vec![false; len];
        for (i, p) in self.history.iter().enumerate().rev() {
            let recent = len - i <= frames;
            let in_dose_window = p.dose.is_some() && dosed_seen < dosed;
            if p.dose.is_some() {
                dosed_seen += 1;
            }
            keep[i] = recent || in_dose_window;
        }
        let mut i = 0;
        self.history.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}

/// One rule's memory.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub(crate) struct RuleState {
    /// The condition it belongs to ([`Condition::fingerprint`]): a rule renamed to another
    /// condition starts afresh.
    pub(crate) fingerprint: String,
    /// Consecutive evaluated frames the condition has held, while not latched.
    #[serde(default)]
    pub(crate) streak: u32,
    /// Fired, and waiting to re-arm.
    #[serde(default)]
    pub(crate) latched: bool,
    /// `new_community`: the ids seen with at least the rule's `min_fraction`, ascending.
    #[serde(default)]
    pub(crate) seen: Vec<u32>,
}

/// One evaluated frame, as rates and `unchanged` need it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) struct Point {
    pub(crate) seq: u64,
    #[serde(default)]
    pub(crate) dose: Option<f64>,
    /// (id, area fraction), ascending ids, each once.
    #[serde(default)]
    pub(crate) communities: Vec<(u32, f64)>,
    /// (name, area fraction), ascending names, each once; `None`: the frame had no classes.
    #[serde(default)]
    pub(crate) classes: Option<Vec<(String, f64)>>,
}

impl Point {
    /// A community's fraction (0 when absent).
    pub(crate) fn community(&self, id: u32) -> f64 {
        self.communities
            .binary_search_by_key(&id, |(c, _)| *c)
            .map_or(0.0, |i| self.communities[i].1)
    }

    /// A target's fraction, `None` for a class on a frame without classes.
    pub(crate) fn value(&self, target: &Target) -> Option<f64> {
        match target {
            Target::Community(id) => Some(self.community(*id)),
            Target::Class(name) => self
                .classes
                .as_ref()
                .map(|cs| cs.iter().find(|(n, _)| n == name).map_or(0.0, |(_, f)| *f)),
        }
    }
}
