//! Partitions and label bookkeeping.

use serde::{Deserialize, Serialize};

/// A partition of a graph's nodes into communities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Community of each node, in `0..n_communities`.
    pub labels: Vec<u32>,
    /// Number of distinct communities.
    pub n_communities: usize,
}

impl Partition {
    /// Builds a partition from arbitrary labels, relabelled by [`canonical_labels`].
    pub fn from_labels(labels: &[u32]) -> Self {
        let labels = canonical_labels(labels);
        let n_communities = labels.iter().max().map_or(0, |&m| m as usize + 1);
        Self {
            labels,
            n_communities,
        }
    }
}

/// Relabels communities `0..c` by size, largest first; equal sizes are ordered by their
/// smallest member index. The output depends only on which nodes share a label, so it is
/// deterministic, and label 0 is always the largest community.
pub fn canonical_labels(labels: &[u32]) -> Vec<u32> {
    let (compact, c) = compact_labels(labels);
    // compact ids are numbered by first appearance, so the id order is the smallest-member order.
    let mut sizes = vec![0usize; c];
    for &l in &compact {
        sizes[l as usize] += 1;
    }
    let mut order: Vec<u32> = (0..c as u32).collect();
    order.sort_by(|&a, &b| sizes[b as usize].cmp(&sizes[a as usize]).then(a.cmp(&b)));
    let mut rank = vec![0u32; c];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    compact.iter().map(|&l| rank[l as usize]).collect()
}

/// Renumbers labels `0..c` in order of first appearance; returns the labels and `c`.
pub(crate) fn compact_labels(labels: &[u32]) -> (Vec<u32>, usize) {
    let max = labels.iter().max().map_or(0, |&m| m as usize + 1);
    if max <= labels.len().saturating_mul(4).max(1024) {
        let mut map = vec![u32::MAX; max];
        let mut next = 0u32;
        let out = labels
            .iter()
            .map(|&l| {
                let slot = &mut map[l as usize];
                if *slot == u32::MAX {
                    *slot = next;
                    next += 1;
                }
                *slot
            })
            .collect();
        (out, next as usize)
    } else {
        let mut map = std::collections::HashMap::new();
        let out = labels
            .iter()
            .map(|&l| {
                let next = map.len() as u32;
                *map.entry(l).or_insert(next)
            })
            .collect();
        (out, map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_orders_by_size_then_first_member() {
        // sizes: 7 -> 2 (first at 0), 3 -> 3 (first at 1), 9 -> 2 (first at 4), 1 -> 1
        let labels = [7, 3, 3, 7, 9, 3, 9, 1];
        assert_eq!(canonical_labels(&labels), vec![1, 0, 0, 1, 2, 0, 2, 3]);
        let p = Partition::from_labels(&labels);
        assert_eq!(p.n_communities, 4);
        // Huge label values take the sparse path and give the same answer.
        let big: Vec<u32> = labels.iter().map(|&l| l * 100_000_000).collect();
        assert_eq!(canonical_labels(&big), canonical_labels(&labels));
        assert!(canonical_labels(&[]).is_empty());
    }
}
