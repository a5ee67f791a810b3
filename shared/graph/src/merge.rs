//! Post-processing merges of communities by centroid similarity.
//!
//! Centroids are size-weighted: a community's centroid is the sum (equivalently the mean)
//! of its members' rows, and centroids are compared by cosine.

use crate::labels::{canonical_labels, compact_labels};
use crate::normalize::check_matrix;
use crate::{Graph, GraphError};
use std::collections::BTreeSet;

/// Merges every community smaller than `min_size` into its most similar neighbouring
/// community (centroid cosine; neighbours are communities it shares a graph edge with, or
/// all other communities when it has none). The smallest community goes first (ties: the
/// one whose first member comes first), and merges repeat until none is too small or one
/// community is left. Returns canonical labels. Errors: bad embeddings, or a label count or
/// graph size other than `n`.
pub fn merge_small_communities(
    labels: &[u32],
    data: &[f32],
    n: usize,
    dim: usize,
    g: &Graph,
    min_size: usize,
) -> Result<Vec<u32>, GraphError> {
    let mut cs = Communities::new(labels, data, n, dim)?;
    if g.n_nodes() != n {
        return Err(GraphError::GraphSize {
            nodes: g.n_nodes(),
            n,
        });
    }
    let mut adj: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); cs.sizes.len()];
    for v in 0..n {
        let a = cs.labels[v];
        for &u in g.neighbors(v).0 {
            let b = cs.labels[u as usize];
            if a != b {
                adj[a as usize].insert(b);
            }
        }
    }
    loop {
        let alive: Vec<usize> = (0..cs.sizes.len()).filter(|&c| cs.sizes[c] > 0).collect();
        let small = alive
            .iter()
            .copied()
            .filter(|&c| cs.sizes[c] < min_size)
            .min_by_key(|&c| (cs.sizes[c], c));
        let (Some(s), true) = (small, alive.len() > 1) else {
            break;
        };
        let candidates: Vec<usize> = if adj[s].is_empty() {
            alive.into_iter().filter(|&c| c != s).collect()
        } else {
            adj[s].iter().map(|&c| c as usize).collect()
        };
        let mut best = (f64::NEG_INFINITY, usize::MAX);
        for &c in &candidates {
            let cos = cs.cosine(s, c);
            if cos > best.0 || best.1 == usize::MAX {
                best = (cos, c);
            }
        }
        let t = best.1;
        cs.merge(s, t);
        for x in std::mem::take(&mut adj[s]) {
            adj[x as usize].remove(&(s as u32));
            if x as usize != t {
                adj[x as usize].insert(t as u32);
                adj[t].insert(x);
            }
        }
    }
    Ok(cs.finish())
}

/// Agglomerative merging: repeatedly merges the two communities whose centroids have the
/// highest cosine, while that cosine is at least `min_cosine` (ties: the lowest pair of
/// first-appearance ids). Returns canonical labels. Errors: bad embeddings, a label count
/// other than `n`, or a NaN `min_cosine`.
pub fn merge_close_communities(
    labels: &[u32],
    data: &[f32],
    n: usize,
    dim: usize,
    min_cosine: f32,
) -> Result<Vec<u32>, GraphError> {
    if min_cosine.is_nan() {
        return Err(GraphError::BadParameter {
            name: "min_cosine",
            value: f64::NAN,
            expected: "a cosine similarity in [-1, 1]",
        });
    }
    merge_closest(labels, data, n, dim, |best, _| {
        best >= f64::from(min_cosine)
    })
}

/// Agglomerative merging as in [`merge_close_communities`], but until exactly `count`
/// communities are left (or fewer were there to begin with). Returns canonical labels.
pub fn merge_to_count(
    labels: &[u32],
    data: &[f32],
    n: usize,
    dim: usize,
    count: usize,
) -> Result<Vec<u32>, GraphError> {
    merge_closest(labels, data, n, dim, |_, alive| alive > count.max(1))
}

/// Merges the closest pair of communities while `go(best cosine, communities alive)` holds.
fn merge_closest(
    labels: &[u32],
    data: &[f32],
    n: usize,
    dim: usize,
    go: impl Fn(f64, usize) -> bool,
) -> Result<Vec<u32>, GraphError> {
    let mut cs = Communities::new(labels, data, n, dim)?;
    let c = cs.sizes.len();
    let mut alive = c;
    let mut sim = vec![f64::NEG_INFINITY; c * c];
    for a in 0..c {
        for b in a + 1..c {
            sim[a * c + b] = cs.cosine(a, b);
        }
    }
    loop {
        let mut best = (f64::NEG_INFINITY, 0, 0);
        for a in 0..c {
            for b in a + 1..c {
                if sim[a * c + b] > best.0 {
                    best = (sim[a * c + b], a, b);
                }
            }
        }
        let (s, a, b) = best;
        if alive < 2 || s.is_nan() || !go(s, alive) {
            break;
        }
        cs.merge(b, a);
        alive -= 1;
        for x in 0..c {
            let (lo, hi) = (x.min(b), x.max(b));
            sim[lo * c + hi] = f64::NEG_INFINITY;
        }
        for x in (0..c).filter(|&x| x != a && cs.sizes[x] > 0) {
            let (lo, hi) = (x.min(a), x.max(a));
            sim[lo * c + hi] = cs.cosine(a, x);
        }
    }
    Ok(cs.finish())
}

/// Communities with running centroid sums; merged ones have size 0 and a parent.
struct Communities {
    labels: Vec<u32>,
    dim: usize,
    sizes: Vec<usize>,
    sums: Vec<f64>,
    norms: Vec<f64>,
    parent: Vec<u32>,
}

impl Communities {
    fn new(labels: &[u32], data: &[f32], n: usize, dim: usize) -> Result<Self, GraphError> {
        check_matrix(data, n, dim)?;
        if labels.len() != n {
            return Err(GraphError::LabelCount {
                labels: labels.len(),
                n,
            });
        }
        let (labels, c) = compact_labels(labels);
        let mut sizes = vec![0usize; c];
        let mut sums = vec![0f64; c * dim];
        for (row, &l) in data.chunks_exact(dim).zip(&labels) {
            sizes[l as usize] += 1;
            let s = &mut sums[l as usize * dim..(l as usize + 1) * dim];
            s.iter_mut().zip(row).for_each(|(a, &x)| *a += f64::from(x));
        }
        let mut cs = Self {
            labels,
            dim,
            sizes,
            sums,
            norms: vec![0.0; c],
            parent: (0..c as u32).collect(),
        };
        (0..c).for_each(|i| cs.update_norm(i));
        Ok(cs)
    }

    fn update_norm(&mut self, c: usize) {
        self.norms[c] = self.sums[c * self.dim..(c + 1) * self.dim]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
    }

    fn cosine(&self, a: usize, b: usize) -> f64 {
        let d = self.dim;
        let dot: f64 = self.sums[a * d..(a + 1) * d]
            .iter()
            .zip(&self.sums[b * d..(b + 1) * d])
            .map(|(x, y)| x * y)
            .sum();
        let norm = self.norms[a] * self.norms[b];
        if norm > 0.0 { dot / norm } else { 0.0 }
    }

    /// Merges community `from` into `into`.
    fn merge(&mut self, from: usize, into: usize) {
        let d = self.dim;
        for i in 0..d {
            self.sums[into * d + i] += self.sums[from * d + i];
        }
        self.sizes[into] += self.sizes[from];
        self.sizes[from] = 0;
        self.parent[from] = into as u32;
        self.update_norm(into);
    }

    fn finish(self) -> Vec<u32> {
        let root = |mut c: u32| {
            while self.parent[c as usize] != c {
                c = self.parent[c as usize];
            }
            c
        };
        canonical_labels(&self.labels.iter().map(|&l| root(l)).collect::<Vec<_>>())
    }
}
