//! The disordered (amorphous) phase: blurred columns at random positions.

use rand::Rng;

use crate::lattice::truth_at;
use crate::render::Atom;

/// Relative spread of disordered column peaks (uniform ±).
const AMP_SPREAD: f32 = 0.4;
/// Smallest distance between neighbouring columns, as a fraction of the grid pitch.
const MIN_GAP: f32 = 0.6;
/// Draws per column before a column that keeps landing too close is left out.
const TRIES: usize = 8;

/// One disordered phase.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Amorphous {
    /// Grid pitch: one column per `pitch`² px², the crystal's column density.
    pub(crate) pitch: f32,
    /// Mean column peak.
    pub(crate) amp: f32,
    /// Column sigma, pixels.
    pub(crate) sigma: f32,
    /// Truth id of the region it fills.
    pub(crate) phase: u8,
}

impl Amorphous {
    /// Appends columns in this phase's region to `out`. Positions are stratified, one
    /// random point per grid cell, which keeps the density even and leaves no Bragg peaks
    /// (a uniform point per cell has a form factor that vanishes at every reciprocal-lattice
    /// vector but the origin). A point closer than `MIN_GAP`·pitch to one in a neighbouring
    /// cell, or for which `blocked` holds (a crystal column too close, across a front), is
    /// redrawn up to `TRIES` times and then left out. That gives columns the hard core of a
    /// real amorphous solid and keeps blobs from piling up above intensity 1.
    pub(crate) fn atoms<R: Rng>(
        &self,
        truth: &[u8],
        width: usize,
        height: usize,
        blocked: impl Fn((f32, f32)) -> bool,
        rng: &mut R,
        out: &mut Vec<Atom>,
    ) {
        let margin = 4.0 * self.sigma + 1.0;
        let start = -margin;
        let nx = ((width as f32 + 2.0 * margin) / self.pitch).ceil() as usize;
        let ny = ((height as f32 + 2.0 * margin) / self.pitch).ceil() as usize;
        let gap2 = (MIN_GAP * self.pitch).powi(2);
        let none = (f32::NAN, f32::NAN);
        let mut prev: Vec<(f32, f32)> = vec![none; nx];
        let mut cur = prev.clone();
        for gy in 0..ny {
            for gx in 0..nx {
                cur[gx] = none;
                for _ in 0..TRIES {
                    let (u, v): (f32, f32) = (rng.random(), rng.random());
                    let p = (
                        start + (gx as f32 + u) * self.pitch,
                        start + (gy as f32 + v) * self.pitch,
                    );
                    let left = gx.checked_sub(1).map(|i| cur[i]);
                    let above = prev[gx.saturating_sub(1)..(gx + 2).min(nx)].iter().copied();
                    let far = |q: (f32, f32)| {
                        q.0.is_nan() || (q.0 - p.0).powi(2) + (q.1 - p.1).powi(2) >= gap2
                    };
                    if truth_at(truth, width, height, p.0, p.1) != self.phase {
                        break;
                    }
                    if left.into_iter().chain(above).all(far) && !blocked(p) {
                        cur[gx] = p;
                        let spread = rng.random_range(-AMP_SPREAD..=AMP_SPREAD);
                        out.push(Atom {
                            x: p.0,
                            y: p.1,
                            amp: self.amp * (1.0 + spread),
                            sigma: self.sigma,
                        });
                        break;
                    }
                }
            }
            std::mem::swap(&mut prev, &mut cur);
        }
    }
}
