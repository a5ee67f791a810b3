//! Helpers for `scripts/bench.sh`.
//!
//! - `bench_pipeline write DIR [SIDE...]`: writes the benchmark frames `bench-SIDE.png`,
//!   by default `bench-2048.png` and `bench-4096.png` (synthetic STEM order/disorder scenes,
//!   16-bit).
//! - `bench_pipeline model [SIDE] [CHIPS] [MODEL]`: a model's own throughput (default
//!   efficientnet-lite0, FP32) on 64-px chips embedded at SIDE (default 64), in batches of 64,
//!   best and median of 5 runs.
//! - `bench_pipeline dense [CHIPS] [DIM] [K]`: the chip graph's dense steps (k-NN search and
//!   confidence margins) on the host and as ONNX graphs on the CPU provider
//!   (`tessera-device-graph`, what `--graph-on device` runs), best of 3 each, on clustered
//!   unit rows (default 4096 × 1285, the size of EfficientNet-Lite0 rows with the intensity
//!   block, and k = 10).

// Benchmark code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use tessera_device_graph::DeviceSteps;
use tessera_embedding::ExecutionProvider;
use tessera_graph::knn_cosine;
use tessera_imaging::encode_png_gray16;
use tessera_segment::confidence::{chip_confidence, community_centroids};
use tessera_synth::{NoiseLevel, SceneConfig, generate, to_u16};
use tessera_tests::{clustered_unit_rows, encoder, runtime};

fn write(dir: &str, sizes: &[usize]) {
    std::fs::create_dir_all(dir).unwrap();
    for &size in sizes {
        let s = generate(&SceneConfig {
            width: size,
            height: size,
            seed: 7,
            noise: NoiseLevel::Medium,
            ..SceneConfig::default()
        })
        .unwrap();
        let png = encode_png_gray16(size, size, &to_u16(&s.pixels)).unwrap();
        std::fs::write(format!("{dir}/bench-{size}.png"), png).unwrap();
    }
}

fn model(side: usize, n: usize, name: &str) {
    let mut enc = encoder(name, side);
    // Varied content, so no kernel sees all-equal inputs.
    let chips: Vec<f32> = (0..n * 64 * 64)
        .map(|i| ((i as u64).wrapping_mul(2654435761) % 1000) as f32 / 1000.0)
        .collect();
    enc.embed(&chips[..64 * 64 * 64], 64).unwrap();
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            enc.embed(&chips, 64).unwrap();
            n as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "RESULT model {name} side={side} chips={n} best_chips_per_s={:.1} median_chips_per_s={:.1}",
        rates[4], rates[2]
    );
}

/// The best of 3 runs of `f`, in ms.
fn best_ms(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn dense(n: usize, dim: usize, k: usize) {
    let data = clustered_unit_rows(n, dim, 8, 0.5, 0x9e37_79b9_7f4a_7c15);
    let labels: Vec<u32> = (0..n).map(|i| (i % 8) as u32).collect();
    let centroids = community_centroids(&data, dim, &labels, 8);
    let mut device = DeviceSteps::new(&runtime(), &ExecutionProvider::Cpu, 0).unwrap();
    let host_knn = best_ms(|| drop(knn_cosine(&data, n, dim, k).unwrap()));
    let device_knn = best_ms(|| drop(device.knn_cosine(&data, n, dim, k).unwrap()));
    let host_margins = best_ms(|| drop(chip_confidence(&data, dim, &labels, &centroids)));
    let device_margins = best_ms(|| drop(device.margins(&data, dim, &labels, &centroids).unwrap()));
    println!(
        "RESULT dense chips={n} dim={dim} k={k} knn_host_ms={host_knn:.1} \
         knn_device_cpu_ms={device_knn:.1} margins_host_ms={host_margins:.2} \
         margins_device_cpu_ms={device_margins:.2}"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") => {
            let sizes: Vec<usize> = args.iter().skip(2).map(|s| s.parse().unwrap()).collect();
            let sizes = if sizes.is_empty() {
                vec![2048, 4096]
            } else {
                sizes
            };
            write(args.get(1).map_or("bench-data", String::as_str), &sizes)
        }
        Some("model") => model(
            args.get(1).map_or(64, |s| s.parse().unwrap()),
            args.get(2).map_or(1024, |s| s.parse().unwrap()),
            args.get(3).map_or("efficientnet-lite0", String::as_str),
        ),
        Some("dense") => dense(
            args.get(1).map_or(4096, |s| s.parse().unwrap()),
            args.get(2).map_or(1285, |s| s.parse().unwrap()),
            args.get(3).map_or(10, |s| s.parse().unwrap()),
        ),
        _ => eprintln!(
            "usage: bench_pipeline write DIR | model [SIDE] [CHIPS] [MODEL] | dense [CHIPS] \
             [DIM] [K]"
        ),
    }
}
