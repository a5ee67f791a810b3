//! `tessera segment`: instrument files in (every plane of the chosen signal), label maps,
//! overlays and reports out, in physical units where the file is calibrated.

use std::{path::Path, process::ExitCode, time::Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tessera_embedding::Encoder;
use tessera_formats::ReadLimits;
use tessera_provision::{Cache, Component};
use tessera_segment::{SegmentParams, Timings, segment};

use crate::{
    cli::SegmentArgs,
    engine::{Loaded, load_encoder},
    inputs::{expand, page_stem, read_timed, stems},
    output::{self, ModelInfo, Source},
};

pub(crate) fn run(cache: &Cache, args: &SegmentArgs) -> Result<ExitCode> {
    let params = args.params.params();
    params.validate()?;
    let mut inputs = args.inputs.clone();
    if args.samples {
        cache.ensure(&[Component::Samples])?;
        inputs.push(cache.samples());
    }
    let images = expand(&inputs)?;
    let stems = stems(&images);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output folder {}", args.out.display()))?;
    let Loaded {
        mut encoder,
        load_ms,
    } = load_encoder(cache, &args.model, params.chip)?;
    let limits = ReadLimits {
        max_pixels: args.max_pixels,
        ..ReadLimits::default()
    };
    let bar = ProgressBar::new(images.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut failures = Vec::new();
    for (path, stem) in images.iter().zip(&stems) {
        bar.set_message(path.display().to_string());
        match segment_file(path, stem, args, &params, &mut encoder, &limits, load_ms) {
            Ok(reports) => {
                // `println` on a hidden bar (not a terminal) drops the line; `suspend` does not.
                for r in reports {
                    bar.suspend(|| println!("{} -> {}", path.display(), r));
                }
            }
            Err(e) => {
                bar.suspend(|| eprintln!("{}: error: {}", path.display(), crate::describe(&e)));
                failures.push(path);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let ok = images.len() - failures.len();
    eprintln!(
        "segmented {ok} of {} images; outputs (labels.tif, overlay.png, json) are in {}",
        images.len(),
        args.out.display()
    );
    if failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} failed; their errors are above", failures.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Segments every page of one file; returns one line per page for the user.
fn segment_file(
    path: &Path,
    stem: &str,
    args: &SegmentArgs,
    params: &SegmentParams,
    encoder: &mut Encoder,
    limits: &ReadLimits,
    load_ms: f64,
) -> Result<Vec<String>> {
    let (acquisition, read_ms, decode_ms) = read_timed(path, limits)?;
    let signal = acquisition.pick(args.signal.as_deref())?;
    let start = Instant::now();
    let pages = signal.planes()?;
    let decode_ms = decode_ms + start.elapsed().as_secs_f64() * 1e3;
    let source = Source::of(path, &acquisition, signal);
    let mut lines = Vec::new();
    for (i, raster) in pages.iter().enumerate() {
        let (prepared, mut seg) = segment(encoder, raster, params)?;
        let mut timings = Timings::default();
        timings.record("read", read_ms);
        timings.record("decode", decode_ms);
        timings.extend(&seg.timings);
        seg.timings = timings;
        let stem = page_stem(stem, i, pages.len());
        let json = output::write(
            &args.out,
            &stem,
            &source,
            i,
            ModelInfo::of(encoder, load_ms),
            params,
            &prepared,
            &mut seg,
            args.alpha,
        )?;
        let fractions: Vec<String> = seg
            .communities
            .iter()
            .map(
                |c| match source.area(c.area_fraction, seg.width, seg.height) {
                    Some(a) => format!("{}:{:.1}% ({})", c.id, 100.0 * c.area_fraction, a.text()),
                    None => format!("{}:{:.1}%", c.id, 100.0 * c.area_fraction),
                },
            )
            .collect();
        lines.push(format!(
            "{} ({} communities: {}; {:.0} ms)",
            json.display(),
            seg.communities.len(),
            fractions.join(" "),
            seg.timings.total()
        ));
    }
    Ok(lines)
}
