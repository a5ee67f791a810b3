//! Scan-line jitter: each row of a raster scan lands slightly left or right of where it
//! should, as with a STEM probe disturbed by stray fields or stage drift.

use rand::Rng;
use rand_distr::StandardNormal;

/// Correlation of the slow (drift-like) part of the offset from one line to the next.
const RHO: f32 = 0.95;

/// Shifts each row of `pixels` (linear interpolation) and of `truth` (nearest pixel) by one
/// random horizontal offset with standard deviation `sigma_px`. The offset mixes a slowly
/// varying AR(1) part (64 % of the variance) with independent per-line jitter (36 %).
/// Edges are clamped.
pub(crate) fn jitter<R: Rng>(
    pixels: &mut [f32],
    truth: &mut [u8],
    width: usize,
    sigma_px: f32,
    rng: &mut R,
) {
    if sigma_px <= 0.0 || width == 0 {
        return;
    }
    let innov = (1.0 - RHO * RHO).sqrt();
    let mut slow: f32 = rng.sample(StandardNormal);
    let mut row_px = vec![0.0f32; width];
    let mut row_truth = vec![0u8; width];
    let last = (width - 1) as f32;
    for (px, tr) in pixels
        .chunks_exact_mut(width)
        .zip(truth.chunks_exact_mut(width))
    {
        let z: f32 = rng.sample(StandardNormal);
        let white: f32 = rng.sample(StandardNormal);
        slow = RHO * slow + innov * z;
        let offset = sigma_px * (0.8 * slow + 0.6 * white);
        row_px.copy_from_slice(px);
        row_truth.copy_from_slice(tr);
        for (x, (p, t)) in px.iter_mut().zip(tr.iter_mut()).enumerate() {
            let src = (x as f32 - offset).clamp(0.0, last);
            let i0 = src.floor() as usize;
            let i1 = (i0 + 1).min(width - 1);
            let f = src - i0 as f32;
            *p = (1.0 - f) * row_px[i0] + f * row_px[i1];
            *t = row_truth[src.round() as usize];
        }
    }
}
