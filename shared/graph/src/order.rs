//! Node renumbering for memory locality.
//!
//! Community detection touches each node's neighbours' state at random; when node ids
//! follow the graph's structure those accesses stay in cache. Breadth-first order from the
//! lowest unvisited id (neighbours in stored order) gives such ids in `O(n + m)`, and is
//! deterministic.

use crate::Graph;

/// Breadth-first order: `order[new] = old`.
fn bfs_order(g: &Graph) -> Vec<u32> {
    let n = g.n_nodes();
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for s in 0..n {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        order.push(s as u32);
        let mut head = order.len() - 1;
        while head < order.len() {
            let v = order[head] as usize;
            head += 1;
            for &u in &g.targets[g.offsets[v]..g.offsets[v + 1]] {
                if !seen[u as usize] {
                    seen[u as usize] = true;
                    order.push(u);
                }
            }
        }
    }
    order
}

/// The graph with node `order[new]` renamed `new`.
fn permute(g: &Graph, order: &[u32]) -> Graph {
    let n = g.n_nodes();
    let mut inv = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        inv[old as usize] = new as u32;
    }
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0usize);
    let mut targets = Vec::with_capacity(g.targets.len());
    let mut weights = Vec::with_capacity(g.weights.len());
    for &old in order {
        let (lo, hi) = (g.offsets[old as usize], g.offsets[old as usize + 1]);
        targets.extend(g.targets[lo..hi].iter().map(|&t| inv[t as usize]));
        weights.extend_from_slice(&g.weights[lo..hi]);
        offsets.push(targets.len());
    }
    Graph::from_parts(offsets, targets, weights)
}

/// Runs `detect` on a copy of `g` renumbered in [`bfs_order`] and maps the labels it
/// returns (one per renumbered node) back to the original ids.
pub(crate) fn with_locality(g: &Graph, detect: impl FnOnce(&Graph) -> Vec<u32>) -> Vec<u32> {
    let order = bfs_order(g);
    let labels = detect(&permute(g, &order));
    let mut original = vec![0u32; labels.len()];
    for (new, &old) in order.iter().enumerate() {
        original[old as usize] = labels[new];
    }
    original
}
