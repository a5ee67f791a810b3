//! Benchmark figures for the graph crate (prints, does not assert).
//!
//! Builds a 100k-node k-NN graph (k = 10) from a deterministic Gaussian mixture
//! (100 000 × 32, 40 overlapping clusters; noise `TESSERA_BENCH_SPREAD`, default 1.4, gives
//! modularity ≈ 0.81), writes its weighted edge list if a path is given (first non-flag
//! argument or `TESSERA_BENCH_EDGES`), times Leiden (modularity, resolution 1, until
//! stable) for seeds 42..=46, then times `knn_cosine` and `pca` on 4096 × 1280 and
//! 16384 × 1280. `scripts/bench_leiden.sh` compares the Leiden figures with igraph's.
//!
//! "Until stable" runs a seed-dependent number of iterations (about 10 to 30 on the
//! default graph), so the mean over seeds is the figure to compare.
//!
//! Run: `cargo bench -p tessera-graph --bench leiden -- /tmp/edges.txt` (an absolute path:
//! `cargo bench` runs the benchmark in the crate's folder). `TESSERA_BENCH_QUICK=1` shrinks
//! everything to a 5000-node graph, one seed and a 512-row k-NN/PCA, for a check that it runs.

use std::io::Write;
use std::time::Instant;
use tessera_graph::{Graph, LeidenConfig, knn_cosine, l2_normalize_rows, leiden, modularity, pca};

/// SplitMix64 normals for deterministic synthetic data.
struct Gen(u64);

impl Gen {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n × dim` L2-normalised rows around `clusters` random centres with noise `spread`.
fn mixture(n: usize, dim: usize, clusters: usize, spread: f64, seed: u64) -> Vec<f32> {
    let mut g = Gen(seed);
    let centres: Vec<f64> = (0..clusters * dim).map(|_| g.normal()).collect();
    let mut data = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = (g.uniform() * clusters as f64) as usize % clusters;
        data.extend((0..dim).map(|d| (centres[c * dim + d] + spread * g.normal()) as f32));
    }
    l2_normalize_rows(&mut data, dim);
    data
}

fn write_edges(g: &Graph, path: &str) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{} {}", g.n_nodes(), g.n_edges())?;
    for i in 0..g.n_nodes() {
        let (ts, ws) = g.neighbors(i);
        for (&j, &w) in ts.iter().zip(ws) {
            if (j as usize) > i {
                writeln!(out, "{i} {j} {w}")?;
            }
        }
    }
    out.flush()
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .or_else(|| std::env::var("TESSERA_BENCH_EDGES").ok());
    // Quick mode (`TESSERA_BENCH_QUICK=1`, what the test command runs): tiny sizes, one seed,
    // to prove the benchmark still runs end to end, not to measure.
    let quick = std::env::var("TESSERA_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (n, dim, k) = (if quick { 5_000 } else { 100_000 }, 32, 10);
    let seeds = if quick { 42u64..=42 } else { 42u64..=46 };
    let spread: f64 = std::env::var("TESSERA_BENCH_SPREAD")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.4);
    let data = mixture(n, dim, 40, spread, 1);
    let t = Instant::now();
    let knn = knn_cosine(&data, n, dim, k).expect("knn");
    println!(
        "knn_cosine {n}x{dim} k={k}: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    let g = Graph::from_knn(&knn).expect("graph");
    println!(
        "graph: {} nodes, {} edges, total weight {:.1}",
        g.n_nodes(),
        g.n_edges(),
        g.total_weight()
    );
    if let Some(p) = &path {
        write_edges(&g, p).expect("write edge list");
        println!("edge list written to {p}");
    }
    let (mut times, mut mods) = (Vec::new(), Vec::new());
    for seed in seeds {
        let cfg = LeidenConfig {
            seed,
            ..Default::default()
        };
        let t = Instant::now();
        let p = leiden(&g, &cfg).expect("leiden");
        let secs = t.elapsed().as_secs_f64();
        let q = modularity(&g, &p.labels, 1.0).expect("modularity");
        println!(
            "leiden seed {seed}: {secs:.4} s, modularity {q:.6}, {} communities",
            p.n_communities
        );
        times.push(secs);
        mods.push(q);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "RESULT ours_mean_s={:.6} ours_best_s={best:.6} ours_modularity={:.6}",
        mean(&times),
        mean(&mods)
    );

    let sizes: &[usize] = if quick { &[512] } else { &[4096, 16384] };
    for &n in sizes {
        let dim = 1280;
        let data = mixture(n, dim, 12, 1.5, 2);
        let t = Instant::now();
        let knn = knn_cosine(&data, n, dim, 10).expect("knn");
        println!(
            "knn_cosine {n}x{dim} k=10: {:.3} s (first neighbour of row 0: {})",
            t.elapsed().as_secs_f64(),
            knn.indices[0]
        );
        let t = Instant::now();
        let p = pca(&data, n, dim, 64).expect("pca");
        println!(
            "pca {n}x{dim} -> 64: {:.3} s ({} values)",
            t.elapsed().as_secs_f64(),
            p.len()
        );
    }
}
