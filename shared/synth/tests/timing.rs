//! Prints generation and scoring times at full size (run with `--nocapture`); asserts only
//! that the outputs are whole.

use std::time::Instant;

use tessera_synth::{NoiseLevel, SceneConfig, SceneKind, generate, partition_scores};

#[test]
fn print_generation_times() {
    for side in [2048usize, 4096] {
        for (kind, noise) in [
            (SceneKind::OrderDisorder, NoiseLevel::None),
            (SceneKind::OrderDisorder, NoiseLevel::High),
            (SceneKind::ThreePhase, NoiseLevel::Low),
            (SceneKind::Islands { count: 5 }, NoiseLevel::High),
        ] {
            let cfg = SceneConfig {
                width: side,
                height: side,
                kind,
                noise,
                ..SceneConfig::default()
            };
            let t = Instant::now();
            let img = generate(&cfg).expect("valid config");
            let dt = t.elapsed();
            assert_eq!(img.pixels.len(), side * side);
            println!(
                "generate {side}x{side} {kind:?} {noise:?}: {:.0} ms",
                dt.as_secs_f64() * 1e3
            );
        }
    }
}

#[test]
fn print_metric_times() {
    let cfg = SceneConfig {
        width: 4096,
        height: 4096,
        noise: NoiseLevel::None,
        ..SceneConfig::default()
    };
    let img = generate(&cfg).expect("valid config");
    // A prediction in 64-px blocks, as a chip-level segmentation would give.
    let pred: Vec<u32> = (0..img.truth.len())
        .map(|i| {
            let (x, y) = (i % 4096, i / 4096);
            u32::from(img.truth[(y / 64 * 64) * 4096 + x / 64 * 64]) * 7 + 3
        })
        .collect();
    let t = Instant::now();
    let s = partition_scores(&img.truth, &pred, None).expect("same length");
    println!(
        "partition_scores on 16.8M px: {:.0} ms ({s:?})",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert!(s.ari > 0.8 && s.ari < 1.0);
}
