//! The few-shot evaluation: k labelled chips per class, drawn at random from the truth of
//! every labelled image, turned into a classifier by each method, and scored by pixel mIoU
//! (class for class, unknown pixels counted wrong) and ARI; then the same classifiers applied
//! to the other images of their group (cross-image transfer), and the time to re-classify a
//! frame from its stored embeddings.
//!
//! Groups as in the tuning harness: `synthetic`, `textures`, and the real SEM groups of
//! `--sem` (default `$TESSERA_TUNING_SEM`). A drawn chip is one whose truth is one class over
//! at least 75% of its pixels (the chips a user would click as clear examples); a class that
//! no chip holds that purely (EBC's thin cracks) is drawn from the chips whose centre cell it
//! holds, the chips a stroke across it would label.
//!
//! ```sh
//! cargo run --release -p tessera-tests --example fewshot -- \
//!     --sem ../shared/tuning/nasa-sem [--shots 1,3,5,10,20] [--draws 10] [--size 1024] \
//!     [--groups ebc,super] [--no-transfer] [--unknown-below COS] [--refine S] \
//!     [--intensity-weight W]
//! ```

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

// Shared with the tuning harness, which uses all of it.
#[allow(dead_code)]
#[path = "../tune/cases.rs"]
mod cases;
#[path = "../tune/embed.rs"]
mod embed;
mod score;

use std::{collections::BTreeMap, path::PathBuf, time::Instant};

use rand::{SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use tessera_fewshot::{
    ClassInfo, Classifier, EmbeddedFrame, Examples, Method, chip_majority, classify_frame,
    train_on_frame,
};
use tessera_imaging::{ChipGrid, Raster};
use tessera_segment::{SegmentParams, Timings, finish_image, prepare};
use tessera_synth::partition_scores;

use crate::{cases::Case, embed::Embedder, score::class_scores};

/// Share of a chip's pixels its truth class must cover for the chip to be drawn.
const PURITY: f32 = 0.75;

struct Args {
    sem: Option<PathBuf>,
    groups: Option<Vec<String>>,
    size: usize,
    shots: Vec<usize>,
    draws: u64,
    transfer: bool,
    embeddings: PathBuf,
    model: String,
    unknown_below: f32,
    /// The segmenter's defaults, with `--refine`.
    params: SegmentParams,
}

fn args() -> Args {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut a = Args {
        sem: std::env::var_os("TESSERA_TUNING_SEM").map(PathBuf::from),
        groups: None,
        size: 1024,
        shots: vec![1, 3, 5, 10, 20],
        draws: 10,
        transfer: true,
        embeddings: PathBuf::from(target).join("tune-embeddings"),
        model: "efficientnet-lite0".into(),
        unknown_below: tessera_fewshot::UNKNOWN_BELOW,
        params: SegmentParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sem" => a.sem = Some(value().into()),
            "--groups" => a.groups = Some(value().split(',').map(str::to_string).collect()),
            "--size" => a.size = value().parse().expect("--size takes pixels"),
            "--shots" => {
                a.shots = (value()
                    .split(',')
                    .map(|s| s.parse().expect("--shots: numbers")))
                .collect();
            }
            "--draws" => a.draws = value().parse().expect("--draws takes a count"),
            "--no-transfer" => a.transfer = false,
            "--embeddings" => a.embeddings = value().into(),
            "--model" => a.model = value(),
            "--unknown-below" => a.unknown_below = value().parse().expect("a cosine"),
            "--refine" => a.params.refine = value().parse().expect("a strength in [0, 1]"),
            "--intensity-weight" => {
                a.params.intensity_weight = value().parse().expect("a weight");
            }
            other => panic!("unknown flag {other}; see the header of tests/examples/fewshot"),
        }
    }
    a
}

/// One image, embedded, with its chips' truth.
struct Frame<'a> {
    case: &'a Case,
    grid: ChipGrid,
    normalized: Raster,
    embeddings: Vec<f32>,
    /// Drawable chips per class index.
    pool: Vec<Vec<usize>>,
    /// Unsupervised communities' (ARI, majority-mapped mIoU).
    communities: (f64, f64),
}

impl Frame<'_> {
    fn embedded(&self) -> EmbeddedFrame<'_> {
        EmbeddedFrame {
            grid: &self.grid,
            normalized: &self.normalized,
            embeddings: &self.embeddings,
            model_digest: "eval",
        }
    }
}

fn frame<'a>(emb: &mut Embedder, case: &'a Case, p: &SegmentParams) -> Frame<'a> {
    let prepared = prepare(&case.raster, p, &mut Timings::default()).unwrap();
    let (embeddings, dim, _) = emb.embed(&prepared.chips, p.chip);
    let grid = prepared.grid.clone();
    let n = grid.len();
    let majority = chip_majority(&grid, &case.truth, case.ignore, PURITY);
    let centred = centre_classes(&grid, case);
    // A class no chip holds at PURITY (a thin crack) is drawn as a user would click it: from
    // the chips whose centre cell it holds, the rule strokes label by.
    let pool = (case.values.iter())
        .map(|&v| {
            let pure: Vec<usize> = (0..n).filter(|&i| majority[i] == Some(v)).collect();
            if pure.is_empty() {
                (0..n).filter(|&i| centred[i] == Some(v)).collect()
            } else {
                pure
            }
        })
        .collect();
    let seg = finish_image(
        &grid,
        Some(&prepared.normalized),
        &embeddings,
        dim,
        p,
        Timings::default(),
    )
    .unwrap();
    let s = partition_scores(&case.truth, &seg.labels, case.ignore).unwrap();
    Frame {
        case,
        grid,
        normalized: prepared.normalized,
        embeddings,
        pool,
        communities: (s.ari, s.mean_iou),
    }
}

/// Each chip's class by the majority of its centre cell (`None` where that is ignored).
fn centre_classes(grid: &ChipGrid, case: &Case) -> Vec<Option<u32>> {
    let mask: Vec<u32> = (case.truth.iter())
        .map(|&t| if Some(t) == case.ignore { 0 } else { t + 1 })
        .collect();
    let (ex, values) = tessera_fewshot::chip_examples_from_mask(grid, &mask).unwrap();
    let mut out = vec![None; grid.len()];
    for (&chip, &class) in ex.chips.iter().zip(&ex.classes) {
        out[chip] = Some(values[class] - 1);
    }
    out
}

/// `k` chips per class (all of a class's chips when it has fewer); classes with no clear
/// chip are left out of the classifier (their pixels then count as misses).
fn draw(f: &Frame<'_>, k: usize, rng: &mut ChaCha8Rng) -> (Examples, Vec<u32>) {
    let mut ex = Examples::default();
    let mut values = Vec::new();
    for (pool, &v) in f.pool.iter().zip(&f.case.values) {
        if pool.is_empty() {
            continue;
        }
        for &i in pool.choose_multiple(rng, k) {
            ex.chips.push(i);
            ex.classes.push(values.len());
        }
        values.push(v);
    }
    (ex, values)
}

fn train(
    f: &Frame<'_>,
    method: Method,
    ex: &Examples,
    values: &[u32],
    a: &Args,
) -> Option<Classifier> {
    if values.len() < 2 {
        return None;
    }
    let classes = (values.iter())
        .map(|v| ClassInfo {
            name: format!("class {v}"),
            colour: [0, 0, 0],
        })
        .collect();
    let mut c =
        train_on_frame(&f.case.name, classes, method, &f.embedded(), ex, &a.params).unwrap();
    c.unknown_below = a.unknown_below;
    Some(c)
}

/// Classifies `f` with `c` to pixels and scores them: (mIoU, ARI, unknown share,
/// milliseconds from embeddings to pixel labels).
fn apply(c: &Classifier, f: &Frame<'_>, values: &[u32], a: &Args) -> (f64, f64, f64, f64) {
    let start = Instant::now();
    let got = classify_frame(c, &f.embedded(), &a.params).unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let unknown = got.chips.shares()[got.chips.n_classes];
    let case = f.case;
    let (miou, ari) = class_scores(&case.truth, &got.labels, values, &case.values, case.ignore);
    (miou, ari, unknown, ms)
}

#[derive(Default)]
struct Tally {
    miou: f64,
    ari: f64,
    unknown: f64,
    ms: Vec<f64>,
    count: usize,
}

impl Tally {
    fn add(&mut self, (miou, ari, unknown, ms): (f64, f64, f64, f64)) {
        self.miou += miou;
        self.ari += ari;
        self.unknown += unknown;
        self.ms.push(ms);
        self.count += 1;
    }

    fn mean(&self) -> (f64, f64, f64) {
        let n = self.count.max(1) as f64;
        (self.miou / n, self.ari / n, self.unknown / n)
    }

    fn median_ms(&mut self) -> f64 {
        self.ms.sort_by(f64::total_cmp);
        self.ms.get(self.ms.len() / 2).copied().unwrap_or(f64::NAN)
    }
}

fn main() {
    let a = args();
    let mut all = cases::synthetic(a.size);
    all.extend(cases::textures(a.size));
    if let Some(dir) = &a.sem {
        all.extend(cases::folder(dir));
    }
    if let Some(groups) = &a.groups {
        all.retain(|c| groups.contains(&c.group));
    }
    let p = a.params.clone();
    let mut emb = Embedder::new(&a.model, a.embeddings.clone());
    let frames: Vec<Frame<'_>> = all.iter().map(|c| frame(&mut emb, c, &p)).collect();
    let mut groups: Vec<&str> = Vec::new();
    frames.iter().for_each(|f| {
        if !groups.contains(&f.case.group.as_str()) {
            groups.push(&f.case.group);
        }
    });
    println!(
        "{} images ({}), {} draws per k, chips drawn at ≥ {:.0}% purity (a class with none: \
         from the chips whose centre cell it holds), model {}",
        frames.len(),
        groups.join(", "),
        a.draws,
        PURITY * 100.0,
        a.model
    );

    // Same-image k-shot curves.
    let mut same: BTreeMap<(&str, Method, usize), Tally> = BTreeMap::new();
    for f in &frames {
        for &k in &a.shots {
            for d in 0..a.draws {
                let mut rng = ChaCha8Rng::seed_from_u64(d * 1000 + k as u64);
                let (ex, values) = draw(f, k, &mut rng);
                for m in Method::ALL {
                    if let Some(c) = train(f, m, &ex, &values, &a) {
                        let r = apply(&c, f, &values, &a);
                        same.entry((&f.case.group, m, k)).or_default().add(r);
                    }
                }
            }
        }
    }
    println!("\n## same image: mean pixel mIoU / ARI (unknown share) over images and draws");
    print!("| group | method |");
    a.shots.iter().for_each(|k| print!(" {k}-shot |"));
    println!("\n| --- | --- |{}", " --- |".repeat(a.shots.len()));
    for g in &groups {
        let (ari, miou) = frames
            .iter()
            .filter(|f| f.case.group == *g)
            .fold((0.0, 0.0), |s, f| {
                (s.0 + f.communities.0, s.1 + f.communities.1)
            });
        let count = frames.iter().filter(|f| f.case.group == *g).count() as f64;
        for m in Method::ALL {
            print!("| {g} | {} |", m.name());
            for &k in &a.shots {
                let (mi, ar, un) = same.get(&(g, m, k)).map_or((0.0, 0.0, 0.0), Tally::mean);
                print!(" {mi:.3} / {ar:.3} ({:.0}%) |", un * 100.0);
            }
            println!();
        }
        println!(
            "| {g} | communities (unsupervised; mIoU majority-mapped) | {:.3} / {:.3} |",
            miou / count,
            ari / count
        );
    }
    let mut ms: BTreeMap<Method, Tally> = BTreeMap::new();
    for ((_, m, _), t) in &same {
        let e = ms.entry(*m).or_default();
        e.ms.extend(&t.ms);
    }
    println!("\n## re-classifying a frame from stored embeddings (median ms, to pixel labels)");
    for (m, t) in &mut ms {
        println!("- {}: {:.1} ms", m.name(), t.median_ms());
    }
    if a.transfer {
        transfer(&frames, &groups, a.draws.min(3), &a);
    }
}

/// Classifiers made on one image at 5 shots, applied to every other image of its group.
fn transfer(frames: &[Frame<'_>], groups: &[&str], draws: u64, a: &Args) {
    const K: usize = 5;
    println!(
        "\n## cross-image transfer at {K} shots: mean mIoU applied to the other images of the group, against the same image"
    );
    println!("| group | method | same image | other images | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    for g in groups {
        let members: Vec<&Frame<'_>> = frames.iter().filter(|f| f.case.group == *g).collect();
        if members.len() < 2 || *g == "synthetic" || *g == "textures" {
            continue;
        }
        for m in Method::ALL {
            let (mut own, mut other) = (Tally::default(), Tally::default());
            for f in &members {
                for d in 0..draws {
                    let mut rng = ChaCha8Rng::seed_from_u64(d * 1000 + K as u64);
                    let (ex, values) = draw(f, K, &mut rng);
                    let Some(c) = train(f, m, &ex, &values, a) else {
                        continue;
                    };
                    own.add(apply(&c, f, &values, a));
                    for o in members.iter().filter(|o| o.case.name != f.case.name) {
                        other.add(apply(&c, o, &values, a));
                    }
                }
            }
            let (a, b) = (own.mean().0, other.mean().0);
            println!("| {g} | {} | {a:.3} | {b:.3} | {:.2} |", m.name(), b / a);
        }
    }
}
