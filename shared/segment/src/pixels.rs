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
//! Cost: one pass per community to share out the votes, a blur, and a few passes over the
//! boundary pixels.

use tessera_imaging::{ChipGrid, Raster};

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
    let shares = vote_shares(grid, chip_labels, chip_weights, k);
    let strength = f64::from(strength.clamp(0.0, 1.0));
    let floor = strength / k as f64;
    // Boundary pixels and the log of their floored priors, k per pixel.
    let mut edge: Vec<u32> = Vec::new();
    let mut log_prior: Vec<f32> = Vec::new();
    for i in 0..n {
        if (0..k).any(|c| shares[c * n + i] >= UNANIMOUS) {
            continue;
        }
        edge.push(i as u32);
        log_prior.extend(
            (0..k).map(|c| ((1.0 - strength) * f64::from(shares[c * n + i]) + floor).ln() as f32),
        );
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
        .iter()
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
        for (e, &i) in edge.iter().enumerate() {
            let b = bins[i as usize] as usize;
            let prior = &log_prior[e * k..(e + 1) * k];
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

/// Each community's share of the (weighted) chip votes at every pixel, `k` planes.
fn vote_shares(grid: &ChipGrid, labels: &[u32], weights: Option<&[f32]>, k: usize) -> Vec<f32> {
    let (w, h, s) = (grid.width(), grid.height(), grid.chip());
    let stride = w + 1;
    let mut diff = vec![0f32; k * stride * (h + 1)];
    for (i, &(x, y)) in grid.positions().iter().enumerate() {
        let l = labels[i] as usize;
        if l >= k {
            continue;
        }
        let wt = weights.map_or(1.0, |ws| ws[i]);
        let (x, y) = (x as usize, y as usize);
        let d = &mut diff[l * stride * (h + 1)..(l + 1) * stride * (h + 1)];
        d[y * stride + x] += wt;
        d[y * stride + x + s] -= wt;
        d[(y + s) * stride + x] -= wt;
        d[(y + s) * stride + x + s] += wt;
    }
    let mut out = vec![0f32; k * w * h];
    let mut total = vec![0f32; w * h];
    for c in 0..k {
        let d = &mut diff[c * stride * (h + 1)..(c + 1) * stride * (h + 1)];
        for y in 0..=h {
            for x in 1..=w {
                d[y * stride + x] += d[y * stride + x - 1];
            }
        }
        for y in 1..=h {
            for x in 0..=w {
                d[y * stride + x] += d[(y - 1) * stride + x];
            }
        }
        for y in 0..h {
            for x in 0..w {
                let v = d[y * stride + x];
                out[c * w * h + y * w + x] = v;
                total[y * w + x] += v;
            }
        }
    }
    for c in 0..k {
        for (o, &t) in out[c * w * h..(c + 1) * w * h].iter_mut().zip(&total) {
            *o = if t > 0.0 { *o / t } else { 1.0 / k as f32 };
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
        box_rows(&a, &mut b, w, h, r);
        box_cols(&b, &mut a, w, h, r);
    }
    a
}

fn box_rows(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let mut acc = 0f32;
        let mut count = 0usize;
        for &v in row.iter().take(r.min(w - 1) + 1) {
            acc += v;
            count += 1;
        }
        for x in 0..w {
            dst[y * w + x] = acc / count as f32;
            if x + r + 1 < w {
                acc += row[x + r + 1];
                count += 1;
            }
            if x >= r {
                acc -= row[x - r];
                count -= 1;
            }
        }
    }
}

fn box_cols(src: &[f32], dst: &mut [f32], w: usize, h: usize, r: usize) {
    let mut acc = vec![0f32; w];
    let mut count = 0usize;
    for y in 0..=r.min(h - 1) {
        acc.iter_mut()
            .zip(&src[y * w..(y + 1) * w])
            .for_each(|(a, v)| *a += v);
        count += 1;
    }
    for y in 0..h {
        let inv = 1.0 / count as f32;
        dst[y * w..(y + 1) * w]
            .iter_mut()
            .zip(&acc)
            .for_each(|(d, a)| *d = a * inv);
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
