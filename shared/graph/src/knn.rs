//! Exact k-nearest-neighbour search by cosine similarity.

use crate::GraphError;
use crate::normalize::check_matrix;
use crate::tiles::{Tile, fold_tiles};
use serde::{Deserialize, Serialize};

/// A k-nearest-neighbour table, row-major `n × k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knn {
    /// Neighbours per row (after clamping to `n - 1`).
    pub k: usize,
    /// `indices[i * k + r]` is row `i`'s `r`-th nearest neighbour (never `i` itself).
    pub indices: Vec<u32>,
    /// Cosine similarity of each neighbour, descending within a row.
    pub similarities: Vec<f32>,
}

impl Knn {
    /// Number of rows in the table.
    pub fn n(&self) -> usize {
        self.indices.len().checked_div(self.k).unwrap_or(0)
    }
}

/// Exact k nearest neighbours of every row by cosine similarity, excluding the row itself.
///
/// Rows must already be L2-normalised (see [`crate::l2_normalize_rows`]): the similarity is
/// the dot product, which is the cosine for such rows. Each row's neighbours are sorted by
/// similarity descending, ties broken by the lower index, so the result is unique and does
/// not depend on the thread count. `k` larger than `n - 1` is clamped to `n - 1` (read the
/// table's `k`; with `n <= 1` the table is empty). Errors: `k == 0`, a buffer that is not `n × dim`, non-finite values.
pub fn knn_cosine(data: &[f32], n: usize, dim: usize, k: usize) -> Result<Knn, GraphError> {
    let k = knn_k(data, n, dim, k)?;
    if k == 0 {
        return Ok(Knn {
            k,
            indices: Vec::new(),
            similarities: Vec::new(),
        });
    }
    let top = fold_tiles(
        data,
        n,
        dim,
        || TopK::new(n, k),
        |t, tile| t.visit(tile),
        TopK::merge,
    );
    Ok(Knn {
        k,
        indices: top.idx,
        similarities: top.sims,
    })
}

/// The `k` of [`knn_cosine`]'s table for these arguments (clamped to `n - 1`), after the
/// checks it makes: `k == 0` and a malformed or non-finite matrix are errors. For other
/// implementations of the same search, so that they refuse and clamp alike.
pub fn knn_k(data: &[f32], n: usize, dim: usize, k: usize) -> Result<usize, GraphError> {
    if k == 0 {
        return Err(GraphError::ZeroK);
    }
    check_matrix(data, n, dim)?;
    Ok(k.min(n.saturating_sub(1)))
}

/// `(s, j)` ranks before `(s2, j2)`: higher similarity, then lower index.
#[inline]
fn better(s: f32, j: u32, s2: f32, j2: u32) -> bool {
    s > s2 || (s == s2 && j < j2)
}

/// Per-row sorted top-k lists.
struct TopK {
    k: usize,
    sims: Vec<f32>,
    idx: Vec<u32>,
}

impl TopK {
    fn new(n: usize, k: usize) -> Self {
        Self {
            k,
            sims: vec![f32::NEG_INFINITY; n * k],
            idx: vec![u32::MAX; n * k],
        }
    }

    /// Inserts candidate `(s, j)` into row `i` if it ranks in the top k.
    #[inline]
    fn insert(&mut self, i: usize, s: f32, j: u32) {
        let (sims, idx) = (
            &mut self.sims[i * self.k..(i + 1) * self.k],
            &mut self.idx[i * self.k..(i + 1) * self.k],
        );
        let mut pos = self.k - 1;
        if !better(s, j, sims[pos], idx[pos]) {
            return;
        }
        while pos > 0 && better(s, j, sims[pos - 1], idx[pos - 1]) {
            sims[pos] = sims[pos - 1];
            idx[pos] = idx[pos - 1];
            pos -= 1;
        }
        sims[pos] = s;
        idx[pos] = j;
    }

    /// Offers every pair of the tile to both of its rows.
    fn visit(&mut self, t: &Tile<'_>) {
        let diag = t.diagonal();
        let last = self.k - 1;
        for a in 0..t.rows {
            let i = t.i0 + a;
            let row = &t.sims[a * t.stride..a * t.stride + t.cols];
            let start = if diag { a + 1 } else { 0 };
            let (mut ts, mut tj) = (self.sims[i * self.k + last], self.idx[i * self.k + last]);
            for (b, &s) in row.iter().enumerate().skip(start) {
                if s >= ts {
                    let j = (t.j0 + b) as u32;
                    if better(s, j, ts, tj) {
                        self.insert(i, s, j);
                        (ts, tj) = (self.sims[i * self.k + last], self.idx[i * self.k + last]);
                    }
                }
            }
        }
        for b in 0..t.cols {
            let j = t.j0 + b;
            let end = if diag { b } else { t.rows };
            let (mut ts, mut tj) = (self.sims[j * self.k + last], self.idx[j * self.k + last]);
            for a in 0..end {
                let s = t.sims[a * t.stride + b];
                if s >= ts {
                    let i = (t.i0 + a) as u32;
                    if better(s, i, ts, tj) {
                        self.insert(j, s, i);
                        (ts, tj) = (self.sims[j * self.k + last], self.idx[j * self.k + last]);
                    }
                }
            }
        }
    }

    /// Merges two partial tables (each pair was seen by exactly one of them).
    fn merge(mut self, other: Self) -> Self {
        let n = self.sims.len() / self.k.max(1);
        for i in 0..n {
            for r in 0..self.k {
                let (s, j) = (other.sims[i * self.k + r], other.idx[i * self.k + r]);
                if j == u32::MAX {
                    break;
                }
                self.insert(i, s, j);
            }
        }
        self
    }
}
