//! The Louvain method (Blondel et al. 2008) with networkx's `louvain_communities` semantics.

use crate::leiden::check_resolution;
use crate::moving::{Mover, aggregate, compact_in_place};
use crate::order::with_locality;
use crate::quality::modularity_compact;
use crate::rng::Rng;
use crate::{Graph, GraphError, Partition};
use std::borrow::Cow;

/// Settings of [`louvain`].
#[derive(Debug, Clone, PartialEq)]
pub struct LouvainConfig {
    /// Resolution `γ` of modularity (GraphEM uses 1.0). Must be finite and `>= 0`.
    pub resolution: f64,
    /// Seed of the node orders (GraphEM uses 42; the stream differs from Python's).
    pub seed: u64,
    /// Stop when a level raises modularity by no more than this (networkx's 1e-7).
    pub threshold: f64,
}

impl Default for LouvainConfig {
    fn default() -> Self {
        Self {
            resolution: 1.0,
            seed: 42,
            threshold: 1e-7,
        }
    }
}

/// Louvain community detection maximising modularity at resolution `γ`.
///
/// Levels of local moving (the same queue-based moving as [`crate::leiden`]) alternate with
/// aggregation on the partition found, until a level moves nothing, merges nothing, or
/// gains no more than `threshold`; the last level's partition is returned, as networkx
/// does. Same graph and seed give identical labels; labels are canonical.
pub fn louvain(g: &Graph, cfg: &LouvainConfig) -> Result<Partition, GraphError> {
    check_resolution(cfg.resolution)?;
    if !(cfg.threshold.is_finite() && cfg.threshold >= 0.0) {
        return Err(GraphError::BadParameter {
            name: "threshold",
            value: cfg.threshold,
            expected: "a finite number >= 0 (1e-7 is networkx's)",
        });
    }
    if g.total_weight() <= 0.0 {
        return Ok(Partition::from_labels(
            &(0..g.n_nodes() as u32).collect::<Vec<_>>(),
        ));
    }
    let membership = with_locality(g, |g| levels(g, cfg));
    Ok(Partition::from_labels(&membership))
}

/// Louvain levels on a graph with positive total weight; returns one label per node.
fn levels(g: &Graph, cfg: &LouvainConfig) -> Vec<u32> {
    let n = g.n_nodes();
    let r = cfg.resolution / (2.0 * g.total_weight());
    let (mut rng, mut mover, mut map, mut bucket) =
        (Rng::new(cfg.seed), Mover::default(), Vec::new(), Vec::new());
    let mut membership: Vec<u32> = (0..n as u32).collect();
    let mut level: Cow<'_, Graph> = Cow::Borrowed(g);
    let mut level_membership = membership.clone();
    let mut node_of = membership.clone();
    let mut quality = modularity_compact(g, &membership, n, cfg.resolution);
    loop {
        let moved = mover.move_nodes(&level, &mut level_membership, r, &mut rng);
        let n_clusters = compact_in_place(&mut level_membership, &mut map);
        for (m, &a) in membership.iter_mut().zip(&node_of) {
            *m = level_membership[a as usize];
        }
        let new_quality = modularity_compact(&level, &level_membership, n_clusters, cfg.resolution);
        if !moved || n_clusters == level.n_nodes() || new_quality - quality <= cfg.threshold {
            return membership;
        }
        quality = new_quality;
        for a in node_of.iter_mut() {
            *a = level_membership[*a as usize];
        }
        level = Cow::Owned(aggregate(
            &level,
            &level_membership,
            n_clusters,
            &mut bucket,
        ));
        level_membership = (0..n_clusters as u32).collect();
    }
}
