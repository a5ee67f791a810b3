//! [`paint_labels`]: chip labels → a full-resolution pixel label map.
//!
//! # Rule
//! Each pixel takes the label held by the **majority** of the chips that cover it; with
//! [`paint_labels_weighted`], the label whose covering chips have the largest summed weight
//! (for example each chip's confidence in its own label). A tie goes
//! to the tied label of the covering chip whose centre is nearest the pixel centre (Euclidean);
//! if two such chips are equally near, the lower label wins. [`NO_LABEL`] (`u32::MAX`, a hidden
//! chip) votes like any label, so it loses equal-distance ties; a pixel whose majority is
//! hidden stays [`NO_LABEL`]. With `stride == chip` every pixel but those under the edge chip
//! is covered once, and this is a plain block fill.
//!
//! # Cost
//! Chip starts and ends cut each axis into runs ([`chip_runs`]) over which the set of covering chips is
//! constant, so the vote runs once per cell of that lattice (4 cells per chip for
//! `stride = chip / 2`), not once per pixel; only tied cells are resolved pixel by pixel.

use rayon::prelude::*;

use crate::{ChipGrid, ChipRun, ImagingError, chip_runs};

/// The label value meaning "no label" (a hidden community); never coloured.
pub const NO_LABEL: u32 = u32::MAX;

/// Paints chip labels back onto the image grid (see the module docs for the rule).
///
/// `chip_labels` holds one label per chip in grid order; each must be `< n_labels` or
/// [`NO_LABEL`]. Returns `width × height` labels, row-major.
pub fn paint_labels(
    grid: &ChipGrid,
    chip_labels: &[u32],
    n_labels: usize,
) -> Result<Vec<u32>, ImagingError> {
    paint(grid, chip_labels, None, n_labels)
}

/// Like [`paint_labels`], but each chip's vote counts `weights[i]` (finite, non-negative)
/// instead of 1. Equal sums are ties, resolved as in [`paint_labels`].
pub fn paint_labels_weighted(
    grid: &ChipGrid,
    chip_labels: &[u32],
    weights: &[f32],
    n_labels: usize,
) -> Result<Vec<u32>, ImagingError> {
    if weights.len() != chip_labels.len() {
        return Err(ImagingError::LabelMismatch(format!(
            "got {} weights for {} chip labels; pass one weight per chip",
            weights.len(),
            chip_labels.len()
        )));
    }
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !w.is_finite() || **w < 0.0)
    {
        return Err(ImagingError::InvalidArgument(format!(
            "chip {i} has vote weight {w}; weights must be finite and non-negative"
        )));
    }
    paint(grid, chip_labels, Some(weights), n_labels)
}

fn paint(
    grid: &ChipGrid,
    chip_labels: &[u32],
    weights: Option<&[f32]>,
    n_labels: usize,
) -> Result<Vec<u32>, ImagingError> {
    if chip_labels.len() != grid.len() {
        return Err(ImagingError::LabelMismatch(format!(
            "got {} chip labels for a grid of {} chips; pass exactly one label per chip",
            chip_labels.len(),
            grid.len()
        )));
    }
    if let Some((i, &l)) = chip_labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l != NO_LABEL && l as usize >= n_labels)
    {
        return Err(ImagingError::LabelMismatch(format!(
            "chip {i} has label {l}, but there are only {n_labels} labels (0..{n_labels}); \
             pass the right label count or use u32::MAX for 'no label'"
        )));
    }
    let (width, height, chip) = (grid.width(), grid.height(), grid.chip());
    let xsegs = chip_runs(grid.col_starts(), chip, width);
    let ysegs = chip_runs(grid.row_starts(), chip, height);
    let cols = grid.cols();
    // The vote once per lattice cell, band by band of rows...
    let bands: Vec<Band> = ysegs
        .iter()
        .map(|ys| vote_band(chip_labels, weights, cols, ys, &xsegs, width))
        .collect();
    // ...then the pixels, rows spread over rayon's threads. The runs cover every row.
    let band_of: Vec<usize> = (ysegs.iter().enumerate())
        .flat_map(|(b, ys)| std::iter::repeat_n(b, ys.end - ys.start))
        .collect();
    let mut out = vec![NO_LABEL; width * height];
    out.par_chunks_mut(width)
        .enumerate()
        .with_min_len(16)
        .for_each(|(y, row)| {
            let b = band_of[y];
            let (ys, band) = (&ysegs[b], &bands[b]);
            row.copy_from_slice(&band.row);
            for (xi, winners) in &band.tied {
                let xs = &xsegs[*xi];
                for (x, px) in row[xs.start..xs.end].iter_mut().enumerate() {
                    *px = nearest_winner(grid, chip_labels, ys, xs, winners, xs.start + x, y);
                }
            }
        });
    Ok(out)
}

/// One band of rows covered by the same chips: its painted row, and the cells whose vote
/// tied (by column run, with the tied labels), resolved per pixel.
struct Band {
    row: Vec<u32>,
    tied: Vec<(usize, Vec<u32>)>,
}

fn vote_band(
    chip_labels: &[u32],
    weights: Option<&[f32]>,
    cols: usize,
    ys: &ChipRun,
    xsegs: &[ChipRun],
    width: usize,
) -> Band {
    let mut row = vec![NO_LABEL; width];
    let mut tied = Vec::new();
    let mut votes: Vec<(u32, f64)> = Vec::new();
    for (xi, xs) in xsegs.iter().enumerate() {
        votes.clear();
        for r in ys.chips.clone() {
            for c in xs.chips.clone() {
                let i = r * cols + c;
                let (l, w) = (chip_labels[i], weights.map_or(1.0, |w| f64::from(w[i])));
                match votes.iter_mut().find(|(label, _)| *label == l) {
                    Some((_, n)) => *n += w,
                    None => votes.push((l, w)),
                }
            }
        }
        let best = votes
            .iter()
            .map(|&(_, n)| n)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut winners = votes.iter().filter(|&&(_, n)| n == best).map(|&(l, _)| l);
        match (winners.next(), winners.next()) {
            (Some(only), None) => row[xs.start..xs.end].fill(only),
            _ => {
                let tie = votes.iter().filter(|&&(_, n)| n == best).map(|&(l, _)| l);
                tied.push((xi, tie.collect()));
            }
        }
    }
    Band { row, tied }
}

/// Among the covering chips whose label is in `winners`, the label of the one whose centre is
/// nearest pixel `(x, y)`; equal distances go to the lower label.
fn nearest_winner(
    grid: &ChipGrid,
    chip_labels: &[u32],
    ys: &ChipRun,
    xs: &ChipRun,
    winners: &[u32],
    x: usize,
    y: usize,
) -> u32 {
    let chip = grid.chip() as i64;
    let cols = grid.cols();
    // Doubled coordinates keep centres integral: pixel centre 2x + 1, chip centre 2s + chip.
    let (px, py) = (2 * x as i64 + 1, 2 * y as i64 + 1);
    let mut best = (i64::MAX, NO_LABEL);
    for r in ys.chips.clone() {
        let dy = py - (2 * i64::from(grid.row_starts()[r]) + chip);
        for c in xs.chips.clone() {
            let l = chip_labels[r * cols + c];
            if !winners.contains(&l) {
                continue;
            }
            let dx = px - (2 * i64::from(grid.col_starts()[c]) + chip);
            let candidate = (dx * dx + dy * dy, l);
            if candidate < best {
                best = candidate;
            }
        }
    }
    best.1
}
