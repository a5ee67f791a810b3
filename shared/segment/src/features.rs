//! Chip features beside the CNN embedding, measured on the normalised image under the chip
//! grid, and how the blocks are weighed into one vector per chip.
//!
//! - `intensity`: the chip's mean, spread (standard deviation) and 10th, 50th and 90th
//!   percentiles, in the image's normalised units. Phases in SEM often differ first in mean
//!   brightness, which a CNN fed chips with the image's contrast sees only weakly.
//!
//! A block's columns are centred on their mean over the image's chips and the block is scaled
//! so that its root-mean-square row length is 1, the length of a CNN row after centring and
//! normalisation. Its weight then says how much it counts against the CNN block in the cosine
//! between two chips. A block that varies less than [`MIN_SPREAD`] over the image (flat
//! brightness, say) is scaled by that floor instead, so noise is not blown up to full weight.

use rayon::prelude::*;
use serde::Serialize;
use tessera_imaging::{ChipGrid, Raster};

/// Below this root-mean-square row length (in normalised image units), a block is not
/// stretched further: its variation is treated as noise.
pub const MIN_SPREAD: f32 = 0.02;

/// The columns of the intensity block.
pub const INTENSITY: [&str; 5] = ["mean", "std", "q10", "q50", "q90"];

/// One named block of per-chip features and the weight it enters the graph with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureBlock {
    /// The block's name (`cnn`, `intensity`, `context`).
    pub name: &'static str,
    /// Its columns: the model's output width for `cnn`, the width it averages for `context`,
    /// else named statistics.
    pub columns: usize,
    /// Column names, where they have names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub column_names: Vec<&'static str>,
    /// Its weight against the CNN block (the CNN block's weight is 1).
    pub weight: f32,
}

/// Per-chip intensity statistics (`n × 5`, see [`INTENSITY`]) of `image` under `grid`.
pub fn intensity_stats(image: &Raster, grid: &ChipGrid) -> Vec<f32> {
    grid.positions()
        .par_iter()
        .with_min_len(32)
        .map(|&(x, y)| chip_intensity(image, x as usize, y as usize, grid.chip()))
        .collect::<Vec<[f32; 5]>>()
        .concat()
}

/// The [`INTENSITY`] statistics of the `chip × chip` square at `(x, y)`: mean and spread over
/// every pixel, quantiles from a 64-bin histogram.
fn chip_intensity(image: &Raster, x: usize, y: usize, chip: usize) -> [f32; 5] {
    const BINS: usize = 64;
    // Quantiles from every other pixel of every other row: a quarter of the work, and the
    // chip is smooth enough at that step for 64 bins.
    let step = if chip >= 32 { 2 } else { 1 };
    let sampled = (chip.div_ceil(step) * chip.div_ceil(step)) as f64;
    let (mut sum, mut sq) = (0f64, 0f64);
    let mut hist = [0u32; BINS];
    let rows = image.pixels[y * image.width..]
        .chunks(image.width)
        .take(chip);
    for (r, row) in rows.enumerate() {
        let row = &row[x..x + chip];
        for &v in row {
            let v = f64::from(v);
            sum += v;
            sq += v * v;
        }
        if r % step == 0 {
            for &v in row.iter().step_by(step) {
                hist[((v.clamp(0.0, 1.0) * BINS as f32) as usize).min(BINS - 1)] += 1;
            }
        }
    }
    let area = (chip * chip) as f64;
    let mean = sum / area;
    let std = (sq / area - mean * mean).max(0.0).sqrt();
    let quantile = |q: f64| {
        let want = q * sampled;
        let mut seen = 0.0;
        for (b, &c) in hist.iter().enumerate() {
            let next = seen + f64::from(c);
            if next >= want && c > 0 {
                let within = (want - seen) / f64::from(c);
                return ((b as f64 + within) / BINS as f64) as f32;
            }
            seen = next;
        }
        1.0
    };
    [
        mean as f32,
        std as f32,
        quantile(0.1),
        quantile(0.5),
        quantile(0.9),
    ]
}

/// Centres `block`'s columns (`n × cols`) and scales it to a root-mean-square row length of
/// `weight` (see the module docs for the floor).
pub fn scale_block(block: &mut [f32], n: usize, cols: usize, weight: f32) {
    if n == 0 || cols == 0 {
        return;
    }
    let mut mean = vec![0f64; cols];
    for row in block.chunks_exact(cols) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += f64::from(*v));
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut total = 0f64;
    for row in block.chunks_exact_mut(cols) {
        for (v, m) in row.iter_mut().zip(&mean) {
            *v -= *m as f32;
            total += f64::from(*v) * f64::from(*v);
        }
    }
    let rms = ((total / n as f64).sqrt() as f32).max(MIN_SPREAD);
    block.iter_mut().for_each(|v| *v *= weight / rms);
}

/// The mean of `rows` (`n × dim`, grid order) over each chip's neighbourhood: the chips up
/// to `steps_per_chip` grid steps away in each direction, so a window about three chips wide
/// (a second, coarser scale at no embedding cost).
pub fn context_mean(rows: &[f32], dim: usize, shape: crate::GridShape) -> Vec<f32> {
    let (cols, nrows, r) = (shape.cols, shape.rows, shape.steps_per_chip);
    // Box sums along rows of the grid, then along columns.
    let mut across = vec![0f32; rows.len()];
    for gr in 0..nrows {
        for gc in 0..cols {
            let out = &mut across[(gr * cols + gc) * dim..(gr * cols + gc + 1) * dim];
            for c in gc.saturating_sub(r)..=(gc + r).min(cols - 1) {
                let src = &rows[(gr * cols + c) * dim..(gr * cols + c + 1) * dim];
                out.iter_mut().zip(src).for_each(|(o, v)| *o += v);
            }
        }
    }
    let mut out = vec![0f32; rows.len()];
    for gr in 0..nrows {
        for gc in 0..cols {
            let dst = &mut out[(gr * cols + gc) * dim..(gr * cols + gc + 1) * dim];
            for rr in gr.saturating_sub(r)..=(gr + r).min(nrows - 1) {
                let src = &across[(rr * cols + gc) * dim..(rr * cols + gc + 1) * dim];
                dst.iter_mut().zip(src).for_each(|(o, v)| *o += v);
            }
        }
    }
    out
}

/// Appends each of `blocks` (`n × cols`) to the rows of `base` (`n × dim`), giving
/// `n × (dim + Σ cols)`.
pub fn concat_rows(base: &[f32], dim: usize, blocks: &[(&[f32], usize)], n: usize) -> Vec<f32> {
    let width = dim + blocks.iter().map(|(_, c)| c).sum::<usize>();
    let mut out = Vec::with_capacity(n * width);
    for i in 0..n {
        out.extend_from_slice(&base[i * dim..(i + 1) * dim]);
        for (b, c) in blocks {
            out.extend_from_slice(&b[i * c..(i + 1) * c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Raster {
        let pixels = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y));
        Raster {
            width: w,
            height: h,
            pixels: pixels.collect(),
        }
    }

    #[test]
    fn intensity_sees_a_bright_half() {
        let img = image(64, 32, |x, _| if x < 32 { 0.2 } else { 0.8 });
        let grid = ChipGrid::new(64, 32, 32, 32).unwrap();
        let s = intensity_stats(&img, &grid);
        assert_eq!(s.len(), 2 * INTENSITY.len());
        assert!(
            (s[0] - 0.2).abs() < 1e-5 && (s[5] - 0.8).abs() < 1e-5,
            "{s:?}"
        );
        assert!(s[1] < 1e-3, "a flat chip has no spread");
        assert!(
            (s[3] - 0.2).abs() < 0.02 && (s[8] - 0.8).abs() < 0.02,
            "{s:?}"
        );
    }

    #[test]
    fn a_scaled_block_has_unit_rms_rows_times_its_weight() {
        let mut b = vec![0.0, 1.0, 0.5, 2.0, 1.0, 3.0];
        scale_block(&mut b, 3, 2, 0.5);
        let rms = (b.iter().map(|v| v * v).sum::<f32>() / 3.0).sqrt();
        assert!((rms - 0.5).abs() < 1e-5, "{rms}");
        let mut flat = vec![0.3, 0.3001, 0.3];
        scale_block(&mut flat, 3, 1, 1.0);
        assert!(
            flat.iter().all(|v| v.abs() < 0.01),
            "noise stays small: {flat:?}"
        );
    }
}
