//! Percentile normalisation: clip at two percentiles and scale to [0, 1].
//!
//! Percentiles use linear interpolation between the two nearest ranks (NumPy's default
//! `np.percentile(..., method="linear")`): for `n` values sorted ascending, percentile `p`
//! sits at position `p / 100 · (n − 1)`.
//!
//! The order statistics are found exactly without sorting: a 65 536-bin histogram over
//! `[min, max]` locates the bin holding each wanted rank, the values of that bin are gathered,
//! and the search repeats inside them until few enough remain for `select_nth_unstable`.
//! A 4096 × 4096 image costs a few passes over the data, each spread over rayon's threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{ImagingError, Raster, check_finite};

/// Where to clip before scaling to [0, 1].
///
/// Deserialises from a config section; missing fields take their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Normalization {
    /// Values below this percentile become 0. Default 0.5.
    pub low_percentile: f32,
    /// Values above this percentile become 1. Default 99.5.
    pub high_percentile: f32,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization {
            low_percentile: 0.5,
            high_percentile: 99.5,
        }
    }
}

const BINS: usize = 1 << 16;
const SMALL: usize = 1 << 12;
/// Values per parallel task: large enough that a task's private histogram pays for itself.
const TASK: usize = 1 << 18;

/// Clips `r` at the percentiles of `n` and scales linearly so that they map to 0 and 1.
///
/// Errors: a malformed or empty raster, NaN/infinite pixels ([`ImagingError::NonFinite`]),
/// invalid percentiles, or no contrast between them ([`ImagingError::ConstantImage`]).
pub fn normalize(r: &Raster, n: &Normalization) -> Result<Raster, ImagingError> {
    let map = mapping(r, n)?;
    Ok(Raster {
        width: r.width,
        height: r.height,
        pixels: r
            .pixels
            .par_iter()
            .with_min_len(TASK)
            .map(|&v| map(v))
            .collect(),
    })
}

/// [`normalize`] without a second buffer: overwrites `r`'s pixels. On error `r` is unchanged.
pub fn normalize_in_place(r: &mut Raster, n: &Normalization) -> Result<(), ImagingError> {
    let map = mapping(r, n)?;
    r.pixels
        .par_iter_mut()
        .with_min_len(TASK)
        .for_each(|v| *v = map(*v));
    Ok(())
}

/// The clip-and-scale function for `r` under `n`.
fn mapping(r: &Raster, n: &Normalization) -> Result<impl Fn(f32) -> f32 + use<>, ImagingError> {
    let (lo, hi) = percentiles(r, n)?;
    let range = f64::from(hi) - f64::from(lo);
    if range <= 0.0 {
        return Err(ImagingError::ConstantImage {
            value: lo,
            low_percentile: n.low_percentile,
            high_percentile: n.high_percentile,
        });
    }
    let scale64 = 1.0 / range;
    let scale = scale64 as f32;
    // f32 arithmetic when the scale is an ordinary float; f64 for extreme ranges. Overflow to
    // ±inf in `v - lo` only happens far outside [lo, hi] and clamps correctly.
    let fast = scale.is_normal();
    Ok(move |v: f32| {
        if fast {
            ((v - lo) * scale).clamp(0.0, 1.0)
        } else {
            ((f64::from(v) - f64::from(lo)) * scale64).clamp(0.0, 1.0) as f32
        }
    })
}

/// The values at the low and high percentiles of `n` (see the module docs for the definition).
pub fn percentiles(r: &Raster, n: &Normalization) -> Result<(f32, f32), ImagingError> {
    let (low, high) = (n.low_percentile, n.high_percentile);
    if !(low.is_finite() && high.is_finite() && 0.0 <= low && low < high && high <= 100.0) {
        return Err(ImagingError::InvalidPercentiles { low, high });
    }
    r.validate()?;
    if r.pixels.is_empty() {
        return Err(ImagingError::InvalidArgument(
            "cannot normalise an empty (0-pixel) raster; check the decoded image size".into(),
        ));
    }
    check_finite(r)?;
    let count = r.pixels.len();
    let position = |p: f32| f64::from(p) / 100.0 * (count - 1) as f64;
    let (pl, ph) = (position(low), position(high));
    let ranks = [
        pl.floor() as usize,
        (pl.ceil() as usize).min(count - 1),
        ph.floor() as usize,
        (ph.ceil() as usize).min(count - 1),
    ];
    let v = order_statistics(&r.pixels, &ranks);
    let lerp = |a: f32, b: f32, pos: f64| {
        let t = pos - pos.floor();
        (f64::from(a) + t * (f64::from(b) - f64::from(a))) as f32
    };
    Ok((lerp(v[0], v[1], pl), lerp(v[2], v[3], ph)))
}

/// The exact `k`-th smallest values of finite, non-empty `data` for each `k` in `ranks`.
fn order_statistics(data: &[f32], ranks: &[usize]) -> Vec<f32> {
    let (min, max) = min_max(data);
    if min == max {
        return vec![min; ranks.len()];
    }
    let binner = Binner::new(min, max);
    let hist = histogram(data, &binner);
    let mut gathered: Vec<(usize, Vec<f32>)> = Vec::new();
    ranks
        .iter()
        .map(|&k| {
            let (bin, k_in_bin) = locate(&hist, k);
            let slot = match gathered.iter().position(|(b, _)| *b == bin) {
                Some(slot) => slot,
                None => {
                    gathered.push((bin, binner.members(data, bin, max)));
                    gathered.len() - 1
                }
            };
            kth_smallest(&gathered[slot].1, k_in_bin)
        })
        .collect()
}

/// The `k`-th smallest of `values` (finite, `k < len`), refining by histogram while large.
fn kth_smallest(values: &[f32], mut k: usize) -> f32 {
    let mut owned: Option<Vec<f32>> = None;
    loop {
        let view = owned.as_deref().unwrap_or(values);
        let (min, max) = min_max(view);
        if min == max {
            return min;
        }
        if view.len() <= SMALL {
            let mut v = view.to_vec();
            let (_, x, _) = v.select_nth_unstable_by(k, f32::total_cmp);
            return *x;
        }
        let binner = Binner::new(min, max);
        let hist = histogram(view, &binner);
        let (bin, k_in_bin) = locate(&hist, k);
        // min and max fall in different bins, so this strictly shrinks the candidates.
        owned = Some(binner.members(view, bin, max));
        k = k_in_bin;
    }
}

fn min_max(data: &[f32]) -> (f32, f32) {
    let fold = |(lo, hi): (f32, f32), &v: &f32| (lo.min(v), hi.max(v));
    let empty = (f32::INFINITY, f32::NEG_INFINITY);
    data.par_chunks(TASK)
        .map(|chunk| chunk.iter().fold(empty, fold))
        .reduce(|| empty, |(a, b), (c, d)| (a.min(c), b.max(d)))
}

/// The histogram of `data` over `binner`'s bins: a private one per task, summed.
fn histogram(data: &[f32], binner: &Binner) -> Vec<u32> {
    let count = |chunk: &[f32]| {
        let mut hist = vec![0u32; BINS];
        for &v in chunk {
            hist[binner.bin(v)] += 1;
        }
        hist
    };
    if data.len() <= TASK {
        return count(data);
    }
    data.par_chunks(TASK)
        .map(count)
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            a
        })
        .unwrap_or_else(|| vec![0u32; BINS])
}

/// Maps values in `[min, max]` (min < max) to histogram bins, monotonically: `min` → 0,
/// `max` → the last bin. Monotonicity makes every bin an interval of values.
struct Binner {
    min: f64,
    scale: f64,
}

impl Binner {
    fn new(min: f32, max: f32) -> Binner {
        Binner {
            min: f64::from(min),
            scale: BINS as f64 / (f64::from(max) - f64::from(min)),
        }
    }

    fn bin(&self, v: f32) -> usize {
        (((f64::from(v) - self.min) * self.scale) as usize).min(BINS - 1)
    }

    /// The smallest value `x` in `(lo, hi]` with `bin(x) >= b`, given `bin(lo) < b <= bin(hi)`,
    /// by bisection over the ordered f32 values.
    fn bin_start(&self, b: usize, lo: f32, hi: f32) -> f32 {
        let (mut lo, mut hi) = (order_key(lo), order_key(hi));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.bin(from_order_key(mid)) >= b {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        from_order_key(hi)
    }

    /// The values of `data` (all within `[min, max]`) that fall in bin `b`, found with two
    /// comparisons per value instead of a bin computation.
    fn members(&self, data: &[f32], b: usize, max: f32) -> Vec<f32> {
        let min = self.min as f32; // exact: `min` came from an f32
        let start = if b == 0 {
            f32::NEG_INFINITY
        } else {
            self.bin_start(b, min, max)
        };
        let end = if b < self.bin(max) {
            self.bin_start(b + 1, min, max)
        } else {
            f32::INFINITY
        };
        data.par_iter()
            .with_min_len(TASK)
            .copied()
            .filter(|&v| v >= start && v < end)
            .collect()
    }
}

/// A `u32` that sorts like the finite `f32` it came from.
fn order_key(f: f32) -> u32 {
    let b = f.to_bits();
    if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
}

/// Inverse of [`order_key`].
fn from_order_key(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

/// The bin holding rank `k` and the rank within that bin.
fn locate(hist: &[u32], k: usize) -> (usize, usize) {
    let mut before = 0usize;
    for (bin, &c) in hist.iter().enumerate() {
        let c = c as usize;
        if k < before + c {
            return (bin, k - before);
        }
        before += c;
    }
    // Unreachable for k < total count; fall back to the last non-empty bin.
    let last = hist.iter().rposition(|&c| c > 0).unwrap_or(0);
    (last, (hist[last] as usize).saturating_sub(1))
}
