//! Scene generation: determinism, truth, intensities, curved fronts, separability.

use tessera_synth::{
    LatticeKind, NoiseLevel, NoiseParams, SceneConfig, SceneKind, SynthError, SynthImage, generate,
};

fn cfg(kind: SceneKind, seed: u64, noise: NoiseLevel) -> SceneConfig {
    SceneConfig {
        width: 512,
        height: 384,
        seed,
        kind,
        noise,
        ..SceneConfig::default()
    }
}

fn gen_ok(c: &SceneConfig) -> SynthImage {
    generate(c).expect("valid config")
}

#[test]
fn same_seed_same_image_other_seed_other_image() {
    let c = cfg(SceneKind::OrderDisorder, 11, NoiseLevel::High);
    let a = gen_ok(&c);
    assert_eq!(a, gen_ok(&c));
    let b = gen_ok(&SceneConfig { seed: 12, ..c });
    assert_ne!(a.pixels, b.pixels);
    assert_ne!(a.truth, b.truth);
}

#[test]
fn noise_level_does_not_move_truth_or_atoms() {
    let clean = gen_ok(&cfg(SceneKind::ThreePhase, 5, NoiseLevel::None));
    let noisy = gen_ok(&cfg(SceneKind::ThreePhase, 5, NoiseLevel::High));
    assert_eq!(clean.truth, noisy.truth);
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    assert!((mean(&clean.pixels) - mean(&noisy.pixels)).abs() < 0.005);
}

#[test]
fn order_disorder_fractions_are_balanced() {
    for seed in 0..12 {
        let img = gen_ok(&cfg(SceneKind::OrderDisorder, seed, NoiseLevel::None));
        assert_eq!((img.width, img.height), (512, 384));
        assert_eq!(img.pixels.len(), 512 * 384);
        let f = img.class_fractions();
        assert_eq!(f.len(), 2, "seed {seed}");
        assert!(
            f.iter().all(|&p| (0.2..=0.8).contains(&p)),
            "seed {seed}: {f:?}"
        );
    }
}

#[test]
fn three_phase_and_islands_have_their_classes() {
    for seed in 0..6 {
        let img = gen_ok(&cfg(SceneKind::ThreePhase, seed, NoiseLevel::None));
        let f = img.class_fractions();
        assert_eq!(f.len(), 3);
        assert!(
            f.iter().all(|&p| (0.12..=0.6).contains(&p)),
            "seed {seed}: {f:?}"
        );
        let img = gen_ok(&cfg(
            SceneKind::Islands { count: 4 },
            seed,
            NoiseLevel::None,
        ));
        let f = img.class_fractions();
        assert_eq!(f.len(), 2);
        assert!((0.05..=0.5).contains(&f[1]), "seed {seed}: {f:?}");
    }
}

#[test]
fn clean_pixels_are_in_range_and_noisy_ones_finite() {
    let kinds = [
        SceneKind::OrderDisorder,
        SceneKind::ThreePhase,
        SceneKind::Islands { count: 6 },
    ];
    for lattice in [
        LatticeKind::Square,
        LatticeKind::Hexagonal,
        LatticeKind::Perovskite,
    ] {
        for kind in kinds {
            let c = SceneConfig {
                lattice,
                ..cfg(kind, 3, NoiseLevel::None)
            };
            let img = gen_ok(&c);
            let (lo, hi) = img
                .pixels
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let what = format!("{lattice:?} {kind:?}: {lo}..{hi}");
            assert!(lo >= 0.049 && hi <= 1.0 && hi > 0.8, "{what}");
            let noisy = gen_ok(&SceneConfig {
                noise: NoiseLevel::High,
                ..c
            });
            assert!(
                noisy
                    .pixels
                    .iter()
                    .all(|v| v.is_finite() && (-0.5..=2.0).contains(v))
            );
        }
    }
}

/// For each row, the first column of the disordered phase.
fn front(img: &SynthImage) -> Vec<f64> {
    img.truth
        .chunks_exact(img.width)
        .map(|row| row.iter().position(|&t| t == 1).unwrap_or(img.width) as f64)
        .collect()
}

#[test]
fn front_is_curved() {
    for seed in 0..8 {
        let img = gen_ok(&cfg(SceneKind::OrderDisorder, seed, NoiseLevel::None));
        let xs = front(&img);
        // One clean front: crystal left of it, disorder right of it, on every row.
        for (row, &fx) in img.truth.chunks_exact(img.width).zip(xs.iter()) {
            assert!(row[fx as usize..].iter().all(|&t| t == 1));
        }
        // Not a straight line: least-squares line residuals exceed 1.5 % of the width.
        let n = xs.len() as f64;
        let ys: Vec<f64> = (0..xs.len()).map(|y| y as f64).collect();
        let (my, mx) = (ys.iter().sum::<f64>() / n, xs.iter().sum::<f64>() / n);
        let sxy: f64 = ys.iter().zip(&xs).map(|(y, x)| (y - my) * (x - mx)).sum();
        let syy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
        let b = sxy / syy;
        let worst = ys
            .iter()
            .zip(&xs)
            .map(|(y, x)| (x - (mx + b * (y - my))).abs())
            .fold(0.0, f64::max);
        assert!(worst > 0.015 * img.width as f64, "seed {seed}: {worst}");
    }
}

/// Standard deviation of a 3×3-box-smoothed chip, and its mean.
fn chip_stats(img: &SynthImage, x0: usize, y0: usize, size: usize) -> (f64, f64) {
    let w = img.width;
    let mut vals = Vec::with_capacity(size * size);
    for y in y0 + 1..y0 + size - 1 {
        for x in x0 + 1..x0 + size - 1 {
            let mut s = 0.0f64;
            for dy in 0..3 {
                for dx in 0..3 {
                    s += f64::from(img.pixels[(y + dy - 1) * w + x + dx - 1]);
                }
            }
            vals.push(s / 9.0);
        }
    }
    let m = vals.iter().sum::<f64>() / vals.len() as f64;
    let v = vals.iter().map(|a| (a - m).powi(2)).sum::<f64>() / vals.len() as f64;
    (v.sqrt(), m)
}

#[test]
fn phases_separate_in_64px_chips_at_high_noise() {
    for seed in 0..4 {
        let img = gen_ok(&SceneConfig {
            width: 1024,
            height: 1024,
            ..cfg(SceneKind::OrderDisorder, seed, NoiseLevel::High)
        });
        let mut by_phase: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
        for cy in 0..16 {
            for cx in 0..16 {
                let (x0, y0) = (cx * 64, cy * 64);
                let first = img.truth[y0 * 1024 + x0];
                let pure = (y0..y0 + 64).all(|y| {
                    img.truth[y * 1024 + x0..y * 1024 + x0 + 64]
                        .iter()
                        .all(|&t| t == first)
                });
                if pure {
                    by_phase[usize::from(first)].push(chip_stats(&img, x0, y0, 64));
                }
            }
        }
        let min_crystal = by_phase[0].iter().map(|s| s.0).fold(f64::MAX, f64::min);
        let max_disorder = by_phase[1].iter().map(|s| s.0).fold(0.0, f64::max);
        assert!(
            max_disorder < min_crystal,
            "seed {seed}: {max_disorder} vs {min_crystal}"
        );
        // Texture, not brightness: mean intensities agree within 10 %.
        let mean = |v: &[(f64, f64)]| v.iter().map(|s| s.1).sum::<f64>() / v.len() as f64;
        let (mc, md) = (mean(&by_phase[0]), mean(&by_phase[1]));
        assert!((mc - md).abs() / mc < 0.1, "seed {seed}: {mc} vs {md}");
    }
}

#[test]
fn scan_jitter_shifts_rows_and_truth() {
    let c = cfg(SceneKind::OrderDisorder, 2, NoiseLevel::None);
    let plain = gen_ok(&c);
    let jit = gen_ok(&SceneConfig {
        scan_jitter_px: 1.5,
        ..c
    });
    assert_ne!(plain.pixels, jit.pixels);
    assert_eq!(jit.class_fractions().len(), 2);
    let moved = front(&plain)
        .iter()
        .zip(front(&jit).iter())
        .filter(|(a, b)| a != b)
        .count();
    assert!(moved > 0);
}

#[test]
fn bad_parameters_are_errors() {
    let base = SceneConfig::default();
    let bad = [
        SceneConfig {
            width: 0,
            ..base.clone()
        },
        SceneConfig {
            height: 8,
            ..base.clone()
        },
        SceneConfig {
            width: 1 << 16,
            height: 1 << 16,
            ..base.clone()
        },
        SceneConfig {
            spacing_px: f32::NAN,
            ..base.clone()
        },
        SceneConfig {
            spacing_px: 2.0,
            ..base.clone()
        },
        SceneConfig {
            atom_sigma_px: 6.0,
            ..base.clone()
        },
        SceneConfig {
            rotation_deg: Some(f32::INFINITY),
            ..base.clone()
        },
        SceneConfig {
            disorder_blur: 0.0,
            ..base.clone()
        },
        SceneConfig {
            disorder_intensity: -1.0,
            ..base.clone()
        },
        SceneConfig {
            scan_jitter_px: 100.0,
            ..base.clone()
        },
        SceneConfig {
            kind: SceneKind::Islands { count: 0 },
            ..base.clone()
        },
        SceneConfig {
            noise: NoiseLevel::Custom(NoiseParams {
                dose: Some(0.0),
                read_sigma: 0.0,
            }),
            ..base.clone()
        },
    ];
    for c in &bad {
        assert!(generate(c).is_err(), "{c:?}");
    }
    assert!(matches!(
        generate(&SceneConfig {
            width: 3,
            ..base.clone()
        }),
        Err(SynthError::BadSize { .. })
    ));
    // The smallest legal image works.
    let tiny = SceneConfig {
        width: 16,
        height: 16,
        spacing_px: 8.0,
        ..base
    };
    assert_eq!(gen_ok(&tiny).pixels.len(), 256);
}
