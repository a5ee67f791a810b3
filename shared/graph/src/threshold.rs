//! GraphEM's dense threshold graph: an unweighted edge wherever cosine similarity > cutoff.

use crate::normalize::check_matrix;
use crate::tiles::fold_tiles;
use crate::{Graph, GraphError};

/// How the similarity cutoff of a threshold graph is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cutoff {
    /// The mode of a `bins`-bin histogram of all pairwise similarities on `[0, 1]`, taken
    /// as the left edge of the fullest bin, as GraphEM does (`bins[np.argmax(hist)]` after
    /// `numpy.histogram`; GraphEM's default is 100 bins). Similarities outside `[0, 1]` are
    /// not counted, the last bin includes 1.0, and equally full bins resolve to the lowest.
    HistogramMode {
        /// Number of equal-width bins on `[0, 1]`.
        bins: usize,
    },
    /// A fixed cosine similarity.
    Fixed(f32),
}

/// Builds GraphEM's threshold graph: edge `i–j` with weight 1 wherever the cosine
/// similarity of rows `i` and `j` is strictly greater than the cutoff. Returns the graph and
/// the cutoff used.
///
/// Rows must already be L2-normalised (the similarity is the dot product). The histogram
/// counts each unordered pair `i < j` once. The graph is dense by design: memory grows with
/// the number of pairs above the cutoff, so keep `n` to a few thousand chips.
pub fn threshold_graph(
    data: &[f32],
    n: usize,
    dim: usize,
    cutoff: Cutoff,
) -> Result<(Graph, f32), GraphError> {
    check_matrix(data, n, dim)?;
    let cut = match cutoff {
        Cutoff::Fixed(c) if c.is_finite() => c,
        Cutoff::Fixed(c) => return Err(GraphError::BadCutoff(c)),
        Cutoff::HistogramMode { bins: 0 } => return Err(GraphError::ZeroBins),
        Cutoff::HistogramMode { bins } => {
            let hist = fold_tiles(
                data,
                n,
                dim,
                || vec![0u64; bins],
                |h, t| {
                    for a in 0..t.rows {
                        let start = if t.diagonal() { a + 1 } else { 0 };
                        for &s in &t.sims[a * t.stride + start..a * t.stride + t.cols] {
                            if let Some(b) = histogram_bin(s, bins) {
                                h[b] += 1;
                            }
                        }
                    }
                },
                |mut x, y| {
                    x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
                    x
                },
            );
            histogram_mode_edge(&hist)
        }
    };
    let edges = fold_tiles(
        data,
        n,
        dim,
        Vec::new,
        |e: &mut Vec<(u32, u32, f32)>, t| {
            for a in 0..t.rows {
                let start = if t.diagonal() { a + 1 } else { 0 };
                for (b, &s) in t.sims[a * t.stride..a * t.stride + t.cols]
                    .iter()
                    .enumerate()
                    .skip(start)
                {
                    if s > cut {
                        e.push(((t.i0 + a) as u32, (t.j0 + b) as u32, 1.0));
                    }
                }
            }
        },
        |mut x, mut y| {
            x.append(&mut y);
            x
        },
    );
    Ok((Graph::build(n, &edges, false), cut))
}

/// numpy.histogram's bin for `s` on `[0, 1]` with `bins` bins (last bin closed), or `None`.
pub(crate) fn histogram_bin(s: f32, bins: usize) -> Option<usize> {
    if !(0.0..=1.0).contains(&s) {
        return None;
    }
    let b = (f64::from(s) * bins as f64) as usize;
    Some(b.min(bins - 1))
}

/// Left edge of the first fullest bin of a histogram on `[0, 1]`.
pub(crate) fn histogram_mode_edge(hist: &[u64]) -> f32 {
    let mut best = 0;
    for (b, &c) in hist.iter().enumerate() {
        if c > hist[best] {
            best = b;
        }
    }
    (best as f64 / hist.len().max(1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_histogram() {
        let sims = [0.05f32, 0.31, 0.33, 0.35, 0.72, 0.74, 1.0, 1.2, -0.1];
        let mut hist = vec![0u64; 10];
        sims.iter()
            .filter_map(|&s| histogram_bin(s, 10))
            .for_each(|b| hist[b] += 1);
        assert_eq!(hist, vec![1, 0, 0, 3, 0, 0, 0, 2, 0, 1]);
        assert!((histogram_mode_edge(&hist) - 0.3).abs() < 1e-7);
        // Ties go to the lowest bin.
        assert_eq!(histogram_mode_edge(&[0, 2, 2]), 1.0 / 3.0);
    }
}
