//! [`ChipGrid`]: where the chips sit on the image.
//!
//! # Edge rule
//! Along each axis chips start at `0, stride, 2·stride, …` while `start + chip <= size`. If the
//! last of those does not reach the edge, one more chip is added flush with the edge
//! (`start = size − chip`). So every pixel is covered by at least one chip, no padding is
//! invented, and every chip is full size; only the edge chip may overlap its neighbour by
//! more than `chip − stride`.
//!
//! Chips are listed row-major: all chips of the top row left to right, then the next row.
//! An image smaller than one chip, `chip == 0`, `stride == 0` and `stride > chip` (which would
//! leave gaps) are errors.

use crate::ImagingError;

/// The chip layout for one image size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipGrid {
    width: usize,
    height: usize,
    chip: usize,
    stride: usize,
    xs: Vec<u32>,
    ys: Vec<u32>,
    positions: Vec<(u32, u32)>,
}

impl ChipGrid {
    /// Lays out `chip × chip` chips every `stride` pixels over a `width × height` image,
    /// following the edge rule in the module docs.
    pub fn new(
        width: usize,
        height: usize,
        chip: usize,
        stride: usize,
    ) -> Result<ChipGrid, ImagingError> {
        let bad = |m: String| Err(ImagingError::InvalidGrid(m));
        if chip == 0 {
            return bad("chip size is 0; use a positive chip size such as 64".into());
        }
        if stride == 0 {
            return bad(format!(
                "chip stride is 0; use a stride between 1 and the chip size ({chip}), \
                 e.g. {chip} for no overlap or {} for half overlap",
                (chip / 2).max(1)
            ));
        }
        if stride > chip {
            return bad(format!(
                "chip stride {stride} is larger than the chip size {chip}, which would leave \
                 pixels uncovered; use a stride of at most {chip}"
            ));
        }
        if width < chip || height < chip {
            return bad(format!(
                "image is {width} × {height} pixels, smaller than one {chip} × {chip} chip; \
                 lower the chip size to at most {}",
                width.min(height)
            ));
        }
        if u32::try_from(width).is_err() || u32::try_from(height).is_err() {
            return bad(format!(
                "image is {width} × {height} pixels; sides above {} are not supported",
                u32::MAX
            ));
        }
        let xs = axis_starts(width, chip, stride);
        let ys = axis_starts(height, chip, stride);
        let mut positions = Vec::with_capacity(xs.len() * ys.len());
        for &y in &ys {
            positions.extend(xs.iter().map(|&x| (x, y)));
        }
        Ok(ChipGrid {
            width,
            height,
            chip,
            stride,
            xs,
            ys,
            positions,
        })
    }

    /// Number of chips (`cols() * rows()`).
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Always false: a valid grid has at least one chip.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Top-left `(x, y)` of every chip, row-major.
    pub fn positions(&self) -> &[(u32, u32)] {
        &self.positions
    }

    /// Chip side in pixels.
    pub fn chip(&self) -> usize {
        self.chip
    }

    /// Step between chip starts in pixels (the edge chip may be closer).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Chips per row.
    pub fn cols(&self) -> usize {
        self.xs.len()
    }

    /// Chips per column.
    pub fn rows(&self) -> usize {
        self.ys.len()
    }

    /// Image width the grid was built for.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Image height the grid was built for.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Left edges of the chip columns, ascending.
    pub fn col_starts(&self) -> &[u32] {
        &self.xs
    }

    /// Top edges of the chip rows, ascending.
    pub fn row_starts(&self) -> &[u32] {
        &self.ys
    }
}

/// Chip starts along one axis (`size >= chip >= stride >= 1`, `size` fits `u32`).
fn axis_starts(size: usize, chip: usize, stride: usize) -> Vec<u32> {
    let mut starts: Vec<u32> = (0..=size - chip)
        .step_by(stride)
        .map(|s| s as u32)
        .collect();
    let last = starts.last().map_or(0, |&s| s as usize);
    if last + chip < size {
        starts.push((size - chip) as u32);
    }
    starts
}

/// A run of pixels `[start, end)` along one axis covered by the same chips: `chips` indexes
/// that axis's chip starts ([`ChipGrid::col_starts`] or [`ChipGrid::row_starts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipRun {
    /// First pixel of the run.
    pub start: usize,
    /// One past its last pixel.
    pub end: usize,
    /// The chips that cover it, as indices into the axis's chip starts.
    pub chips: std::ops::Range<usize>,
}

/// Cuts `[0, size)` at every chip start and end (ends clipped to `size`) into runs over which
/// the covering chips are the same; `starts` ascending, chips `chip` px wide.
pub fn chip_runs(starts: &[u32], chip: usize, size: usize) -> Vec<ChipRun> {
    let mut cuts: Vec<usize> = starts
        .iter()
        .flat_map(|&s| [s as usize, (s as usize + chip).min(size)])
        .chain([0, size])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut first = 0usize; // first chip whose end is beyond the run's start
    let mut past = 0usize; // one past the last chip starting at or before the run's start
    cuts.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            while first < starts.len() && starts[first] as usize + chip <= a {
                first += 1;
            }
            while past < starts.len() && starts[past] as usize <= a {
                past += 1;
            }
            ChipRun {
                start: a,
                end: b,
                chips: first..past,
            }
        })
        .collect()
}
