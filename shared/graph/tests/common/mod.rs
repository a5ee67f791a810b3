//! Shared test helpers: a seeded generator, synthetic embeddings and SBM graphs.
#![allow(dead_code, unreachable_pub)]

use tessera_graph::Graph;

/// SplitMix64: enough randomness for test data.
pub struct TestRng(pub u64);

impl TestRng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Planted partition: `blocks` blocks of `size` nodes, edge probability `p_in` / `p_out`.
pub fn sbm(blocks: usize, size: usize, p_in: f64, p_out: f64, seed: u64) -> (Graph, Vec<u32>) {
    let n = blocks * size;
    let mut rng = TestRng(seed);
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let p = if i / size == j / size { p_in } else { p_out };
            if rng.uniform() < p {
                edges.push((i as u32, j as u32, 1.0));
            }
        }
    }
    let truth = (0..n).map(|i| (i / size) as u32).collect();
    (
        Graph::from_edges(n, &edges).expect("valid SBM edges"),
        truth,
    )
}

/// Gaussian mixture: `clusters` centres in `dim` dimensions, `per` points each, rows
/// L2-normalised. Returns data and the true cluster of each row.
pub fn mixture(
    clusters: usize,
    per: usize,
    dim: usize,
    spread: f64,
    seed: u64,
) -> (Vec<f32>, Vec<u32>) {
    let mut rng = TestRng(seed);
    let centres: Vec<f64> = (0..clusters * dim).map(|_| rng.normal()).collect();
    let mut data = Vec::new();
    let mut truth = Vec::new();
    for c in 0..clusters {
        for _ in 0..per {
            for d in 0..dim {
                data.push((centres[c * dim + d] + spread * rng.normal()) as f32);
            }
            truth.push(c as u32);
        }
    }
    tessera_graph::l2_normalize_rows(&mut data, dim);
    (data, truth)
}
