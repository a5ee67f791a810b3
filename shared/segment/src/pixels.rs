//! Per-pixel refinement of the chip communities along their boundaries, for boundaries finer
//! than a chip.
//!
//! Where every chip covering a pixel agrees, the pixel keeps their community. Elsewhere (along
//! boundaries) each community's share of the covering chips' votes is its prior, and each
//! community has a model of the local brightness of its pixels: a histogram of the image
//! smoothed over `sigma` pixels, over the pixels it holds. A boundary pixel takes the
//! community with the largest `prior · likelihood`, the prior floored at `strength / K` so
//! that brightness can overrule a minority of chips. The histograms are refitted to the new
//! assignment a few times (an EM that starts from the painted labels).
//!
//! Refining every pixel, not only boundary pixels, was measured and rejected: the
//! brightness of a textured phase (a porous coating, a texture mosaic) then splits it.
//!
//! Cost: the votes are shared out once per cell of the chip lattice (runs of pixels covered
//! by the same chips), then a blur and a few passes over the boundary pixels.

use rayon::prelude::*;
use tessera_imaging::{ChipGrid, Raster, chip_runs};

/// Refitting rounds of the brightness models.
pub const ROUNDS: usize = 3;

/// Bins of the brightness histograms.
const BINS: usize = 32;

/// A pixel whose top community holds at least this share of the votes is not a boundary pixel.
const UNANIMOUS: f32 = 0.999;

/// Refines `painted` (the pixel labels of `n_labels` communities painted from `chip_labels`
/// with `chip_weights`, one per chip of `grid`) on the normalised `image`. `strength` in
/// `(0, 1]` is how much the brightness may overrule the chips; `sigma` the smoothing in px.
#[allow(clippy::too_many_arguments)]
pub fn refine_labels(
    grid: &ChipGrid,
    image: &Raster,
    painted: &[u32],
    chip_labels: &[u32],
    chip_weights: Option<&[f32]>,
    n_labels: usize,
    strength: f32,
    sigma: f32,
) -> Vec<u32> {
    let (w, h) = (image.width, image.height);
    let n = w * h;
    let k = n_labels.max(1);
    let mut labels = painted.to_vec();
    if k < 2 || labels.len() != n {
        return labels;
    }
    let strength = f64::from(strength.clamp(0.0, 1.0));
    let floor = strength / k as f64;
    // Boundary pixels and, per boundary pixel, the index of its cell's floored log priors.
    let mut edge: Vec<u32> = Vec::new();
    let mut edge_cell: Vec<u32> = Vec::new();
    let mut log_prior: Vec<f32> = Vec::new();
    let (xcells, ycells) = (
        chip_runs(grid.col_starts(), grid.chip(), w),
        chip_runs(grid.row_starts(), grid.chip(), h),
    );
    let cols = grid.cols();
    let mut share = vec![0f64; k];
    for yc in &ycells {
        for xc in &xcells {
            share.fill(0.0);
            for r in yc.chips.clone() {
                for c in xc.chips.clone() {
                    let i = r * cols + c;
                    let l = chip_labels[i] as usize;
                    if l < k {
                        share[l] += chip_weights.map_or(1.0, |ws| f64::from(ws[i]));
                    }
                }
            }
            let total: f64 = share.iter().sum();
            if total <= 0.0 || share.iter().any(|&v| v >= f64::from(UNANIMOUS) * total) {
                continue;
            }
            let cell = (log_prior.len() / k) as u32;
            log_prior.extend(
                share
                    .iter()
                    .map(|&v| ((1.0 - strength) * v / total + floor).ln() as f32),
            );
            for y in yc.start..yc.end {
                for x in xc.start..xc.end {
                    edge.push((y * w + x) as u32);
                    edge_cell.push(cell);
                }
            }
        }
    }
    tracing::debug!(
        boundary = edge.len(),
        pixels = n,
        "pixels refined along community boundaries"
    );
    if edge.is_empty() {
        return labels;
    }
    let bins: Vec<u8> = smooth(&image.pixels, w, h, sigma)
        .par_iter()
        .with_min_len(1 << 16)
        .map(|&x| bin(x) as u8)
        .collect();
    // Histograms of the pixels that stay, then of the boundary pixels as assigned.
    let mut fixed = vec![0f64; k * BINS];
    for (&l, &b) in labels.iter().zip(&bins) {
        fixed[l as usize * BINS + b as usize] += 1.0;
    }
    for &i in &edge {
        fixed[labels[i as usize] as usize * BINS + bins[i as usize] as usize] -= 1.0;
    }
    for _ in 0..ROUNDS {
        let mut hist = fixed.clone();
        for &i in &edge {
            hist[labels[i as usize] as usize * BINS + bins[i as usize] as usize] += 1.0;
        }
        let model = log_density(&hist, k);
        for (&i, &cell) in edge.iter().zip(&edge_cell) {
            let b = bins[i as usize] as usize;
            let cell = cell as usize;
            let prior = &log_prior[cell * k..(cell + 1) * k];
            let mut best = (f32::NEG_INFINITY, 0u32);
            for (c, &p) in prior.iter().enumerate() {
                let score = p + model[c * BINS + b];
                if score > best.0 {
                    best = (score, c as u32);
                }
            }
            labels[i as usize] = best.1;
        }
    }
    labels
}

fn bin(x: f32) -> usize {
    ((x.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)
}

/// Each community's log brightness density from its histogram (`k × BINS`), smoothed over
/// neighbouring bins, with a small floor so that no brightness is impossible.
fn log_density(hist: &[f64], k: usize) -> Vec<f32> {
    let mut out = vec![0f32; k * BINS];
    for c in 0..k {
        let h = &hist[c * BINS..(c + 1) * BINS];
        let total = h.iter().sum::<f64>().max(1e-12);
        for i in 0..BINS {
            let (lo, hi) = (i.saturating_sub(1), (i + 1).min(BINS - 1));
            let mass = h[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64;
            out[c * BINS + i] = (mass / total + 1e-3).ln() as f32;
        }
    }
    out
}

/// The image blurred by three box passes per axis approximating a Gaussian of `sigma` px.
pub fn smooth(pixels: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    // Three boxes of radius r have variance 3 · r(r+1)/3 = r(r+1).
    let r = ((0.25 + f64::from(sigma * sigma)).sqrt() - 0.5)
        .round()
        .max(0.0) as usize;
    let mut a = pixels.to_vec();
    if r == 0 {
        return a;
    }
    let mut b = vec![0f32; a.len()];
    for _ in 0..3 {
        box_rows(&a, &mut b, w, r);
        box_cols(&b, &mut a, w, h, r);
    }
    a
}

/// Rows of the output per parallel task in [`box_cols`]; fixed, so that the sums (and so the
/// result, to the bit) do not depend on the number of threads.
const BAND: usize = 64;

fn box_rows(src: &[f32], dst: &mut [f32], w: usize, r: usize) {
    dst.par_chunks_mut(w)
        .zip(src.par_chunks(w))
        .with_min_len(16)
        .for_each(|(out, row)| {
            let mut acc = 0f32;
            let mut count = 0usize;
            for &v in row.iter().take(r.min(w - 1) + 1) {
                acc += v;
                count += 1;
            }
            for (x, o) in out.iter_mut().enumerate() {
                *o = acc / count as f32;
                if x + r + 1 < w {
                    acc += row[x + r + 1];
                    count += 1;
                }
                if x >= r {
                    acc -= row[x - r];
                    count -= 1;
                }
            }
        });
}

/// The vertical box: each band of [`BAND`] output rows starts its running column sums afresh.
fn box_cols(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    dst.par_chunks_mut(w * BAND)
        .enumerate()
        .for_each(|(band, out)| {
            let y0 = band * BAND;
            let mut acc = vec![0f32; w];
            let mut count = 0usize;
            for y in y0.saturating_sub(r)..=(y0 + r).min(h - 1) {
                acc.iter_mut()
                    .zip(&src[y * w..(y + 1) * w])
                    .for_each(|(a, v)| *a += v);
                count += 1;
            }
            for (dy, out_row) in out.chunks_exact_mut(w).enumerate() {
                let y = y0 + dy;
                let inv = 1.0 / count as f32;
                out_row.iter_mut().zip(&acc).for_each(|(d, a)| *d = a * inv);
                if y + r + 1 < h {
                    let add = &src[(y + r + 1) * w..(y + r + 2) * w];
                    acc.iter_mut().zip(add).for_each(|(a, v)| *a += v);
                    count += 1;
                }
                if y >= r {
                    let sub = &src[(y - r) * w..(y - r + 1) * w];
                    acc.iter_mut().zip(sub).for_each(|(a, v)| *a -= v);
                    count -= 1;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boundary_inside_a_chip_follows_the_brightness() {
        // Dark left third, bright right two thirds; 32-px chips every 16 px, labelled dark,
        // bright, bright. Between x = 16 and 32 the first two chips disagree, and painting
        // split them at x = 24; the brightness edge is at x = 21.
        let (w, h) = (64, 32);
        let pixels = (0..h)
            .flat_map(|_| (0..w).map(|x| if x < 21 { 0.2 } else { 0.8 }))
            .collect();
        let image = Raster {
            width: w,
            height: h,
            pixels,
        };
        let grid = ChipGrid::new(w, h, 32, 16).unwrap();
        let painted: Vec<u32> = (0..w * h).map(|i| u32::from(i % w >= 24)).collect();
        let labels = refine_labels(&grid, &image, &painted, &[0, 1, 1], None, 2, 0.5, 0.0);
        let row = |x: usize| labels[10 * w + x];
        assert_eq!((row(5), row(18)), (0, 0), "dark pixels stay");
        assert_eq!(
            (row(22), row(23)),
            (1, 1),
            "bright pixels painted dark move"
        );
        assert_eq!(row(60), 1);
    }

    #[test]
    fn smoothing_keeps_a_constant_image() {
        let s = smooth(&[0.5; 100], 10, 10, 2.0);
        assert!(s.iter().all(|v| (v - 0.5).abs() < 1e-6));
    }
}
