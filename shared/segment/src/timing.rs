//! Per-stage wall-clock times.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Named stage durations in milliseconds, in the order the stages ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// `(stage, milliseconds)` pairs.
    pub stages: Vec<(String, f64)>,
}

impl Timings {
    /// Runs `f` and records its duration under `stage`.
    pub fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.record(stage, start.elapsed().as_secs_f64() * 1e3);
        out
    }

    /// Records a duration measured elsewhere, adding to the stage if it is already there.
    pub fn record(&mut self, stage: &str, ms: f64) {
        match self.stages.iter_mut().find(|(s, _)| s == stage) {
            Some((_, t)) => *t += ms,
            None => self.stages.push((stage.to_string(), ms)),
        }
    }

    /// Appends the stages of `other`.
    pub fn extend(&mut self, other: &Timings) {
        for (s, ms) in &other.stages {
            self.record(s, *ms);
        }
    }

    /// Milliseconds recorded for `stage`, or zero.
    pub fn get(&self, stage: &str) -> f64 {
        self.stages
            .iter()
            .find(|(s, _)| s == stage)
            .map_or(0.0, |(_, t)| *t)
    }

    /// Sum over all stages.
    pub fn total(&self) -> f64 {
        self.stages.iter().map(|(_, t)| t).sum()
    }
}
