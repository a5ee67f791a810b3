//! The Leiden algorithm (Traag, Waltman & van Eck 2019) optimising modularity.

use crate::moving::{Mover, aggregate, compact_in_place};
use crate::order::with_locality;
use crate::refine::Refiner;
use crate::rng::Rng;
use crate::{Graph, GraphError, Partition};
use std::borrow::Cow;

/// Safety cap on "until stable" iterations (each strictly improves modularity, so this is
/// reached only if floating-point ties make moves cycle).
const MAX_STABLE_ITERATIONS: usize = 1000;

/// Settings of [`leiden`].
#[derive(Debug, Clone, PartialEq)]
pub struct LeidenConfig {
    /// Resolution `γ` of modularity (1.0 = plain modularity; higher gives more, smaller
    /// communities). Must be finite and `>= 0`.
    pub resolution: f64,
    /// Seed of the node orders and of the refinement's random merges.
    pub seed: u64,
    /// Number of Leiden iterations; `None` iterates until an iteration moves no node, like
    /// igraph's `n_iterations = -1`. `Some(0)` is refused.
    pub max_iterations: Option<usize>,
    /// Randomness `θ` of the refinement merges (igraph's `beta`). Must be finite and `> 0`.
    pub randomness: f64,
}

impl Default for LeidenConfig {
    fn default() -> Self {
        Self {
            resolution: 1.0,
            seed: 42,
            max_iterations: None,
            randomness: 0.01,
        }
    }
}

/// Leiden community detection maximising modularity at resolution `γ`.
///
/// Each iteration runs fast local moving, refines every community into well-connected
/// sub-communities, aggregates the graph on the refined partition (starting the aggregate
/// from the unrefined one) and repeats on the aggregate until local moving merges nothing.
/// Iterations restart from the previous partition. Same graph and seed give identical
/// labels; labels are canonical (see [`crate::canonical_labels`]). A graph with no edges
/// gives singletons.
pub fn leiden(g: &Graph, cfg: &LeidenConfig) -> Result<Partition, GraphError> {
    check_resolution(cfg.resolution)?;
    if !(cfg.randomness.is_finite() && cfg.randomness > 0.0) {
        return Err(GraphError::BadParameter {
            name: "randomness",
            value: cfg.randomness,
            expected: "a finite number > 0 (0.01 is usual)",
        });
    }
    if cfg.max_iterations == Some(0) {
        return Err(GraphError::BadParameter {
            name: "max_iterations",
            value: 0.0,
            expected: "Some(n) with n >= 1, or None",
        });
    }
    if g.total_weight() <= 0.0 {
        return Ok(Partition::from_labels(
            &(0..g.n_nodes() as u32).collect::<Vec<_>>(),
        ));
    }
    let membership = with_locality(g, |g| {
        let mut membership: Vec<u32> = (0..g.n_nodes() as u32).collect();
        let r = cfg.resolution / (2.0 * g.total_weight());
        let mut state = State {
            rng: Rng::new(cfg.seed),
            mover: Mover::default(),
            refiner: Refiner::default(),
            map: Vec::new(),
            bucket: Vec::new(),
        };
        for _ in 0..cfg.max_iterations.unwrap_or(MAX_STABLE_ITERATIONS) {
            let changed = state.iterate(g, &mut membership, r, cfg.randomness);
            if !changed && cfg.max_iterations.is_none() {
                break;
            }
        }
        membership
    });
    Ok(Partition::from_labels(&membership))
}

/// Checks a resolution parameter.
pub(crate) fn check_resolution(resolution: f64) -> Result<(), GraphError> {
    if resolution.is_finite() && resolution >= 0.0 {
        Ok(())
    } else {
        Err(GraphError::BadParameter {
            name: "resolution",
            value: resolution,
            expected: "a finite number >= 0 (1.0 is plain modularity)",
        })
    }
}

/// Buffers and randomness carried across Leiden iterations.
struct State {
    rng: Rng,
    mover: Mover,
    refiner: Refiner,
    map: Vec<u32>,
    bucket: Vec<(u32, f32)>,
}

impl State {
    /// One Leiden iteration from `membership`; returns whether any node moved.
    fn iterate(&mut self, g: &Graph, membership: &mut [u32], r: f64, theta: f64) -> bool {
        let n = g.n_nodes();
        compact_in_place(membership, &mut self.map);
        let mut level: Cow<'_, Graph> = Cow::Borrowed(g);
        let mut level_membership = membership.to_vec();
        let mut node_of: Vec<u32> = (0..n as u32).collect();
        let mut changed = false;
        loop {
            changed |= self
                .mover
                .move_nodes(&level, &mut level_membership, r, &mut self.rng);
            let n_clusters = compact_in_place(&mut level_membership, &mut self.map);
            for (m, &a) in membership.iter_mut().zip(&node_of) {
                *m = level_membership[a as usize];
            }
            let level_n = level.n_nodes();
            if n_clusters == level_n {
                return changed;
            }
            let mut refined = self.refiner.refine(
                &level,
                &level_membership,
                n_clusters,
                r,
                theta,
                &mut self.rng,
            );
            let mut n_refined = compact_in_place(&mut refined, &mut self.map);
            if n_refined == level_n {
                refined.copy_from_slice(&level_membership);
                n_refined = n_clusters;
            }
            for a in node_of.iter_mut() {
                *a = refined[*a as usize];
            }
            let mut next_membership = vec![0u32; n_refined];
            for (v, &p) in refined.iter().enumerate() {
                next_membership[p as usize] = level_membership[v];
            }
            level = Cow::Owned(aggregate(&level, &refined, n_refined, &mut self.bucket));
            level_membership = next_membership;
        }
    }
}
