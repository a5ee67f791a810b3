//! The input ([`SegmentedFrame`], [`Focus`], [`Visited`]), where its chips sit ([`Layout`],
//! the same columns and rows as imaging's `ChipGrid`), and the checks that turn bad input into
//! [`RoiError`]s.

use std::ops::Range;

use tessera_protocol::GridWire;

use crate::RoiError;

/// A segmented frame, as the decider holds it after the pipeline published it.
#[derive(Debug, Clone, Copy)]
pub struct SegmentedFrame<'a> {
    /// Frame size and chip geometry.
    pub grid: GridWire,
    /// One community id per chip, row-major in grid order.
    pub chip_labels: &'a [u32],
    /// One confidence per chip (a margin `>= 0`, higher is surer), when the frame carries them.
    pub chip_confidence: Option<&'a [f32]>,
    /// One few-shot class index per chip, when the run names a classifier; the index
    /// `class_names.len()` means "unknown" (no class).
    pub chip_classes: Option<&'a [u32]>,
    /// The names of the class indices.
    pub class_names: &'a [String],
    /// The frame's pixel size in nanometres, when calibrated.
    pub pixel_size_nm: Option<f64>,
}

/// What a boundary proposal is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Focus {
    /// A community, by its id.
    Community(u32),
    /// A few-shot class, by its name.
    Class(String),
}

/// A region of the frame already imaged at high magnification, in the frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Visited {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// The chips along one axis.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    /// Chip starts, ascending.
    pub(crate) starts: Vec<u32>,
    /// Twice each chip's centre (`2·start + chip`), so odd chips stay whole numbers.
    pub(crate) centres2: Vec<u64>,
}

impl Axis {
    /// How many chips `axis_starts` of imaging lays along `size` (`size >= chip >= stride >= 1`):
    /// `0, stride, …` while `start + chip <= size`, then one flush with the edge if the last
    /// does not reach it.
    pub(crate) fn count(size: u32, chip: u32, stride: u32) -> u64 {
        let n = u64::from((size - chip) / stride) + 1;
        let last = (n - 1) * u64::from(stride);
        if last + u64::from(chip) < u64::from(size) {
            n + 1
        } else {
            n
        }
    }

    fn new(size: u32, chip: u32, stride: u32) -> Axis {
        let mut starts: Vec<u32> = (0..=size - chip).step_by(stride as usize).collect();
        let last = starts.last().copied().unwrap_or(0);
        if u64::from(last) + u64::from(chip) < u64::from(size) {
            starts.push(size - chip);
        }
        let centres2 = starts
            .iter()
            .map(|&s| 2 * u64::from(s) + u64::from(chip))
            .collect();
        Axis { starts, centres2 }
    }

    /// Number of chips along the axis.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The chips whose centre lies in `[from, from + len)` (pixels).
    pub(crate) fn within(&self, from: u64, len: u64) -> Range<usize> {
        let lo = self.centres2.partition_point(|&c| c < 2 * from);
        let hi = self.centres2.partition_point(|&c| c < 2 * (from + len));
        lo..hi.max(lo)
    }

    /// The chip whose centre is nearest `p2` (twice a pixel coordinate); the first on ties.
    pub(crate) fn nearest(&self, p2: u64) -> usize {
        let i = self.centres2.partition_point(|&c| c < p2);
        if i == 0 {
            return 0;
        }
        if i == self.centres2.len() {
            return i - 1;
        }
        if p2 - self.centres2[i - 1] <= self.centres2[i] - p2 {
            i - 1
        } else {
            i
        }
    }
}

/// Where the chips of a frame sit: the columns and rows of imaging's `ChipGrid`, chips
/// numbered row-major.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Frame width in pixels.
    pub(crate) width: u32,
    /// Frame height in pixels.
    pub(crate) height: u32,
    /// Chip side in pixels.
    pub(crate) chip: u32,
    /// The chip columns.
    pub(crate) cols: Axis,
    /// The chip rows.
    pub(crate) rows: Axis,
}

impl Layout {
    /// Number of chips.
    pub(crate) fn len(&self) -> usize {
        self.cols.len() * self.rows.len()
    }
}

/// Checks the frame (grid, labels, confidences, classes, pixel size) and lays out its chips.
pub(crate) fn check(frame: &SegmentedFrame<'_>) -> Result<Layout, RoiError> {
    let layout = layout(&frame.grid, frame.chip_labels.len())?;
    let n = layout.len();
    if let Some(conf) = frame.chip_confidence {
        if conf.len() != n {
            return Err(RoiError::Confidence(format!(
                "{} values for the frame's {n} chips; send one per chip, in grid order",
                conf.len()
            )));
        }
        if let Some((i, v)) = conf
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(RoiError::Confidence(format!(
                "chip {i} has confidence {v}; confidences are finite margins >= 0"
            )));
        }
    }
    if let Some(classes) = frame.chip_classes {
        if classes.len() != n {
            return Err(RoiError::Classes(format!(
                "{} class indices for the frame's {n} chips; send one per chip, in grid order",
                classes.len()
            )));
        }
        let unknown = unknown_class(frame);
        if let Some((i, c)) = classes
            .iter()
            .enumerate()
            .find(|(_, c)| u64::from(**c) > unknown)
        {
            return Err(RoiError::Classes(format!(
                "chip {i} has class index {c}, but the frame names {unknown} classes \
                 (indices 0..{unknown}, and {unknown} for unknown)"
            )));
        }
    }
    if let Some(px) = frame.pixel_size_nm {
        let side = f64::from(layout.width.max(layout.height)) * px;
        if !px.is_finite() || px <= 0.0 || !side.is_finite() {
            return Err(RoiError::PixelSize(format!(
                "{px} nm; a pixel size is a finite number of nanometres above 0"
            )));
        }
    }
    Ok(layout)
}

/// The class index that means "unknown": the number of class names.
pub(crate) fn unknown_class(frame: &SegmentedFrame<'_>) -> u64 {
    frame.class_names.len() as u64
}

/// Lays out the chips of `grid`, checking it against `n_labels` before anything is allocated.
fn layout(grid: &GridWire, n_labels: usize) -> Result<Layout, RoiError> {
    let GridWire {
        width,
        height,
        chip,
        stride,
    } = *grid;
    if chip == 0 {
        return Err(RoiError::Grid(
            "chip size is 0; a chip is at least one pixel".into(),
        ));
    }
    if stride == 0 || stride > chip {
        return Err(RoiError::Grid(format!(
            "chip stride is {stride}; it must be between 1 and the chip size {chip}"
        )));
    }
    if width < chip || height < chip {
        return Err(RoiError::Grid(format!(
            "the frame is {width}×{height} pixels, smaller than one {chip}×{chip} chip"
        )));
    }
    let cols = Axis::count(width, chip, stride);
    let rows = Axis::count(height, chip, stride);
    let expected = u128::from(cols) * u128::from(rows);
    if expected != n_labels as u128 {
        return Err(RoiError::LabelCount {
            got: n_labels,
            expected,
            cols,
            rows,
        });
    }
    Ok(Layout {
        width,
        height,
        chip,
        cols: Axis::new(width, chip, stride),
        rows: Axis::new(height, chip, stride),
    })
}

/// A block of chips: its columns, then its rows.
pub(crate) type ChipBlock = (Range<usize>, Range<usize>);

/// A visited region clipped to the frame, as chip ranges: the chips whose centre it holds, or
/// the chip nearest its centre when it holds none.
pub(crate) fn visited_chips(
    layout: &Layout,
    visited: &[Visited],
) -> Result<Vec<ChipBlock>, RoiError> {
    let mut out = Vec::with_capacity(visited.len());
    for (index, v) in visited.iter().enumerate() {
        let fail = |reason: String| RoiError::Visited { index, reason };
        if v.width == 0 || v.height == 0 {
            return Err(fail(format!(
                "is {}×{} pixels, empty; a visited region has a width and a height",
                v.width, v.height
            )));
        }
        if v.x >= layout.width || v.y >= layout.height {
            return Err(fail(format!(
                "starts at ({}, {}), outside the {}×{} frame",
                v.x, v.y, layout.width, layout.height
            )));
        }
        let w = u64::from(v.width).min(u64::from(layout.width - v.x));
        let h = u64::from(v.height).min(u64::from(layout.height - v.y));
        let (x, y) = (u64::from(v.x), u64::from(v.y));
        let mut cols = layout.cols.within(x, w);
        let mut rows = layout.rows.within(y, h);
        if cols.is_empty() || rows.is_empty() {
            let c = layout.cols.nearest(2 * x + w);
            let r = layout.rows.nearest(2 * y + h);
            cols = c..c + 1;
            rows = r..r + 1;
        }
        out.push((cols, rows));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(width: u32, height: u32, chip: u32, stride: u32) -> GridWire {
        GridWire {
            width,
            height,
            chip,
            stride,
        }
    }

    #[test]
    fn the_axes_follow_imagings_edge_rule() {
        // 100 px, chip 32, stride 32: 0, 32, 64, then 68 flush with the edge.
        let a = Axis::new(100, 32, 32);
        assert_eq!(a.starts, vec![0, 32, 64, 68]);
        assert_eq!(Axis::count(100, 32, 32), 4);
        // Exactly reaching the edge: no extra chip.
        let a = Axis::new(96, 32, 16);
        assert_eq!(a.starts, vec![0, 16, 32, 48, 64]);
        assert_eq!(Axis::count(96, 32, 16), 5);
        // One chip.
        assert_eq!(Axis::new(32, 32, 8).starts, vec![0]);
        assert_eq!(Axis::count(32, 32, 8), 1);
        // Odd sizes.
        let a = Axis::new(37, 9, 4);
        assert_eq!(a.starts, vec![0, 4, 8, 12, 16, 20, 24, 28]);
        assert_eq!(a.centres2[0], 9);
        for (size, chip, stride) in [(1000, 64, 24), (65, 64, 1), (4096, 64, 32), (7, 3, 3)] {
            assert_eq!(
                Axis::count(size, chip, stride),
                Axis::new(size, chip, stride).len() as u64
            );
        }
    }

    #[test]
    fn a_grid_and_labels_that_disagree_are_refused() {
        let e = layout(&grid(100, 64, 32, 32), 7).unwrap_err().to_string();
        assert!(e.contains("7 chip labels"), "{e}");
        assert!(e.contains("8 chips (4 columns × 2 rows)"), "{e}");
        let l = layout(&grid(100, 64, 32, 32), 8).unwrap();
        assert_eq!((l.cols.len(), l.rows.len()), (4, 2));
        for (g, want) in [
            (grid(100, 64, 0, 1), "chip size is 0"),
            (grid(100, 64, 32, 0), "stride is 0"),
            (grid(100, 64, 32, 33), "stride is 33"),
            (grid(20, 64, 32, 32), "smaller than one 32×32 chip"),
        ] {
            let e = layout(&g, 8).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn a_tiny_visited_region_marks_its_nearest_chip() {
        let l = layout(&grid(128, 128, 32, 32), 16).unwrap();
        // Between centres (16, 48, …): 30..34 holds none; nearest centre to 32 is 16 (tie, first).
        let v = visited_chips(
            &l,
            &[Visited {
                x: 50,
                y: 30,
                width: 4,
                height: 4,
            }],
        )
        .unwrap();
        assert_eq!(v, vec![(1..2, 0..1)]);
        // Clipped at the edge.
        let v = visited_chips(
            &l,
            &[Visited {
                x: 64,
                y: 0,
                width: u32::MAX,
                height: 64,
            }],
        )
        .unwrap();
        assert_eq!(v, vec![(2..4, 0..2)]);
    }
}
