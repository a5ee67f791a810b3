//! Modularity of a partition.

use crate::labels::compact_labels;
use crate::{Graph, GraphError};

/// Modularity with resolution `γ`: `Q = 1/2m Σ_ij [A_ij − γ k_i k_j / 2m] δ(c_i, c_j)`.
///
/// Labels may be any `u32` values; equal labels mean the same community. A graph without
/// edges has modularity 0. Errors: a label count other than the node count.
pub fn modularity(g: &Graph, labels: &[u32], resolution: f64) -> Result<f64, GraphError> {
    let n = g.n_nodes();
    if labels.len() != n {
        return Err(GraphError::LabelCount {
            labels: labels.len(),
            n,
        });
    }
    let (labels, c) = compact_labels(labels);
    Ok(modularity_compact(g, &labels, c, resolution))
}

/// [`modularity`] for labels already in `0..c`.
pub(crate) fn modularity_compact(g: &Graph, labels: &[u32], c: usize, resolution: f64) -> f64 {
    let two_m = 2.0 * g.total_weight();
    if two_m <= 0.0 {
        return 0.0;
    }
    let mut internal = 0f64;
    let mut totals = vec![0f64; c];
    for (v, &l) in labels.iter().enumerate() {
        totals[l as usize] += g.strength[v];
        for e in g.offsets[v]..g.offsets[v + 1] {
            if labels[g.targets[e] as usize] == l {
                internal += f64::from(g.weights[e]);
            }
        }
    }
    let expected: f64 = totals.iter().map(|t| (t / two_m).powi(2)).sum();
    internal / two_m - resolution * expected
}
