//! [`extract_chips`]: cut a raster into the chips of a [`ChipGrid`].

use std::ops::Range;

use rayon::prelude::*;

use crate::{ChipGrid, ImagingError, Raster};

/// Copies every chip of `grid` out of `r`, in grid order, into one contiguous buffer of
/// `grid.len() × chip × chip` values (each chip row-major).
///
/// Errors if `r` is malformed or its size differs from the one `grid` was built for.
/// For large grids, [`extract_chips_into`] fills a reusable batch buffer instead.
pub fn extract_chips(r: &Raster, grid: &ChipGrid) -> Result<Vec<f32>, ImagingError> {
    let c = grid.chip();
    let mut out = vec![0.0f32; grid.len() * c * c];
    extract_chips_into(r, grid, 0..grid.len(), &mut out)?;
    Ok(out)
}

/// Copies chips `chips` (indices in grid order) into `out`, which must hold exactly
/// `chips.len() × chip × chip` values: one batch for the embedder without a whole-image copy.
pub fn extract_chips_into(
    r: &Raster,
    grid: &ChipGrid,
    chips: Range<usize>,
    out: &mut [f32],
) -> Result<(), ImagingError> {
    r.validate()?;
    if r.width != grid.width() || r.height != grid.height() {
        return Err(ImagingError::InvalidArgument(format!(
            "chip grid was built for a {} × {} image but the raster is {} × {}; \
             build the grid from the raster's size",
            grid.width(),
            grid.height(),
            r.width,
            r.height
        )));
    }
    let c = grid.chip();
    let Some(positions) = grid.positions().get(chips.clone()) else {
        return Err(ImagingError::InvalidArgument(format!(
            "chip range {chips:?} is outside the grid's {} chips",
            grid.len()
        )));
    };
    if out.len() != positions.len() * c * c {
        return Err(ImagingError::InvalidArgument(format!(
            "chip buffer holds {} values, expected {} chips × {c} × {c} = {}",
            out.len(),
            positions.len(),
            positions.len() * c * c
        )));
    }
    out.par_chunks_exact_mut(c * c)
        .zip(positions)
        .with_min_len(64)
        .for_each(|(dst, &(x, y))| {
            let (x, y) = (x as usize, y as usize);
            for (row, dst_row) in dst.chunks_exact_mut(c).enumerate() {
                let start = (y + row) * r.width + x;
                dst_row.copy_from_slice(&r.pixels[start..start + c]);
            }
        });
    Ok(())
}
