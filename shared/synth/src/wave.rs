//! Smooth random curves used as phase fronts, grain boundaries and mosaic edges.

use rand::Rng;
use std::f32::consts::TAU;

/// `base + Σ amp·sin(2π·freq·t + phase)` over `t` in `[0, 1]`: a gently curved line, given
/// as a fraction of the image side it runs across.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wave {
    base: f32,
    terms: [(f32, f32, f32); 2],
}

impl Wave {
    /// A curve around `base` whose main term has amplitude in `amp` and
    /// `0.6..1.4` cycles, plus a small second harmonic (a quarter of the main amplitude).
    pub(crate) fn random<R: Rng>(rng: &mut R, base: f32, amp: (f32, f32)) -> Self {
        let a1 = rng.random_range(amp.0..=amp.1);
        let f1 = rng.random_range(0.6..=1.4);
        let p1 = rng.random_range(0.0..TAU);
        let a2 = 0.25 * a1 * rng.random_range(0.3..=1.0);
        let f2 = rng.random_range(2.0..=3.5);
        let p2 = rng.random_range(0.0..TAU);
        Self {
            base,
            terms: [(a1, f1, p1), (a2, f2, p2)],
        }
    }

    /// The curve at `t` (0..=1), as a fraction.
    pub(crate) fn at(&self, t: f32) -> f32 {
        self.terms.iter().fold(self.base, |acc, &(a, f, p)| {
            acc + a * (TAU * f * t + p).sin()
        })
    }

    /// The curve sampled at `n` points `i / (n - 1)` and scaled by `scale`.
    pub(crate) fn sample(&self, n: usize, scale: f32) -> Vec<f32> {
        let denom = n.saturating_sub(1).max(1) as f32;
        (0..n).map(|i| scale * self.at(i as f32 / denom)).collect()
    }
}
