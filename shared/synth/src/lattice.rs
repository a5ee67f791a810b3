//! Crystalline phases: atom columns on a rotated lattice, kept where the truth says so.

use rand::Rng;
use rand_distr::StandardNormal;

use crate::config::LatticeKind;
use crate::render::Atom;

/// Peak of a bright (A-site) column.
pub(crate) const A_AMP: f32 = 0.85;
/// Peak of a dim (B-site) perovskite column.
pub(crate) const B_AMP: f32 = 0.40;
/// Thermal displacement, as a fraction of the spacing (standard deviation per axis).
const THERMAL: f32 = 0.03;
/// Relative spread of column peaks (uniform ±).
const AMP_SPREAD: f32 = 0.05;

/// The mean peak of a column of `kind`, over its basis.
pub(crate) fn mean_amp(kind: LatticeKind) -> f32 {
    match kind {
        LatticeKind::Square | LatticeKind::Hexagonal => A_AMP,
        LatticeKind::Perovskite => 0.5 * (A_AMP + B_AMP),
    }
}

/// Area of one unit cell of `kind` at `spacing`, px².
pub(crate) fn cell_area(kind: LatticeKind, spacing: f32) -> f32 {
    spacing * spacing * kind.cell_angle().sin()
}

/// One crystalline phase: a lattice placed on the image, filling the region `phase`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Crystal {
    kind: LatticeKind,
    sigma: f32,
    phase: u8,
    thermal: f32,
    a1: [f32; 2],
    a2: [f32; 2],
    det: f32,
    origin: [f32; 2],
}

impl Crystal {
    /// A lattice of `kind` with constant `spacing` px, first vector at `angle` rad from the
    /// x axis, columns of sigma `sigma`, filling region `phase`; its origin is drawn at
    /// random near the centre of a `width`×`height` image.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new<R: Rng>(
        kind: LatticeKind,
        spacing: f32,
        angle: f32,
        sigma: f32,
        phase: u8,
        width: usize,
        height: usize,
        rng: &mut R,
    ) -> Self {
        let (s0, c0) = angle.sin_cos();
        let (s1, c1) = (angle + kind.cell_angle()).sin_cos();
        let a1 = [spacing * c0, spacing * s0];
        let a2 = [spacing * c1, spacing * s1];
        let (u, v): (f32, f32) = (rng.random(), rng.random());
        Self {
            kind,
            sigma,
            phase,
            thermal: THERMAL * spacing,
            a1,
            a2,
            det: a1[0] * a2[1] - a1[1] * a2[0],
            origin: [
                0.5 * width as f32 + u * a1[0] + v * a2[0],
                0.5 * height as f32 + u * a1[1] + v * a2[1],
            ],
        }
    }

    /// Basis of the unit cell: fractional offsets and peak.
    fn basis(&self) -> &'static [(f32, f32, f32)] {
        match self.kind {
            LatticeKind::Square | LatticeKind::Hexagonal => &[(0.0, 0.0, A_AMP)],
            LatticeKind::Perovskite => &[(0.0, 0.0, A_AMP), (0.5, 0.5, B_AMP)],
        }
    }

    /// Fractional lattice coordinates of the point (`x`, `y`).
    fn frac(&self, x: f32, y: f32) -> (f32, f32) {
        let (dx, dy) = (x - self.origin[0], y - self.origin[1]);
        (
            (dx * self.a2[1] - dy * self.a2[0]) / self.det,
            (self.a1[0] * dy - self.a1[1] * dx) / self.det,
        )
    }

    /// Position of the site at fractional coordinates (`fi`, `fj`).
    fn site(&self, fi: f32, fj: f32) -> (f32, f32) {
        (
            self.origin[0] + fi * self.a1[0] + fj * self.a2[0],
            self.origin[1] + fi * self.a1[1] + fj * self.a2[1],
        )
    }

    /// Appends the columns of this crystal whose sites fall in its region of `truth` (sites
    /// up to 4σ outside the image count by their nearest pixel) and are not `blocked` (by
    /// another grain's column across a boundary) to `out`.
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
        let (xlo, xhi) = (-margin, width as f32 - 1.0 + margin);
        let (ylo, yhi) = (-margin, height as f32 - 1.0 + margin);
        // Lattice indices of the four corners bound the (i, j) range to visit.
        let (mut imin, mut imax, mut jmin, mut jmax) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for (px, py) in [(xlo, ylo), (xhi, ylo), (xlo, yhi), (xhi, yhi)] {
            let (i, j) = self.frac(px, py);
            imin = imin.min(i);
            imax = imax.max(i);
            jmin = jmin.min(j);
            jmax = jmax.max(j);
        }
        let (i0, i1) = (imin.floor() as i64 - 1, imax.ceil() as i64 + 1);
        let (j0, j1) = (jmin.floor() as i64 - 1, jmax.ceil() as i64 + 1);
        for j in j0..=j1 {
            for i in i0..=i1 {
                for &(bi, bj, amp) in self.basis() {
                    let (x, y) = self.site(i as f32 + bi, j as f32 + bj);
                    if x < xlo || x > xhi || y < ylo || y > yhi {
                        continue;
                    }
                    if truth_at(truth, width, height, x, y) != self.phase || blocked((x, y)) {
                        continue;
                    }
                    let jx: f32 = rng.sample(StandardNormal);
                    let jy: f32 = rng.sample(StandardNormal);
                    let spread = rng.random_range(-AMP_SPREAD..=AMP_SPREAD);
                    out.push(Atom {
                        x: x + self.thermal * jx,
                        y: y + self.thermal * jy,
                        amp: amp * (1.0 + spread),
                        sigma: self.sigma,
                    });
                }
            }
        }
    }

    /// Whether an occupied site of this crystal (thermal jitter aside) lies within
    /// `sqrt(gap2)` of (`x`, `y`). Looks at the cells around the point, so it sees every
    /// site within 0.86 spacings (the row spacing of a hexagonal lattice).
    pub(crate) fn occupied_near(
        &self,
        truth: &[u8],
        width: usize,
        height: usize,
        (x, y): (f32, f32),
        gap2: f32,
    ) -> bool {
        let (fi, fj) = self.frac(x, y);
        let (i0, j0) = (fi.floor(), fj.floor());
        for dj in -1..=2 {
            for di in -1..=2 {
                for &(bi, bj, _) in self.basis() {
                    let (sx, sy) = self.site(i0 + di as f32 + bi, j0 + dj as f32 + bj);
                    if (sx - x).powi(2) + (sy - y).powi(2) < gap2
                        && truth_at(truth, width, height, sx, sy) == self.phase
                    {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// The truth id at the pixel nearest to (`x`, `y`), clamped into the image.
pub(crate) fn truth_at(truth: &[u8], width: usize, height: usize, x: f32, y: f32) -> u8 {
    let xi = (x.round().max(0.0) as usize).min(width - 1);
    let yi = (y.round().max(0.0) as usize).min(height - 1);
    truth[yi * width + xi]
}
