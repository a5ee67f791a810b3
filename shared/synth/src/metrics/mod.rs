//! Partition metrics against ground truth: adjusted Rand index, normalised mutual
//! information and mean IoU, all pixel-level, exact, and linear in the pixel count.
//!
//! Every function takes the truth and the prediction as slices of any [`Label`] type
//! (`u8`, `u16`, `u32`, `u64`, `usize`, `i32`, `i64`; the two may differ) and an optional
//! truth label whose pixels are left out. Slices of different lengths are an error.
//!
//! Degenerate cases follow scikit-learn: with no pixels left, or when both labelings put
//! every pixel in one cluster, ARI and NMI are 1.0; ARI is also 1.0 when both put every
//! pixel in its own cluster. When only one side is a single cluster, ARI and NMI are 0.0.
//! Mean IoU is 1.0 with no pixels left.

mod contingency;
#[cfg(test)]
mod tests;

use contingency::Contingency;

use crate::error::SynthError;

/// A label type usable in the metrics: anything that maps one-to-one onto `u64`.
pub trait Label: Copy {
    /// The label as a `u64` key (signed values are reinterpreted, so −1 stays distinct).
    fn key(self) -> u64;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[allow(clippy::cast_lossless, clippy::cast_sign_loss)]
            fn key(self) -> u64 {
                self as u64
            }
        }
    )*};
}
impl_label!(u8, u16, u32, u64, usize, i32, i64);

/// All three scores of one prediction, from one contingency table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartitionScores {
    /// Adjusted Rand index, `-0.5..=1` (0 for chance).
    pub ari: f64,
    /// Normalised mutual information (arithmetic mean), `0..=1`.
    pub nmi: f64,
    /// Mean IoU over truth classes after majority mapping, `0..=1`.
    pub mean_iou: f64,
    /// Pixels scored (those not ignored).
    pub pixels: u64,
    /// Truth classes present among them.
    pub classes: usize,
    /// Predicted clusters present among them.
    pub clusters: usize,
}

/// ARI, NMI and mean IoU at once; cheaper than calling the three functions.
pub fn partition_scores<T: Label, P: Label>(
    truth: &[T],
    pred: &[P],
    ignore: Option<T>,
) -> Result<PartitionScores, SynthError> {
    let c = Contingency::new(truth, pred, ignore)?;
    Ok(PartitionScores {
        ari: ari(&c),
        nmi: nmi(&c),
        mean_iou: miou(&c),
        pixels: c.n,
        classes: c.rows.len(),
        clusters: c.cols.len(),
    })
}

/// Pixel-level adjusted Rand index (Hubert & Arabie), as scikit-learn's
/// `adjusted_rand_score`, computed from pair counts in exact integer arithmetic.
pub fn adjusted_rand_index<T: Label, P: Label>(
    truth: &[T],
    pred: &[P],
    ignore: Option<T>,
) -> Result<f64, SynthError> {
    Ok(ari(&Contingency::new(truth, pred, ignore)?))
}

/// Normalised mutual information with the arithmetic-mean normaliser, as scikit-learn's
/// default `normalized_mutual_info_score`.
pub fn normalized_mutual_info<T: Label, P: Label>(
    truth: &[T],
    pred: &[P],
    ignore: Option<T>,
) -> Result<f64, SynthError> {
    Ok(nmi(&Contingency::new(truth, pred, ignore)?))
}

/// Mean intersection-over-union over the truth classes present, after mapping each
/// predicted cluster to the truth class it overlaps most (ties go to the smaller class
/// label). Several clusters may map to one class; a class no cluster maps to scores 0.
pub fn mean_iou<T: Label, P: Label>(
    truth: &[T],
    pred: &[P],
    ignore: Option<T>,
) -> Result<f64, SynthError> {
    Ok(miou(&Contingency::new(truth, pred, ignore)?))
}

fn ari(c: &Contingency) -> f64 {
    let n = i128::from(c.n);
    let sq = |v: u64| i128::from(v) * i128::from(v);
    let sum_sq: i128 = c.cells.iter().map(|&(_, _, k)| sq(k)).sum();
    let rows_sq: i128 = c.rows.iter().map(|&v| sq(v)).sum();
    let cols_sq: i128 = c.cols.iter().map(|&v| sq(v)).sum();
    // Ordered pair counts, as scikit-learn's pair_confusion_matrix.
    let tp = sum_sq - n;
    let fp = cols_sq - sum_sq;
    let fn_ = rows_sq - sum_sq;
    let tn = n * n - fp - fn_ - sum_sq;
    if fn_ == 0 && fp == 0 {
        return 1.0;
    }
    let num = 2 * (tp * tn - fn_ * fp);
    let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    num as f64 / den as f64
}

fn entropy(sizes: &[u64], n: u64) -> f64 {
    if sizes.len() <= 1 {
        return 0.0;
    }
    let ln_n = (n as f64).ln();
    -sizes
        .iter()
        .filter(|&&s| s > 0)
        .map(|&s| (s as f64 / n as f64) * ((s as f64).ln() - ln_n))
        .sum::<f64>()
}

fn nmi(c: &Contingency) -> f64 {
    let (nr, nc) = (c.rows.len(), c.cols.len());
    if (nr == 1 && nc == 1) || (nr == 0 && nc == 0) {
        return 1.0;
    }
    if nr == 1 || nc == 1 {
        return 0.0;
    }
    let n = c.n as f64;
    let ln_n = n.ln();
    let mi: f64 = c
        .cells
        .iter()
        .map(|&(r, col, k)| {
            let p = k as f64 / n;
            let outer = c.rows[r as usize] as f64 * c.cols[col as usize] as f64;
            let term = p * ((k as f64).ln() - ln_n) + p * (-outer.ln() + 2.0 * ln_n);
            if term.abs() < f64::EPSILON { 0.0 } else { term }
        })
        .sum::<f64>()
        .max(0.0);
    if mi == 0.0 {
        return 0.0;
    }
    let norm = 0.5 * (entropy(&c.rows, c.n) + entropy(&c.cols, c.n));
    mi / norm.max(f64::EPSILON)
}

fn miou(c: &Contingency) -> f64 {
    if c.n == 0 {
        return 1.0;
    }
    // Majority class of each cluster; cells are sorted by row, so strict `>` keeps the
    // smaller class on ties.
    let mut best: Vec<(u64, u32)> = vec![(0, 0); c.cols.len()];
    for &(r, col, k) in &c.cells {
        let b = &mut best[col as usize];
        if k > b.0 {
            *b = (k, r);
        }
    }
    let mut inter = vec![0u64; c.rows.len()];
    let mut mapped = vec![0u64; c.rows.len()];
    for &(r, col, k) in &c.cells {
        if best[col as usize].1 == r {
            inter[r as usize] += k;
        }
    }
    for (col, &(_, r)) in best.iter().enumerate() {
        mapped[r as usize] += c.cols[col];
    }
    let sum: f64 = c
        .rows
        .iter()
        .zip(inter.iter().zip(mapped.iter()))
        .map(|(&size, (&i, &m))| i as f64 / (size + m - i) as f64)
        .sum();
    sum / c.rows.len() as f64
}
