//! Windows: their size for a magnification, the candidate positions, sums over the chips whose
//! centre falls in a window (summed-area tables on the chip grid, O(1) a window), and the
//! ranking with non-maximum suppression.

use std::ops::{Add, Sub};

use crate::{RoiError, frame::Layout};

/// Highest magnification a proposal may carry (the protocol's limit).
pub const MAX_MAGNIFICATION: f64 = 1e6;

/// The window size for one magnification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Size {
    /// Width in pixels.
    pub(crate) width: u32,
    /// Height in pixels.
    pub(crate) height: u32,
    /// The magnification at which the window fills the detector (the one asked for, or lower
    /// where that window would be smaller than a chip).
    pub(crate) magnification: f64,
    /// The magnification asked for.
    pub(crate) asked: f64,
}

/// The window imaged at `magnification`: each side `side / magnification`, rounded to whole
/// pixels. Where the shorter side would be under one chip, the magnification is lowered to
/// `shorter side / chip`, so the window keeps the frame's aspect ratio and holds a chip.
pub(crate) fn size(layout: &Layout, magnification: f64) -> Result<Size, RoiError> {
    let m = magnification;
    if !m.is_finite() {
        return Err(RoiError::Magnification(format!(
            "{m} is not a finite number; use 1 (the whole frame) or more"
        )));
    }
    if m < 1.0 {
        return Err(RoiError::Magnification(format!(
            "{m} is below 1; 1 images the whole frame and 2 a window half its side"
        )));
    }
    if m > MAX_MAGNIFICATION {
        return Err(RoiError::Magnification(format!(
            "{m} is above {MAX_MAGNIFICATION}, the most a proposal may carry"
        )));
    }
    let (w, h, chip) = (
        f64::from(layout.width),
        f64::from(layout.height),
        f64::from(layout.chip),
    );
    let eff = m.min(w.min(h) / chip).max(1.0);
    // `as` saturates; the clamps keep the side within one chip and the frame.
    let side = |s: f64, max: u32| ((s / eff).round() as u32).clamp(layout.chip, max);
    Ok(Size {
        width: side(w, layout.width),
        height: side(h, layout.height),
        magnification: eff,
        asked: m,
    })
}

/// A candidate window: its origin and the chips whose centre falls in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Left edge in pixels.
    pub(crate) x: u32,
    /// Top edge in pixels.
    pub(crate) y: u32,
    /// First chip column inside.
    pub(crate) c0: usize,
    /// One past the last chip column inside.
    pub(crate) c1: usize,
    /// First chip row inside.
    pub(crate) r0: usize,
    /// One past the last chip row inside.
    pub(crate) r1: usize,
}

impl Window {
    /// Number of chips whose centre falls in the window.
    pub(crate) fn chips(&self) -> u64 {
        ((self.c1 - self.c0) * (self.r1 - self.r0)) as u64
    }

    /// Twice its centre, in pixels.
    pub(crate) fn centre2(&self, size: &Size) -> [f64; 2] {
        [
            2.0 * f64::from(self.x) + f64::from(size.width),
            2.0 * f64::from(self.y) + f64::from(size.height),
        ]
    }
}

/// Candidate origins along one axis: the chip starts from which the window fits, then the
/// position flush with the far edge.
fn origins(starts: &[u32], side: u32, size: u32) -> Vec<u32> {
    let flush = size - side;
    let mut out: Vec<u32> = starts.iter().copied().filter(|&s| s <= flush).collect();
    if out.last() != Some(&flush) {
        out.push(flush);
    }
    out
}

/// Every candidate window, row-major (top to bottom, then left to right).
pub(crate) fn windows(layout: &Layout, size: &Size) -> Vec<Window> {
    let xs: Vec<_> = origins(&layout.cols.starts, size.width, layout.width)
        .into_iter()
        .map(|x| (x, layout.cols.within(x.into(), size.width.into())))
        .collect();
    let ys: Vec<_> = origins(&layout.rows.starts, size.height, layout.height)
        .into_iter()
        .map(|y| (y, layout.rows.within(y.into(), size.height.into())))
        .collect();
    let mut out = Vec::with_capacity(xs.len() * ys.len());
    for (y, rows) in &ys {
        for (x, cols) in &xs {
            out.push(Window {
                x: *x,
                y: *y,
                c0: cols.start,
                c1: cols.end,
                r0: rows.start,
                r1: rows.end,
            });
        }
    }
    out
}

/// A summed-area table over the chip grid: the sum of a value over any block of chips in O(1).
#[derive(Debug, Clone)]
pub(crate) struct Sat<T> {
    stride: usize,
    data: Vec<T>,
}

impl<T: Copy + Default + Add<Output = T> + Sub<Output = T>> Sat<T> {
    /// The table of `value(chip index)` over a `cols × rows` grid, chips row-major.
    pub(crate) fn new(cols: usize, rows: usize, value: impl Fn(usize) -> T) -> Sat<T> {
        let stride = cols + 1;
        let mut data = vec![T::default(); stride * (rows + 1)];
        for r in 0..rows {
            let mut run = T::default();
            for c in 0..cols {
                run = run + value(r * cols + c);
                data[(r + 1) * stride + c + 1] = data[r * stride + c + 1] + run;
            }
        }
        Sat { stride, data }
    }

    /// The sum over the chips of the window.
    pub(crate) fn sum(&self, w: &Window) -> T {
        let at = |r: usize, c: usize| self.data[r * self.stride + c];
        (at(w.r1, w.c1) - at(w.r0, w.c1)) - (at(w.r1, w.c0) - at(w.r0, w.c0))
    }
}

/// A window's standing within its goal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    /// Index of the window among the candidates.
    pub(crate) window: usize,
    /// What the goal maximises.
    pub(crate) key: f64,
    /// Its score, `0..=1`, monotone in `key`.
    pub(crate) score: f64,
    /// Twice the point that ties on `key` are brought closest to (the centroid of what it
    /// counts); `None`: the frame centre.
    pub(crate) aim2: Option<[f64; 2]>,
}

/// The best `limit` windows, best first: highest key; on ties, the window centre nearest its
/// aim, then nearest the frame centre, then the topmost, then the leftmost. A window that
/// overlaps one already taken by more than half its area is passed over.
///
/// Only the leading candidates are sorted (a selection, then a sort of that prefix); the prefix
/// grows until it yields `limit` windows or holds every candidate, so the answer is the one a
/// full sort would give.
pub(crate) fn best(
    layout: &Layout,
    size: &Size,
    windows: &[Window],
    scored: Vec<Scored>,
    limit: usize,
) -> Vec<Scored> {
    let centre2 = [f64::from(layout.width), f64::from(layout.height)];
    let d2 = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    // Rank: ascending is best first; unique, since no two windows share an origin.
    let mut ranked: Vec<(u64, u64, u64, u32, u32, usize)> = scored
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let w = &windows[s.window];
            let c = w.centre2(size);
            (
                ordered(-s.key),
                ordered(d2(c, s.aim2.unwrap_or(centre2))),
                ordered(d2(c, centre2)),
                w.y,
                w.x,
                i,
            )
        })
        .collect();
    let area = u128::from(size.width) * u128::from(size.height);
    let overlap = |a: &Window, b: &Window| {
        let ox = u128::from(size.width.saturating_sub(a.x.abs_diff(b.x)));
        let oy = u128::from(size.height.saturating_sub(a.y.abs_diff(b.y)));
        ox * oy
    };
    let n = ranked.len();
    let mut head = limit.saturating_mul(32).min(n);
    loop {
        if head < n && head > 0 {
            ranked.select_nth_unstable(head - 1);
        }
        ranked[..head].sort_unstable();
        let mut out: Vec<Scored> = Vec::new();
        for r in &ranked[..head] {
            if out.len() >= limit {
                break;
            }
            let s = scored[r.5];
            let w = &windows[s.window];
            if out
                .iter()
                .all(|k| 2 * overlap(w, &windows[k.window]) <= area)
            {
                out.push(s);
            }
        }
        if out.len() >= limit || head >= n {
            return out;
        }
        head = head.saturating_mul(4).min(n);
    }
}

/// A `u64` that orders as `v` does under [`f64::total_cmp`].
fn ordered(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use tessera_protocol::GridWire;

    use super::*;
    use crate::frame::{Axis, SegmentedFrame, check};

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    fn layout_of(width: u32, height: u32, chip: u32, stride: u32) -> Layout {
        let grid = GridWire {
            width,
            height,
            chip,
            stride,
        };
        let n = (Axis::count(width, chip, stride) * Axis::count(height, chip, stride)) as usize;
        let labels = vec![0u32; n];
        let frame = SegmentedFrame {
            grid,
            chip_labels: &labels,
            chip_confidence: None,
            chip_classes: None,
            class_names: &[],
            pixel_size_nm: None,
        };
        check(&frame).unwrap()
    }

    #[test]
    fn window_sums_match_a_brute_force_scorer_on_random_grids() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300 {
            let chip = 1 + rng.below(12) as u32;
            let stride = 1 + rng.below(u64::from(chip)) as u32;
            let width = chip + rng.below(60) as u32;
            let height = chip + rng.below(60) as u32;
            let layout = layout_of(width, height, chip, stride);
            let (cols, rows) = (layout.cols.len(), layout.rows.len());
            let values: Vec<f64> = (0..layout.len()).map(|_| rng.below(1000) as f64).collect();
            let marks: Vec<u64> = (0..layout.len()).map(|_| rng.below(2)).collect();
            let fsat = Sat::new(cols, rows, |i| values[i]);
            let usat = Sat::new(cols, rows, |i| marks[i]);
            let m = 1.0 + rng.below(800) as f64 / 100.0;
            let size = size(&layout, m).unwrap();
            assert!(size.width >= chip && size.width <= width);
            assert!(size.height >= chip && size.height <= height);
            let ws = windows(&layout, &size);
            for w in &ws {
                assert!(w.x + size.width <= width && w.y + size.height <= height);
                // Brute force: every chip, its centre tested against the window in f64.
                let (mut count, mut sum, mut marked) = (0u64, 0.0f64, 0u64);
                for (r, &y) in layout.rows.starts.iter().enumerate() {
                    for (c, &x) in layout.cols.starts.iter().enumerate() {
                        let cx = f64::from(x) + f64::from(chip) / 2.0;
                        let cy = f64::from(y) + f64::from(chip) / 2.0;
                        let inside = cx >= f64::from(w.x)
                            && cx < f64::from(w.x + size.width)
                            && cy >= f64::from(w.y)
                            && cy < f64::from(w.y + size.height);
                        if inside {
                            count += 1;
                            sum += values[r * cols + c];
                            marked += marks[r * cols + c];
                        }
                    }
                }
                assert!(count > 0, "every window holds a chip centre");
                assert_eq!(w.chips(), count, "{w:?} {size:?}");
                assert_eq!(usat.sum(w), marked, "{w:?}");
                assert!((fsat.sum(w) - sum).abs() < 1e-6, "{w:?}");
            }
            // The positions: chip starts that fit, and the flush one, each once, ascending.
            let xs: Vec<u32> = ws.iter().filter(|w| w.y == 0).map(|w| w.x).collect();
            let mut want: Vec<u32> = layout
                .cols
                .starts
                .iter()
                .copied()
                .filter(|&s| s + size.width <= width)
                .collect();
            want.push(width - size.width);
            want.dedup();
            assert_eq!(xs, want);
        }
    }

    #[test]
    fn the_window_keeps_the_aspect_ratio_and_holds_a_chip() {
        let layout = layout_of(4096, 2048, 64, 32);
        let s = size(&layout, 4.0).unwrap();
        assert_eq!((s.width, s.height, s.magnification), (1024, 512, 4.0));
        let s = size(&layout, 1.0).unwrap();
        assert_eq!((s.width, s.height), (4096, 2048));
        assert_eq!(windows(&layout, &s).len(), 1);
        let s = size(&layout, 1000.0).unwrap();
        assert_eq!((s.width, s.height, s.magnification), (128, 64, 32.0));
        let s = size(&layout, 3.0).unwrap();
        assert_eq!((s.width, s.height), (1365, 683));
        for bad in [f64::NAN, f64::INFINITY, 0.5, -1.0, 2e6] {
            assert!(size(&layout, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suppression_drops_windows_overlapping_a_better_one_by_more_than_half() {
        let layout = layout_of(256, 256, 32, 32);
        let size = size(&layout, 4.0).unwrap(); // 64 × 64
        let ws = windows(&layout, &size);
        let scored: Vec<Scored> = ws
            .iter()
            .enumerate()
            .map(|(i, w)| Scored {
                window: i,
                // Best at the top-left, falling off to the right and down.
                key: -f64::from(w.x + w.y),
                score: 0.0,
                aim2: None,
            })
            .collect();
        let top = best(&layout, &size, &ws, scored, 100);
        for (i, a) in top.iter().enumerate() {
            for b in &top[..i] {
                let (wa, wb) = (&ws[a.window], &ws[b.window]);
                let ox = 64u32.saturating_sub(wa.x.abs_diff(wb.x));
                let oy = 64u32.saturating_sub(wa.y.abs_diff(wb.y));
                assert!(2 * ox * oy <= 64 * 64);
            }
        }
        assert_eq!((ws[top[0].window].x, ws[top[0].window].y), (0, 0));
        // (32, 0) overlaps (0, 0) by exactly half: allowed.
        assert_eq!((ws[top[1].window].x, ws[top[1].window].y), (32, 0));
    }
}
