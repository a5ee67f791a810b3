//! `tessera demo`: synthetic STEM-like images with known truth, segmented and scored.
//!
//! Each scene is written as a 16-bit PNG with its truth mask beside it, read back through the
//! same decoder as any user image, segmented with the chosen parameters and with the GraphEM
//! parity preset, and scored by pixel ARI against the truth.

use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_formats::ReadLimits;
use tessera_imaging::{encode_png_gray8, encode_png_gray16};
use tessera_provision::Cache;
use tessera_segment::HostSteps;
use tessera_synth::{NoiseLevel, SceneConfig, SceneKind, generate, to_u16};

use crate::{
    cli::DemoArgs,
    commands::eval::{print_header, print_row, score},
    engine::{Loaded, load_encoder},
    inputs::read,
    output::{self, ModelInfo, Source},
};

/// The demo scenes: name, kind, noise, seed.
const SCENES: &[(&str, SceneKind, NoiseLevel, u64)] = &[
    (
        "order-disorder-low",
        SceneKind::OrderDisorder,
        NoiseLevel::Low,
        1,
    ),
    (
        "order-disorder-high",
        SceneKind::OrderDisorder,
        NoiseLevel::High,
        2,
    ),
    ("three-phase-low", SceneKind::ThreePhase, NoiseLevel::Low, 3),
    (
        "islands-medium",
        SceneKind::Islands { count: 4 },
        NoiseLevel::Medium,
        4,
    ),
];

pub(crate) fn run(cache: &Cache, args: &DemoArgs) -> Result<ExitCode> {
    let params = args.params.params();
    params.validate()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let Loaded {
        mut encoder,
        load_ms,
        ..
    } = load_encoder(cache, &args.model, params.chip)?;
    print_header();
    let mut sum = (0.0, 0.0);
    for (name, kind, noise, seed) in SCENES {
        let scene = generate(&SceneConfig {
            width: args.size,
            height: args.size,
            seed: *seed,
            kind: *kind,
            noise: *noise,
            ..SceneConfig::default()
        })?;
        let image_path = args.out.join(format!("{name}.png"));
        let truth_path = args.out.join(format!("{name}.truth.png"));
        std::fs::write(
            &image_path,
            encode_png_gray16(scene.width, scene.height, &to_u16(&scene.pixels))?,
        )?;
        std::fs::write(
            &truth_path,
            encode_png_gray8(scene.width, scene.height, &scene.truth)?,
        )?;
        let acquisition = read(&image_path, &ReadLimits::default())?;
        let signal = acquisition.pick(None)?;
        let raster = signal
            .planes()?
            .into_iter()
            .next()
            .context("the synthetic image has no plane")?;
        let source = Source::of(&image_path, &acquisition, signal);
        let truth = scene.truth_u32();
        let (scored, mut seg, prepared) = score(&mut encoder, &raster, &truth, None, &params)?;
        output::write(
            &args.out,
            name,
            &source,
            0,
            ModelInfo::of(&encoder, load_ms, &HostSteps),
            &params,
            &prepared,
            &mut seg,
            0.4,
            None,
        )?;
        print_row(name, &scored);
        sum.0 += scored.ours.ari;
        sum.1 += scored.graphem.ari;
    }
    let n = SCENES.len() as f64;
    println!(
        "mean ARI: tessera {:.3}, GraphEM parity {:.3}; images, truth and outputs in {}",
        sum.0 / n,
        sum.1 / n,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
