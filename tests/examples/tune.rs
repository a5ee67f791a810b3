//! Chooses the clustering defaults by measuring: embeds a varied set of labelled images once
//! (synthetic STEM scenes and mosaics of real textures), then sweeps graph density,
//! resolution, centring and merging, printing mean and worst pixel ARI for each setting.
//!
//! `cargo run --release -p tessera-tests --example tune -- [chip] [stride] [input side]`

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{DecodeLimits, Normalization, Raster, decode, normalize};
use tessera_segment::{GraphKind, SegmentParams, Timings, finish, prepare};
use tessera_synth::{
    LatticeKind, MosaicLayout, NoiseLevel, SceneConfig, SceneKind, adjusted_rand_index, mosaic,
};
use tessera_tests::{encoder, sample, scene};

struct Case {
    name: String,
    raster: Raster,
    truth: Vec<u32>,
}

fn cases(size: usize) -> Vec<Case> {
    let mut out = Vec::new();
    let scenes = [
        (
            "od-perov-low",
            SceneKind::OrderDisorder,
            LatticeKind::Perovskite,
            NoiseLevel::Low,
            10.0,
        ),
        (
            "od-perov-high",
            SceneKind::OrderDisorder,
            LatticeKind::Perovskite,
            NoiseLevel::High,
            10.0,
        ),
        (
            "od-hex-med",
            SceneKind::OrderDisorder,
            LatticeKind::Hexagonal,
            NoiseLevel::Medium,
            8.0,
        ),
        (
            "od-square-high",
            SceneKind::OrderDisorder,
            LatticeKind::Square,
            NoiseLevel::High,
            13.0,
        ),
        (
            "three-low",
            SceneKind::ThreePhase,
            LatticeKind::Perovskite,
            NoiseLevel::Low,
            10.0,
        ),
        (
            "three-high",
            SceneKind::ThreePhase,
            LatticeKind::Hexagonal,
            NoiseLevel::High,
            9.0,
        ),
        (
            "islands-med",
            SceneKind::Islands { count: 4 },
            LatticeKind::Perovskite,
            NoiseLevel::Medium,
            10.0,
        ),
    ];
    for (i, (name, kind, lattice, noise, spacing)) in scenes.into_iter().enumerate() {
        let (raster, truth) = scene(&SceneConfig {
            width: size,
            height: size,
            seed: 100 + i as u64,
            kind,
            lattice,
            noise,
            spacing_px: spacing,
            ..SceneConfig::default()
        });
        out.push(Case {
            name: name.into(),
            raster,
            truth,
        });
    }
    let full = Normalization {
        low_percentile: 0.5,
        high_percentile: 99.5,
    };
    let textures: Vec<Raster> = ["brick.png", "grass.png", "gravel.png"]
        .iter()
        .map(|n| {
            let bytes = std::fs::read(sample(n)).unwrap();
            normalize(&decode(&bytes, &DecodeLimits::default()).unwrap()[0], &full).unwrap()
        })
        .collect();
    let views: Vec<(usize, usize, &[f32])> = textures
        .iter()
        .map(|t| (t.width, t.height, &t.pixels[..]))
        .collect();
    for (name, layout, seed) in [
        ("mosaic-voronoi", MosaicLayout::Voronoi { cells: 5 }, 1),
        ("mosaic-bands", MosaicLayout::Bands, 2),
    ] {
        let m = mosaic(&views, size, size, layout, seed).unwrap();
        let truth = m.truth_u32();
        out.push(Case {
            name: name.into(),
            raster: Raster {
                width: m.width,
                height: m.height,
                pixels: m.pixels,
            },
            truth,
        });
    }
    out
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let chip = *args.first().unwrap_or(&64);
    let stride = *args.get(1).unwrap_or(&chip);
    let side = *args.get(2).unwrap_or(&chip);
    let size = *args.get(3).unwrap_or(&1024);
    let base = SegmentParams {
        chip,
        stride: (stride > 0).then_some(stride),
        ..SegmentParams::default()
    };
    let mut enc = encoder("efficientnet-lite0", side);
    let cases = cases(size);
    // Embed once per image; every setting then clusters the same embeddings.
    let mut embedded = Vec::new();
    let mut embed_ms = 0.0;
    for c in &cases {
        let mut t = Timings::default();
        let p = prepare(&c.raster, &base, &mut t).unwrap();
        let start = std::time::Instant::now();
        let e = enc.embed(&p.chips, chip).unwrap();
        embed_ms += start.elapsed().as_secs_f64() * 1e3;
        embedded.push((p.grid, e));
    }
    let chips: usize = embedded.iter().map(|e| e.0.len()).sum();
    println!(
        "chip {chip} stride {stride} side {side} size {size}: {} images, {chips} chips, embed {:.0} ms ({:.0} chips/s)",
        cases.len(),
        embed_ms,
        chips as f64 / embed_ms * 1e3
    );
    let mut settings: Vec<(String, SegmentParams)> = Vec::new();
    settings.push((
        "graphem".into(),
        SegmentParams {
            chip,
            stride: Some(chip),
            ..SegmentParams::graphem()
        },
    ));
    let full = std::env::var("TUNE_FULL").is_ok();
    let ks: &[usize] = if full { &[10, 20, 30, 50] } else { &[10, 30] };
    let resolutions: &[f64] = if full {
        &[1.0, 0.5, 0.3, 0.2, 0.1, 0.05]
    } else {
        &[1.0, 0.3, 0.2, 0.1]
    };
    for centre in [false, true] {
        for &k in ks {
            for &res in resolutions {
                for vote in [false, true] {
                    let p = SegmentParams {
                        graph: GraphKind::Knn { k },
                        resolution: res,
                        confidence_vote: vote,
                        center: centre,
                        ..base.clone()
                    };
                    let name = format!("c{} k{k} r{res} vote{}", centre as u8, vote as u8);
                    settings.push((name, p));
                }
            }
        }
    }
    let mut rows = Vec::new();
    for (name, p) in &settings {
        let mut aris = Vec::new();
        let mut comms = Vec::new();
        for (c, (grid, e)) in cases.iter().zip(&embedded) {
            let seg = finish(grid, e, enc.embedding_dim(), p, Timings::default()).unwrap();
            aris.push(adjusted_rand_index(&c.truth, &seg.labels, None).unwrap());
            comms.push(seg.communities.len());
        }
        let mean = aris.iter().sum::<f64>() / aris.len() as f64;
        let min = aris.iter().cloned().fold(f64::INFINITY, f64::min);
        rows.push((mean, min, name.clone(), aris, comms));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!(
        "{:<32} {:>6} {:>6}  per image (ARI/communities): {}",
        "setting",
        "mean",
        "min",
        cases
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (mean, min, name, aris, comms) in rows
        .iter()
        .take(12)
        .chain(rows.iter().filter(|r| r.2 == "graphem"))
    {
        let per: Vec<String> = aris
            .iter()
            .zip(comms)
            .map(|(a, c)| format!("{a:.2}/{c}"))
            .collect();
        println!("{name:<32} {mean:>6.3} {min:>6.3}  {}", per.join(" "));
    }
}
