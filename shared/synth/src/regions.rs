//! Ground-truth region maps: which phase each pixel belongs to.

use rand::Rng;
use std::f32::consts::{PI, TAU};

use crate::config::SceneKind;
use crate::wave::Wave;

/// Truth map (row-major, one phase id per pixel) for `kind`, drawing shapes from `rng`.
pub(crate) fn truth_map<R: Rng>(
    kind: SceneKind,
    width: usize,
    height: usize,
    rng: &mut R,
) -> Vec<u8> {
    match kind {
        SceneKind::OrderDisorder => order_disorder(width, height, rng),
        SceneKind::ThreePhase => three_phase(width, height, rng),
        SceneKind::Islands { count } => islands(width, height, count, rng),
    }
}

/// Crystal (0) left of a wavy vertical front, disorder (1) right of it.
fn order_disorder<R: Rng>(width: usize, height: usize, rng: &mut R) -> Vec<u8> {
    let base = rng.random_range(0.4..=0.6);
    let front = Wave::random(rng, base, (0.06, 0.12)).sample(height, width as f32);
    let mut truth = vec![0u8; width * height];
    for (row, &fx) in truth.chunks_exact_mut(width).zip(front.iter()) {
        for (x, t) in row.iter_mut().enumerate() {
            *t = u8::from(x as f32 >= fx);
        }
    }
    truth
}

/// Grain 0 above grain 1 (split by a wavy horizontal boundary) left of a wavy vertical
/// front; disorder (2) right of the front.
fn three_phase<R: Rng>(width: usize, height: usize, rng: &mut R) -> Vec<u8> {
    let base = rng.random_range(0.6..=0.68);
    let front = Wave::random(rng, base, (0.05, 0.09)).sample(height, width as f32);
    let base = rng.random_range(0.42..=0.58);
    let grain = Wave::random(rng, base, (0.06, 0.12)).sample(width, height as f32);
    let mut truth = vec![0u8; width * height];
    for (y, (row, &fx)) in truth.chunks_exact_mut(width).zip(front.iter()).enumerate() {
        for (x, (t, &gy)) in row.iter_mut().zip(grain.iter()).enumerate() {
            *t = if x as f32 >= fx {
                2
            } else {
                u8::from(y as f32 >= gy)
            };
        }
    }
    truth
}

/// Crystal matrix (0) with `count` irregular elliptical islands of disorder (1), sized so
/// that together they cover roughly a quarter of the image before overlaps.
fn islands<R: Rng>(width: usize, height: usize, count: usize, rng: &mut R) -> Vec<u8> {
    let mut truth = vec![0u8; width * height];
    let side = width.min(height) as f32;
    let mean_a = (0.25 / (count as f32 * PI * 0.75)).sqrt() * side;
    for _ in 0..count {
        let island = Island {
            cx: rng.random_range(0.15..=0.85) * width as f32,
            cy: rng.random_range(0.15..=0.85) * height as f32,
            a: (mean_a * rng.random_range(0.75..=1.25)).min(0.3 * side),
            aspect: rng.random_range(0.5..=1.0),
            angle: rng.random_range(0.0..PI),
            lobes: rng.random_range(2..=3),
            phases: [rng.random_range(0.0..TAU), rng.random_range(0.0..TAU)],
        };
        island.paint(&mut truth, width, height);
    }
    truth
}

/// An ellipse whose radius wobbles with the polar angle.
struct Island {
    cx: f32,
    cy: f32,
    a: f32,
    aspect: f32,
    angle: f32,
    lobes: u8,
    phases: [f32; 2],
}

impl Island {
    /// Largest radius factor of the wobble.
    const MAX_WOBBLE: f32 = 1.0 + 0.12 + 0.06;

    fn paint(&self, truth: &mut [u8], width: usize, height: usize) {
        let reach = self.a * Self::MAX_WOBBLE + 1.0;
        let x0 = (self.cx - reach).floor().max(0.0) as usize;
        let x1 = ((self.cx + reach).ceil().max(0.0) as usize).min(width - 1);
        let y0 = (self.cy - reach).floor().max(0.0) as usize;
        let y1 = ((self.cy + reach).ceil().max(0.0) as usize).min(height - 1);
        let (s, c) = self.angle.sin_cos();
        let b = self.a * self.aspect;
        let k = f32::from(self.lobes);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let dx = x as f32 - self.cx;
                let dy = y as f32 - self.cy;
                let u = (c * dx + s * dy) / self.a;
                let v = (-s * dx + c * dy) / b;
                let theta = v.atan2(u);
                let wobble = 1.0
                    + 0.12 * (k * theta + self.phases[0]).sin()
                    + 0.06 * ((k + 2.0) * theta + self.phases[1]).sin();
                if u * u + v * v <= wobble * wobble {
                    truth[y * width + x] = 1;
                }
            }
        }
    }
}
