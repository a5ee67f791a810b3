//! Texture mosaics: crops of real grayscale textures pasted into irregular regions, with
//! the texture index as truth.

use rand::Rng;

use crate::SynthImage;
use crate::error::{SynthError, check_size};
use crate::streams;
use crate::wave::Wave;

/// Fewest textures a mosaic takes.
pub const MIN_TEXTURES: usize = 2;
/// Most textures a mosaic takes.
pub const MAX_TEXTURES: usize = 16;
/// Most Voronoi cells (more are clamped to this).
pub const MAX_CELLS: usize = 64;

/// How a mosaic's area is split among the textures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MosaicLayout {
    /// One vertical band per texture, in order from left to right, split by wavy curves
    /// that never cross. With two textures: halves split by a curve.
    Bands,
    /// Voronoi cells of `cells` well-spread random seeds, measured in a sine-warped plane so
    /// that edges bend. Seed `i` shows texture `i % n`, so every texture appears; `cells` is
    /// clamped to `n..=64`. Neighbouring cells of one texture merge into one region.
    Voronoi {
        /// Number of cells.
        cells: usize,
    },
}

impl Default for MosaicLayout {
    fn default() -> Self {
        MosaicLayout::Voronoi { cells: 6 }
    }
}

/// Builds a `width`×`height` mosaic of `textures`, each `(width, height, row-major
/// pixels)`. Takes 2..=16 textures. Pixel values are copied unchanged (scale them first if
/// they should share a range). Each texture is read from a random offset and mirror-tiled
/// where the output is larger than the texture, so seams never show. Truth is the texture
/// index. Deterministic for a seed.
pub fn mosaic(
    textures: &[(usize, usize, &[f32])],
    width: usize,
    height: usize,
    layout: MosaicLayout,
    seed: u64,
) -> Result<SynthImage, SynthError> {
    check_size(width, height)?;
    check_textures(textures)?;
    let n = textures.len();
    let mut rng = streams::rng(seed, streams::MOSAIC);
    let truth = match layout {
        MosaicLayout::Bands => bands(n, width, height, &mut rng),
        MosaicLayout::Voronoi { cells } => {
            voronoi(n, cells.clamp(n, MAX_CELLS), width, height, &mut rng)
        }
    };
    let offsets: Vec<(usize, usize)> = textures
        .iter()
        .map(|&(tw, th, _)| (rng.random_range(0..2 * tw), rng.random_range(0..2 * th)))
        .collect();
    let mut pixels = vec![0.0f32; width * height];
    for (y, (prow, trow)) in pixels
        .chunks_exact_mut(width)
        .zip(truth.chunks_exact(width))
        .enumerate()
    {
        for (x, (p, &t)) in prow.iter_mut().zip(trow.iter()).enumerate() {
            let (tw, th, data) = textures[usize::from(t)];
            let (ox, oy) = offsets[usize::from(t)];
            *p = data[mirror(y + oy, th) * tw + mirror(x + ox, tw)];
        }
    }
    Ok(SynthImage {
        width,
        height,
        pixels,
        truth,
    })
}

fn check_textures(textures: &[(usize, usize, &[f32])]) -> Result<(), SynthError> {
    if !(MIN_TEXTURES..=MAX_TEXTURES).contains(&textures.len()) {
        return Err(SynthError::TextureCount {
            got: textures.len(),
            min: MIN_TEXTURES,
            max: MAX_TEXTURES,
        });
    }
    for (index, &(tw, th, data)) in textures.iter().enumerate() {
        let bad = |reason| Err(SynthError::BadTexture { index, reason });
        if tw == 0 || th == 0 {
            return bad("width and height must be at least 1");
        }
        if tw.checked_mul(th) != Some(data.len()) {
            return bad("pixel count is not width × height");
        }
        if data.iter().any(|v| !v.is_finite()) {
            return bad("contains NaN or infinite values");
        }
    }
    Ok(())
}

/// Index `i` folded into `0..n` by mirroring: 0 1 … n−1 n−1 … 1 0 0 1 ….
fn mirror(i: usize, n: usize) -> usize {
    let r = i % (2 * n);
    if r < n { r } else { 2 * n - 1 - r }
}

/// `n` vertical bands split by `n − 1` wavy curves that stay apart.
fn bands<R: Rng>(n: usize, width: usize, height: usize, rng: &mut R) -> Vec<u8> {
    let step = 1.0 / n as f32;
    // Each curve strays at most 1.25 × amp from its base, under half the gap of `step`.
    let curves: Vec<Vec<f32>> = (1..n)
        .map(|k| {
            Wave::random(rng, k as f32 * step, (0.15 * step, 0.3 * step))
                .sample(height, width as f32)
        })
        .collect();
    let mut truth = vec![0u8; width * height];
    for (y, row) in truth.chunks_exact_mut(width).enumerate() {
        for (x, t) in row.iter_mut().enumerate() {
            *t = curves.iter().filter(|c| x as f32 >= c[y]).count() as u8;
        }
    }
    truth
}

/// Nearest-seed cells in a warped plane; seed `i` carries texture `i % n`.
fn voronoi<R: Rng>(n: usize, cells: usize, width: usize, height: usize, rng: &mut R) -> Vec<u8> {
    let (wf, hf) = (width as f32, height as f32);
    // Dart throwing keeps seeds apart, so that no cell is a sliver.
    let min_d2 = 0.25 * wf * hf / cells as f32;
    let mut seeds: Vec<(f32, f32)> = Vec::with_capacity(cells);
    while seeds.len() < cells {
        let mut cand = (0.0, 0.0);
        for _ in 0..30 {
            cand = (rng.random_range(0.0..wf), rng.random_range(0.0..hf));
            if seeds
                .iter()
                .all(|s| (s.0 - cand.0).powi(2) + (s.1 - cand.1).powi(2) >= min_d2)
            {
                break;
            }
        }
        seeds.push(cand);
    }
    let amp = 0.06 * wf.min(hf);
    let warp_x = Wave::random(rng, 0.0, (0.6, 1.0)).sample(height, amp);
    let warp_y = Wave::random(rng, 0.0, (0.6, 1.0)).sample(width, amp);
    let mut truth = vec![0u8; width * height];
    for (y, row) in truth.chunks_exact_mut(width).enumerate() {
        let qy_base = y as f32;
        for (x, t) in row.iter_mut().enumerate() {
            let qx = x as f32 + warp_x[y];
            let qy = qy_base + warp_y[x];
            let mut best = (f32::MAX, 0usize);
            for (i, s) in seeds.iter().enumerate() {
                let d = (s.0 - qx).powi(2) + (s.1 - qy).powi(2);
                if d < best.0 {
                    best = (d, i);
                }
            }
            *t = (best.1 % n) as u8;
        }
    }
    truth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_folds() {
        let got: Vec<usize> = (0..8).map(|i| mirror(i, 3)).collect();
        assert_eq!(got, vec![0, 1, 2, 2, 1, 0, 0, 1]);
        assert_eq!(mirror(5, 1), 0);
    }
}
