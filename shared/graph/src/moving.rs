//! Fast local moving and aggregation, shared by Leiden and Louvain.
//!
//! Quality is modularity with node weight = strength `k_v` and `r = γ / 2m`: moving node
//! `v` into community `C` (without `v`) gains `w(v, C) − r·k_v·K_C`, where `K_C` is the
//! summed strength of `C`.

use crate::Graph;
use crate::rng::Rng;

/// Reusable buffers for [`Mover::move_nodes`].
#[derive(Default)]
pub(crate) struct Mover {
    comm_weight: Vec<f64>,
    comm_size: Vec<u32>,
    empty: Vec<u32>,
    nbr_weight: Vec<f64>,
    nbr_comms: Vec<u32>,
    queue: Vec<u32>,
    in_queue: Vec<bool>,
}

impl Mover {
    /// Traag et al.'s fast local moving: visit nodes from a queue (initially all nodes in a
    /// random order), move each to the neighbouring (or an empty) community with the best
    /// strictly positive gain, and re-queue the neighbours that a move may now attract.
    /// `membership` ids must be below `n`. Returns whether any node moved.
    pub(crate) fn move_nodes(
        &mut self,
        g: &Graph,
        membership: &mut [u32],
        r: f64,
        rng: &mut Rng,
    ) -> bool {
        let n = g.n_nodes();
        self.comm_weight.clear();
        self.comm_weight.resize(n, 0.0);
        self.comm_size.clear();
        self.comm_size.resize(n, 0);
        self.nbr_weight.clear();
        self.nbr_weight.resize(n, 0.0);
        for (v, &c) in membership.iter().enumerate() {
            self.comm_weight[c as usize] += g.strength[v];
            self.comm_size[c as usize] += 1;
        }
        self.empty.clear();
        self.empty.extend(
            (0..n as u32)
                .rev()
                .filter(|&c| self.comm_size[c as usize] == 0),
        );
        self.queue.clear();
        self.queue.extend(0..n as u32);
        rng.local_shuffle(&mut self.queue, &mut self.nbr_comms);
        self.nbr_comms.clear();
        self.in_queue.clear();
        self.in_queue.resize(n, true);
        let (mut head, mut len) = (0usize, n);
        let mut changed = false;
        while len > 0 {
            let v = self.queue[head] as usize;
            head = if head + 1 == n { 0 } else { head + 1 };
            len -= 1;
            self.in_queue[v] = false;
            let (lo, hi) = (g.offsets[v], g.offsets[v + 1]);
            let (targets, weights) = (&g.targets[lo..hi], &g.weights[lo..hi]);
            for (&u, &w) in targets.iter().zip(weights) {
                if u as usize != v {
                    let c = membership[u as usize] as usize;
                    if self.nbr_weight[c] == 0.0 {
                        self.nbr_comms.push(c as u32);
                    }
                    self.nbr_weight[c] += f64::from(w);
                }
            }
            let old = membership[v];
            let kv = g.strength[v];
            let rk = r * kv;
            self.comm_weight[old as usize] -= kv;
            self.comm_size[old as usize] -= 1;
            let mut best = old;
            let mut best_gain = self.nbr_weight[old as usize] - rk * self.comm_weight[old as usize];
            for &c in &self.nbr_comms {
                let gain = self.nbr_weight[c as usize] - rk * self.comm_weight[c as usize];
                if gain > best_gain {
                    best = c;
                    best_gain = gain;
                }
            }
            for &c in &self.nbr_comms {
                self.nbr_weight[c as usize] = 0.0;
            }
            self.nbr_comms.clear();
            if best_gain < 0.0 && self.comm_size[old as usize] > 0 {
                if let Some(e) = self.empty.pop() {
                    best = e;
                }
            }
            self.comm_weight[best as usize] += kv;
            self.comm_size[best as usize] += 1;
            if best != old {
                membership[v] = best;
                changed = true;
                if self.comm_size[old as usize] == 0 {
                    self.empty.push(old);
                }
                for &u in targets {
                    let u = u as usize;
                    if !self.in_queue[u] && membership[u] != best {
                        self.in_queue[u] = true;
                        let tail = if head + len >= n {
                            head + len - n
                        } else {
                            head + len
                        };
                        self.queue[tail] = u as u32;
                        len += 1;
                    }
                }
            }
        }
        changed
    }
}

/// Renumbers labels `0..c` in order of first appearance, in place (labels must be `< len`);
/// returns `c`.
pub(crate) fn compact_in_place(labels: &mut [u32], map: &mut Vec<u32>) -> usize {
    map.clear();
    map.resize(labels.len(), u32::MAX);
    let mut next = 0u32;
    for l in labels.iter_mut() {
        let slot = &mut map[*l as usize];
        if *slot == u32::MAX {
            *slot = next;
            next += 1;
        }
        *l = *slot;
    }
    next as usize
}

/// Collapses each part of `part` (ids `0..n_parts`) into one node; edge weights between
/// parts are summed and a part's internal weight becomes its diagonal entry.
///
/// Rows are read once in node order (sequential memory) and scattered into per-part
/// buckets, which are then merged; this is much faster than visiting rows part by part.
pub(crate) fn aggregate(
    g: &Graph,
    part: &[u32],
    n_parts: usize,
    bucket: &mut Vec<(u32, f32)>,
) -> Graph {
    let n = g.n_nodes();
    let mut start = vec![0usize; n_parts + 1];
    for v in 0..n {
        start[part[v] as usize + 1] += g.offsets[v + 1] - g.offsets[v];
    }
    for p in 0..n_parts {
        start[p + 1] += start[p];
    }
    let mut fill = start.clone();
    bucket.clear();
    bucket.resize(g.targets.len(), (0, 0.0));
    for v in 0..n {
        let p = part[v] as usize;
        let (lo, hi) = (g.offsets[v], g.offsets[v + 1]);
        let pos = fill[p];
        for (slot, (&t, &w)) in bucket[pos..pos + hi - lo]
            .iter_mut()
            .zip(g.targets[lo..hi].iter().zip(&g.weights[lo..hi]))
        {
            *slot = (part[t as usize], w);
        }
        fill[p] = pos + hi - lo;
    }
    let mut acc = vec![0f64; n_parts];
    let mut offsets = Vec::with_capacity(n_parts + 1);
    offsets.push(0usize);
    let mut targets = Vec::with_capacity(g.targets.len());
    let mut weights = Vec::with_capacity(g.targets.len());
    for p in 0..n_parts {
        let row_start = targets.len();
        for &(q, w) in &bucket[start[p]..start[p + 1]] {
            if acc[q as usize] == 0.0 {
                targets.push(q);
            }
            acc[q as usize] += f64::from(w);
        }
        for &q in &targets[row_start..] {
            weights.push(acc[q as usize] as f32);
            acc[q as usize] = 0.0;
        }
        offsets.push(targets.len());
    }
    Graph::from_parts(offsets, targets, weights)
}
