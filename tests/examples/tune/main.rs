//! The tuning harness: every labelled set at once, many settings from one embedding pass.
//!
//! Groups: `synthetic` (seven STEM-like scenes), `textures` (two mosaics of real textures),
//! `uniform` (four one-phase frames, where the right answer is one community)
//! and the groups of a folder of real labelled micrographs (`--sem`, default
//! `$TESSERA_TUNING_SEM`; for NASA's SEM set these are `ebc` and `super`). Candidate settings
//! come from a TOML file (see `candidates.rs` and `tests/tuning/`); each is measured on every
//! image, with GraphEM parity (the published method on the same model and chips) beside it.
//! Embeddings are stored under `--embeddings` (default `$CARGO_TARGET_DIR/tune-embeddings`),
//! keyed by model and chip content, so a second run embeds nothing.
//!
//! ```sh
//! cargo run --release -p tessera-tests --example tune -- \
//!     --settings tests/tuning/defaults.toml --sem ../shared/tuning/nasa-sem [--size 512] \
//!     [--groups synthetic,textures,ebc,super] [--images] [--dump DIR] [--stability]
//!
//! `--images` adds a row per image; `--dump DIR` writes each label map (and the normalised
//! image) under `DIR/<candidate>/`; `--stability` also measures, for the first candidate, the
//! ARI between five seeds and under a half-chip shift of the grid.
//! ```

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

mod candidates;
mod cases;
mod embed;
mod report;
mod stability;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::Instant,
};

use tessera_segment::{Prepared, SegmentParams, Timings, finish_image, prepare};
use tessera_synth::partition_scores;

use crate::{cases::Case, embed::Embedder, report::Outcome};

struct Args {
    settings: Option<PathBuf>,
    sem: Option<PathBuf>,
    groups: Option<Vec<String>>,
    size: usize,
    embeddings: PathBuf,
    model: String,
    images: bool,
    dump: Option<PathBuf>,
    stability: bool,
}

fn args() -> Args {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut a = Args {
        settings: None,
        sem: std::env::var_os("TESSERA_TUNING_SEM").map(PathBuf::from),
        groups: None,
        size: 1024,
        embeddings: PathBuf::from(target).join("tune-embeddings"),
        model: "efficientnet-lite0".into(),
        images: false,
        dump: None,
        stability: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--settings" => a.settings = Some(value().into()),
            "--sem" => a.sem = Some(value().into()),
            "--groups" => a.groups = Some(value().split(',').map(str::to_string).collect()),
            "--size" => a.size = value().parse().expect("--size takes pixels"),
            "--embeddings" => a.embeddings = value().into(),
            "--model" => a.model = value(),
            "--images" => a.images = true,
            "--dump" => a.dump = Some(value().into()),
            "--stability" => a.stability = true,
            other => panic!("unknown flag {other}; see the header of tests/examples/tune/main.rs"),
        }
    }
    a
}

/// The parameters that decide the chips (and so the embeddings).
fn chip_key(p: &SegmentParams) -> String {
    format!(
        "{} {:?} {} {} {}",
        p.chip, p.stride, p.low_percentile, p.high_percentile, p.flatten
    )
}

/// An image prepared and embedded under one chip key.
struct Embedded {
    prepared: Prepared,
    rows: Vec<f32>,
    dim: usize,
    /// Preparing and embedding, milliseconds.
    ms: f64,
}

fn embed_case(emb: &mut Embedder, case: &Case, p: &SegmentParams) -> Embedded {
    let start = Instant::now();
    let mut prepared = prepare(&case.raster, p, &mut Timings::default()).unwrap();
    let prep_ms = start.elapsed().as_secs_f64() * 1e3;
    let (rows, dim, embed_ms) = emb.embed(&prepared.chips, p.chip);
    prepared.chips = Vec::new();
    Embedded {
        prepared,
        rows,
        dim,
        ms: prep_ms + embed_ms,
    }
}

fn run(case: &Case, e: &Embedded, p: &SegmentParams, dump: Option<&Path>) -> Outcome {
    let start = Instant::now();
    let seg = finish_image(
        &e.prepared.grid,
        Some(&e.prepared.normalized),
        &e.rows,
        e.dim,
        p,
        Timings::default(),
    )
    .unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if let Some(dir) = dump {
        // Label maps scaled for the eye, beside the image they came from.
        let scale = 255 / seg.communities.len().max(1) as u32;
        let labels: Vec<u8> = seg.labels.iter().map(|&l| (l * scale) as u8).collect();
        let image: Vec<u8> = (e.prepared.normalized.pixels.iter())
            .map(|v| (v * 255.0) as u8)
            .collect();
        let (w, h) = (seg.width, seg.height);
        std::fs::create_dir_all(dir).unwrap();
        let png = tessera_imaging::encode_png_gray8(w, h, &labels).unwrap();
        std::fs::write(dir.join(format!("{}.labels.png", case.name)), png).unwrap();
        let png = tessera_imaging::encode_png_gray8(w, h, &image).unwrap();
        std::fs::write(dir.join(format!("{}.png", case.name)), png).unwrap();
    }
    Outcome {
        scores: partition_scores(&case.truth, &seg.labels, case.ignore).unwrap(),
        communities: seg.communities.len(),
        ms: e.ms + ms,
    }
}

fn parity_of(p: &SegmentParams) -> SegmentParams {
    SegmentParams {
        chip: p.chip,
        stride: Some(p.chip),
        low_percentile: p.low_percentile,
        high_percentile: p.high_percentile,
        ..SegmentParams::graphem()
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let a = args();
    let mut all = cases::synthetic(a.size);
    all.extend(cases::textures(a.size));
    all.extend(cases::uniform(a.size));
    if let Some(dir) = &a.sem {
        all.extend(cases::folder(dir));
    }
    if let Some(groups) = &a.groups {
        all.retain(|c| groups.contains(&c.group));
    }
    let mut groups: Vec<String> = Vec::new();
    for c in &all {
        if !groups.contains(&c.group) {
            groups.push(c.group.clone());
        }
    }
    let candidates = candidates::load(a.settings.as_deref());
    let mut emb = Embedder::new(&a.model, a.embeddings.clone());
    println!(
        "{} images in {} groups ({}), {} candidates, synthetic at {}²",
        all.len(),
        groups.len(),
        groups.join(", "),
        candidates.len(),
        a.size
    );

    // Every image under every chip key, embedded once; GraphEM parity once per chip size.
    let mut embedded: HashMap<(usize, String), Embedded> = HashMap::new();
    let mut parity: HashMap<(usize, usize), Outcome> = HashMap::new();
    for (i, case) in all.iter().enumerate() {
        for c in &candidates {
            for p in [c.params.clone(), parity_of(&c.params)] {
                embedded
                    .entry((i, chip_key(&p)))
                    .or_insert_with(|| embed_case(&mut emb, case, &p));
            }
            let g = parity_of(&c.params);
            if let std::collections::hash_map::Entry::Vacant(v) = parity.entry((i, g.chip)) {
                v.insert(run(case, &embedded[&(i, chip_key(&g))], &g, None));
            }
        }
    }

    let mut table = Vec::new();
    for c in &candidates {
        let outcomes: Vec<Outcome> = all
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let _span = tracing::info_span!("image", name = %case.name).entered();
                let dump = a.dump.as_ref().map(|d| d.join(&c.name));
                run(
                    case,
                    &embedded[&(i, chip_key(&c.params))],
                    &c.params,
                    dump.as_deref(),
                )
            })
            .collect();
        println!("\n== {}", c.name);
        report::group_header();
        let mut group_aris = Vec::new();
        for g in &groups {
            let idx: Vec<usize> = (0..all.len()).filter(|&i| &all[i].group == g).collect();
            let cs: Vec<&Case> = idx.iter().map(|&i| &all[i]).collect();
            let ours: Vec<&Outcome> = idx.iter().map(|&i| &outcomes[i]).collect();
            let theirs: Vec<&Outcome> = idx.iter().map(|&i| &parity[&(i, c.params.chip)]).collect();
            report::group_row(g, &cs, &ours, &theirs);
            group_aris.push(report::summarize(cs.iter().copied().zip(ours.iter().copied())).ari);
            if a.images {
                for (case, (o, t)) in cs.iter().zip(ours.iter().zip(&theirs)) {
                    report::image_row(case, o, t);
                }
            }
        }
        let all_rows = report::summarize(all.iter().zip(&outcomes));
        let mean = group_aris.iter().sum::<f64>() / group_aris.len().max(1) as f64;
        let worst = group_aris.iter().copied().fold(f64::INFINITY, f64::min);
        table.push((mean, worst, c.name.clone(), group_aris, all_rows));
    }

    println!(
        "\n== summary: mean over groups of each group's mean ARI (every group weighs the same)"
    );
    println!(
        "{:>6} {:>6} {:>6} {:>4} {:>4}  {}  candidate",
        "mean",
        "worst",
        "images",
        "±1",
        "one",
        groups.iter().map(|g| format!("{g:>9}")).collect::<String>()
    );
    let mut chips: Vec<usize> = candidates.iter().map(|c| c.params.chip).collect();
    chips.sort_unstable();
    chips.dedup();
    for chip in chips {
        let outcomes: Vec<Outcome> = (0..all.len()).map(|i| parity[&(i, chip)]).collect();
        let per: Vec<f64> = groups
            .iter()
            .map(|g| {
                let rows = all.iter().zip(&outcomes).filter(|(c, _)| &c.group == g);
                report::summarize(rows).ari
            })
            .collect();
        let mean = per.iter().sum::<f64>() / per.len().max(1) as f64;
        let worst = per.iter().copied().fold(f64::INFINITY, f64::min);
        let s = report::summarize(all.iter().zip(&outcomes));
        table.push((mean, worst, format!("GraphEM parity, chip {chip}"), per, s));
    }
    table.sort_by(|x, y| y.0.total_cmp(&x.0));
    for (mean, worst, name, per, s) in &table {
        println!(
            "{mean:>6.3} {worst:>6.3} {:>6.3} {:>4} {:>4}  {}  {name}",
            s.ari,
            s.within_one,
            s.single,
            per.iter().map(|v| format!("{v:>9.3}")).collect::<String>()
        );
    }
    if a.stability
        && let Some(c) = candidates.first()
    {
        stability::report(&mut emb, &all, &groups, &c.params);
    }
}
