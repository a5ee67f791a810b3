//! Leiden's refinement phase (Traag, Waltman & van Eck 2019, Algorithm A.2 `MergeNodesSubset`).
//!
//! Inside each community of the local-moving partition, every node starts as its own
//! refined community. Nodes are visited in a random order; a node that is still a singleton
//! and well connected to the rest of its community may join a well-connected refined
//! community of the same community, chosen at random with probability ∝ `exp(gain / θ)`
//! among the moves with non-negative gain (staying alone has gain 0).

use crate::Graph;
use crate::rng::Rng;

/// Reusable buffers for [`Refiner::refine`].
#[derive(Default)]
pub(crate) struct Refiner {
    cluster_weight: Vec<f64>,
    ref_weight: Vec<f64>,
    ext_weight: Vec<f64>,
    singleton: Vec<bool>,
    nbr_weight: Vec<f64>,
    nbr: Vec<u32>,
    cum: Vec<f64>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    start: Vec<usize>,
    intra_offsets: Vec<usize>,
    intra_targets: Vec<u32>,
    intra_weights: Vec<f32>,
}

impl Refiner {
    /// Refines `membership` (ids `0..n_clusters`); returns refined ids (`< n`, not compact).
    pub(crate) fn refine(
        &mut self,
        g: &Graph,
        membership: &[u32],
        n_clusters: usize,
        r: f64,
        theta: f64,
        rng: &mut Rng,
    ) -> Vec<u32> {
        let n = g.n_nodes();
        self.build_intra(g, membership);
        self.cluster_weight.clear();
        self.cluster_weight.resize(n_clusters, 0.0);
        self.start.clear();
        self.start.resize(n_clusters + 1, 0);
        for (v, &c) in membership.iter().enumerate() {
            self.cluster_weight[c as usize] += g.strength[v];
            self.start[c as usize + 1] += 1;
        }
        for c in 0..n_clusters {
            self.start[c + 1] += self.start[c];
        }
        // Each cluster's nodes, ascending, then shuffled keeping locality.
        self.order.clear();
        self.order.resize(n, 0);
        let mut fill = self.start.clone();
        for (v, &c) in membership.iter().enumerate() {
            self.order[fill[c as usize]] = v as u32;
            fill[c as usize] += 1;
        }
        for c in 0..n_clusters {
            rng.local_shuffle(
                &mut self.order[self.start[c]..self.start[c + 1]],
                &mut self.scratch,
            );
        }
        let mut refined: Vec<u32> = (0..n as u32).collect();
        self.ref_weight.clear();
        self.ref_weight.extend_from_slice(&g.strength);
        self.singleton.clear();
        self.singleton.resize(n, true);
        self.nbr_weight.clear();
        self.nbr_weight.resize(n, 0.0);
        for i in 0..n {
            let v = self.order[i] as usize;
            let own = refined[v] as usize;
            if !self.singleton[own] {
                continue;
            }
            let total = self.cluster_weight[membership[v] as usize];
            let well_connected = |ext: f64, w: f64| ext >= w * (total - w) * r;
            if !well_connected(self.ext_weight[own], self.ref_weight[own]) {
                continue;
            }
            let kv = g.strength[v];
            self.ref_weight[own] = 0.0;
            self.ext_weight[own] = 0.0;
            let (lo, hi) = (self.intra_offsets[v], self.intra_offsets[v + 1]);
            let (targets, weights) = (&self.intra_targets[lo..hi], &self.intra_weights[lo..hi]);
            for (&u, &w) in targets.iter().zip(weights) {
                let d = refined[u as usize] as usize;
                if self.nbr_weight[d] == 0.0 {
                    self.nbr.push(d as u32);
                }
                self.nbr_weight[d] += f64::from(w);
            }
            // Staying alone: gain 0, weight exp(0) = 1.
            let (mut chosen, mut max_gain, mut sum) = (own, 0.0f64, 1.0f64);
            self.cum.clear();
            for &d in &self.nbr {
                let d = d as usize;
                if well_connected(self.ext_weight[d], self.ref_weight[d]) {
                    let gain = self.nbr_weight[d] - kv * self.ref_weight[d] * r;
                    if gain > max_gain {
                        max_gain = gain;
                        chosen = d;
                    }
                    if gain >= 0.0 && sum.is_finite() {
                        sum += (gain / theta).exp();
                    }
                }
                self.cum.push(sum);
            }
            if sum.is_finite() && sum > 1.0 {
                let x = rng.next_f64() * sum;
                chosen = own;
                if x >= 1.0 {
                    let pick = self
                        .cum
                        .partition_point(|&c| c <= x)
                        .min(self.nbr.len() - 1);
                    chosen = self.nbr[pick] as usize;
                }
            }
            for &d in &self.nbr {
                self.nbr_weight[d as usize] = 0.0;
            }
            self.nbr.clear();
            self.ref_weight[chosen] += kv;
            for (&u, &w) in targets.iter().zip(weights) {
                if refined[u as usize] as usize == chosen {
                    self.ext_weight[chosen] -= f64::from(w);
                } else {
                    self.ext_weight[chosen] += f64::from(w);
                }
            }
            if chosen != own {
                refined[v] = chosen as u32;
                self.singleton[chosen] = false;
            }
        }
        refined
    }

    /// Keeps only the edges inside each cluster (no self-loops), and sets each node's
    /// `ext_weight` to its weight towards the rest of its cluster.
    fn build_intra(&mut self, g: &Graph, membership: &[u32]) {
        let n = g.n_nodes();
        self.intra_offsets.clear();
        self.intra_offsets.push(0);
        self.intra_targets.clear();
        self.intra_weights.clear();
        self.ext_weight.clear();
        for v in 0..n {
            let s = membership[v];
            let mut ext = 0f64;
            for e in g.offsets[v]..g.offsets[v + 1] {
                let u = g.targets[e];
                if u as usize != v && membership[u as usize] == s {
                    self.intra_targets.push(u);
                    self.intra_weights.push(g.weights[e]);
                    ext += f64::from(g.weights[e]);
                }
            }
            self.ext_weight.push(ext);
            self.intra_offsets.push(self.intra_targets.len());
        }
    }
}
