//! [`Graph`]: an undirected weighted graph in compressed sparse row form.

use crate::normalize::check_node_count;
use crate::{GraphError, Knn};

/// Smallest weight a k-NN edge gets. Cosine similarities at or below zero (rare once
/// embeddings are normalised) would otherwise give a zero or negative weight, which
/// modularity cannot use; the floor keeps the edge present but negligible.
pub const MIN_KNN_WEIGHT: f32 = 1e-4;

/// Undirected weighted graph stored as a symmetric adjacency matrix `A` in CSR form.
///
/// Every undirected edge `i–j` appears in both rows. Graphs built by the public
/// constructors have no self-loops; the aggregated graphs built inside community detection
/// keep each community's internal weight as a diagonal entry `A_ii`.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub(crate) offsets: Vec<usize>,
    pub(crate) targets: Vec<u32>,
    pub(crate) weights: Vec<f32>,
    pub(crate) strength: Vec<f64>,
    pub(crate) n_edges: usize,
    pub(crate) total_weight: f64,
}

impl Graph {
    /// Symmetrised union of a k-NN table: edge `i–j` if either row lists the other. Its
    /// weight is the cosine similarity (the larger of the two entries when both list each
    /// other), floored at [`MIN_KNN_WEIGHT`].
    pub fn from_knn(knn: &Knn) -> Result<Self, GraphError> {
        let k = knn.k;
        let bad = GraphError::BadKnn {
            indices: knn.indices.len(),
            similarities: knn.similarities.len(),
            k,
        };
        if knn.indices.len() != knn.similarities.len() || (k == 0 && !knn.indices.is_empty()) {
            return Err(bad);
        }
        let n = knn.indices.len().checked_div(k).unwrap_or(0);
        if n * k != knn.indices.len() {
            return Err(bad);
        }
        let mut edges = Vec::with_capacity(n * k);
        for (e, (&j, &s)) in knn.indices.iter().zip(&knn.similarities).enumerate() {
            let i = (e / k) as u32;
            if j as usize >= n {
                return Err(GraphError::NodeOutOfRange {
                    edge: e,
                    node: j,
                    n,
                });
            }
            if j != i {
                let w = if s.is_nan() {
                    MIN_KNN_WEIGHT
                } else {
                    s.max(MIN_KNN_WEIGHT)
                };
                edges.push((i, j, w));
            }
        }
        Ok(Self::build(n, &edges, false))
    }

    /// Builds a graph from undirected edges `(i, j, weight)`. `(i, j)` and `(j, i)` name the
    /// same edge, and duplicates are merged by summing their weights. Weights must be finite
    /// and positive, ids below `n`, and self-loops are refused.
    pub fn from_edges(n: usize, edges: &[(u32, u32, f32)]) -> Result<Self, GraphError> {
        check_node_count(n)?;
        for (e, &(a, b, w)) in edges.iter().enumerate() {
            for node in [a, b] {
                if node as usize >= n {
                    return Err(GraphError::NodeOutOfRange { edge: e, node, n });
                }
            }
            if a == b {
                return Err(GraphError::SelfLoop { edge: e, node: a });
            }
            if !(w.is_finite() && w > 0.0) {
                return Err(GraphError::BadWeight { edge: e, weight: w });
            }
        }
        Ok(Self::build(n, edges, true))
    }

    /// CSR from valid, loop-free edges; duplicates are summed (`sum`) or maxed.
    pub(crate) fn build(n: usize, edges: &[(u32, u32, f32)], sum: bool) -> Self {
        let mut offsets = vec![0usize; n + 1];
        for &(a, b, _) in edges {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0f32); offsets[n]];
        for &(a, b, w) in edges {
            entries[fill[a as usize]] = (b, w);
            fill[a as usize] += 1;
            entries[fill[b as usize]] = (a, w);
            fill[b as usize] += 1;
        }
        // Sort each row and merge duplicates, compacting in place.
        let mut targets = Vec::with_capacity(entries.len());
        let mut weights = Vec::with_capacity(entries.len());
        let mut new_offsets = vec![0usize; n + 1];
        for i in 0..n {
            let row = &mut entries[offsets[i]..offsets[i + 1]];
            row.sort_unstable_by_key(|&(t, _)| t);
            let start = targets.len();
            for &(t, w) in row.iter() {
                if targets.len() > start && targets[targets.len() - 1] == t {
                    let last = weights.len() - 1;
                    weights[last] = if sum {
                        weights[last] + w
                    } else {
                        f32::max(weights[last], w)
                    };
                } else {
                    targets.push(t);
                    weights.push(w);
                }
            }
            new_offsets[i + 1] = targets.len();
        }
        Self::from_parts(new_offsets, targets, weights)
    }

    /// Wraps CSR arrays (symmetric, possibly with diagonal entries) and derives strengths.
    pub(crate) fn from_parts(offsets: Vec<usize>, targets: Vec<u32>, weights: Vec<f32>) -> Self {
        let n = offsets.len().saturating_sub(1);
        let mut strength = vec![0f64; n];
        let mut loops = 0usize;
        for (i, s) in strength.iter_mut().enumerate() {
            let (ts, ws) = (
                &targets[offsets[i]..offsets[i + 1]],
                &weights[offsets[i]..offsets[i + 1]],
            );
            *s = ws.iter().map(|&w| f64::from(w)).sum();
            loops += ts.iter().filter(|&&t| t as usize == i).count();
        }
        let total_weight = strength.iter().sum::<f64>() / 2.0;
        let n_edges = (targets.len() - loops) / 2 + loops;
        Self {
            offsets,
            targets,
            weights,
            strength,
            n_edges,
            total_weight,
        }
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.strength.len()
    }

    /// Number of undirected edges, each counted once (a diagonal entry counts as one edge).
    pub fn n_edges(&self) -> usize {
        self.n_edges
    }

    /// Neighbours of node `i` and the weights of the edges to them, sorted by neighbour id
    /// for graphs from the public constructors. Empty slices when `i` is out of range.
    pub fn neighbors(&self, i: usize) -> (&[u32], &[f32]) {
        if i >= self.n_nodes() {
            return (&[], &[]);
        }
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.targets[r.clone()], &self.weights[r])
    }

    /// Total edge weight `m = ½ Σ_ij A_ij` (each undirected edge counted once).
    pub fn total_weight(&self) -> f64 {
        self.total_weight
    }

    /// Strength (weighted degree) `k_i = Σ_j A_ij` of node `i`; 0 when out of range.
    pub fn strength(&self, i: usize) -> f64 {
        self.strength.get(i).copied().unwrap_or(0.0)
    }

    /// Strengths of all nodes.
    pub fn strengths(&self) -> &[f64] {
        &self.strength
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_edges_merges_duplicates_and_checks_input() {
        let g = Graph::from_edges(3, &[(0, 1, 1.0), (1, 0, 2.0), (1, 2, 0.5)]).unwrap();
        assert_eq!(g.n_nodes(), 3);
        assert_eq!(g.n_edges(), 2);
        assert_eq!(g.neighbors(1), (&[0u32, 2][..], &[3.0f32, 0.5][..]));
        assert_eq!(g.total_weight(), 3.5);
        assert_eq!(g.strength(1), 3.5);
        assert!(matches!(
            Graph::from_edges(2, &[(0, 2, 1.0)]),
            Err(GraphError::NodeOutOfRange { node: 2, .. })
        ));
        assert!(matches!(
            Graph::from_edges(2, &[(1, 1, 1.0)]),
            Err(GraphError::SelfLoop { .. })
        ));
        assert!(matches!(
            Graph::from_edges(2, &[(0, 1, f32::NAN)]),
            Err(GraphError::BadWeight { .. })
        ));
        assert!(matches!(
            Graph::from_edges(2, &[(0, 1, -1.0)]),
            Err(GraphError::BadWeight { .. })
        ));
    }

    #[test]
    fn from_knn_symmetrises_and_floors() {
        let knn = Knn {
            k: 1,
            indices: vec![1, 2, 1],
            similarities: vec![0.9, -0.2, -0.2],
        };
        let g = Graph::from_knn(&knn).unwrap();
        assert_eq!(g.n_edges(), 2);
        assert_eq!(
            g.neighbors(1),
            (&[0u32, 2][..], &[0.9f32, MIN_KNN_WEIGHT][..])
        );
        let bad = Knn {
            k: 2,
            indices: vec![1, 0, 1],
            similarities: vec![0.0; 3],
        };
        assert!(matches!(
            Graph::from_knn(&bad),
            Err(GraphError::BadKnn { .. })
        ));
    }
}
