//! `tessera segment`: instrument files in (every plane of the chosen signal), label maps,
//! overlays and reports out, in physical units where the file is calibrated.
//!
//! Files go through three threads, so that the model is never kept waiting on the stages
//! around it: one reads and decodes the next file, this one embeds and clusters the current
//! one, and one encodes and writes the outputs of the last. The channels between them hold
//! nothing (rendezvous), so at most three files are in memory at once.
//!
//! With `--labels` or `--classifier`, each page is also classified from the embeddings its
//! communities were found on (`crate::classes`), on the same thread.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    sync::mpsc::{Receiver, SyncSender, sync_channel},
    time::Instant,
};

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use tessera_embedding::Encoder;
use tessera_fewshot::{Classifier, EmbeddedFrame, FrameClasses};
use tessera_formats::ReadLimits;
use tessera_imaging::Raster;
use tessera_provision::{Cache, Component};
use tessera_segment::{
    DenseSteps, Prepared, SegmentParams, Segmentation, Timings, segment_embedded,
};

use crate::{
    classes::Classes,
    cli::SegmentArgs,
    engine::{Loaded, dense_steps, load_encoder},
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
    let mut classes = Classes::from_args(&args.classes)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating output folder {}", args.out.display()))?;
    let Loaded {
        mut encoder,
        runtime,
        load_ms,
    } = load_encoder(cache, &args.model, params.chip)?;
    let mut steps = dense_steps(&runtime, args.graph_on, &encoder, args.model.threads)?;
    let model = ModelInfo::of(&encoder, load_ms, steps.as_ref());
    let limits = ReadLimits {
        max_pixels: args.max_pixels,
        ..ReadLimits::default()
    };
    let bar = ProgressBar::new(images.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let failures = std::thread::scope(|scope| {
        let (read_tx, read_rx) = sync_channel(0);
        let (done_tx, done_rx) = sync_channel(0);
        let (images, limits, signal) = (&images, &limits, args.signal.as_deref());
        let reader = scope.spawn(move || read_all(images, signal, limits, read_tx));
        let writer = scope.spawn(|| write_all(done_rx, args, &params, &model, &bar));
        for ((read, stem), path) in read_rx.into_iter().zip(&stems).zip(images) {
            let pages = read.and_then(|file| {
                let mut on = Segmenter {
                    params: &params,
                    encoder: &mut encoder,
                    steps: steps.as_mut(),
                    classes: &mut classes,
                };
                on.pages(file, stem)
            });
            if done_tx.send((path.clone(), pages)).is_err() {
                break; // the writer stopped: its panic is reported below
            }
        }
        drop(done_tx);
        let read = reader.join();
        let failures = writer.join();
        read.map_err(|_| anyhow!("the file reader panicked"))?;
        failures.map_err(|_| anyhow!("the output writer panicked"))
    })?;
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

/// One file as read: its planes, where they came from, and what reading them took.
struct ReadFile {
    source: Source,
    planes: Vec<Raster>,
    read_ms: f64,
    decode_ms: f64,
}

/// One file segmented: where it came from, and its pages, ready to write.
struct DoneFile {
    source: Source,
    pages: Vec<DonePage>,
}

/// One page segmented.
struct DonePage {
    stem: String,
    page: usize,
    prepared: Prepared,
    seg: Segmentation,
    /// The page's few-shot classes, when asked for.
    classes: Option<Classified>,
}

/// The reader thread: reads and decodes each file in turn, and hands it on.
fn read_all(
    images: &[PathBuf],
    signal: Option<&str>,
    limits: &ReadLimits,
    out: SyncSender<Result<ReadFile>>,
) {
    for path in images {
        if out.send(read_file(path, signal, limits)).is_err() {
            return; // the segmenting thread stopped
        }
    }
}

fn read_file(path: &Path, signal: Option<&str>, limits: &ReadLimits) -> Result<ReadFile> {
    let (acquisition, read_ms, decode_ms) = read_timed(path, limits)?;
    let signal = acquisition.pick(signal)?;
    let start = Instant::now();
    let planes = signal.planes()?;
    Ok(ReadFile {
        source: Source::of(path, &acquisition, signal),
        planes,
        read_ms,
        decode_ms: decode_ms + start.elapsed().as_secs_f64() * 1e3,
    })
}

/// What segments the pages, on this thread, which owns the model.
struct Segmenter<'a> {
    params: &'a SegmentParams,
    encoder: &'a mut Encoder,
    steps: &'a mut dyn DenseSteps,
    classes: &'a mut Classes,
}

impl Segmenter<'_> {
    /// Segments (and classifies, when asked) every page of one file. The chips are dropped
    /// once embedded: the writer needs only the normalised image and the grid.
    fn pages(&mut self, file: ReadFile, stem: &str) -> Result<DoneFile> {
        let count = file.planes.len();
        let pages = file
            .planes
            .iter()
            .enumerate()
            .map(|(page, raster)| {
                let (prepared, mut seg, classes) = self.page(raster)?;
                let mut timings = Timings::default();
                timings.record("read", file.read_ms);
                timings.record("decode", file.decode_ms);
                timings.extend(&seg.timings);
                seg.timings = timings;
                Ok(DonePage {
                    stem: page_stem(stem, page, count),
                    page,
                    prepared,
                    seg,
                    classes,
                })
            })
            .collect::<Result<_>>()?;
        Ok(DoneFile {
            source: file.source,
            pages,
        })
    }

    /// Segments one page, then classifies it from the same embeddings when asked.
    fn page(&mut self, raster: &Raster) -> Result<(Prepared, Segmentation, Option<Classified>)> {
        let (mut prepared, mut seg, embeddings) =
            segment_embedded(self.encoder, self.steps, raster, self.params)?;
        prepared.chips = Vec::new();
        let frame = EmbeddedFrame {
            grid: &prepared.grid,
            normalized: &prepared.normalized,
            embeddings: &embeddings,
            model_digest: self.encoder.digest(),
        };
        let start = Instant::now();
        let classes = self.classes.classify(&frame, self.params)?;
        if classes.is_some() {
            seg.timings
                .record("classes", start.elapsed().as_secs_f64() * 1e3);
        }
        Ok((prepared, seg, classes))
    }
}

/// A page's classes and the classifier that gave them.
type Classified = (FrameClasses, Arc<Classifier>);

/// The writer thread: encodes and writes each segmented page and prints a line for it, in
/// the order of the inputs; returns the files that failed.
fn write_all(
    files: Receiver<(PathBuf, Result<DoneFile>)>,
    args: &SegmentArgs,
    params: &SegmentParams,
    model: &ModelInfo,
    bar: &ProgressBar,
) -> Vec<PathBuf> {
    let mut failures = Vec::new();
    for (path, done) in files {
        bar.set_message(path.display().to_string());
        let written = done.and_then(|done| {
            (done.pages.into_iter())
                .map(|page| write_page(page, &done.source, args, params, model))
                .collect::<Result<Vec<String>>>()
        });
        match written {
            // `println` on a hidden bar (not a terminal) drops the line; `suspend` does not.
            Ok(lines) => lines
                .iter()
                .for_each(|line| bar.suspend(|| println!("{} -> {line}", path.display()))),
            Err(e) => {
                bar.suspend(|| eprintln!("{}: error: {}", path.display(), crate::describe(&e)));
                failures.push(path);
            }
        }
        bar.inc(1);
    }
    failures
}

/// Writes one page's outputs; returns its line for the user.
fn write_page(
    mut page: DonePage,
    source: &Source,
    args: &SegmentArgs,
    params: &SegmentParams,
    model: &ModelInfo,
) -> Result<String> {
    let seg = &mut page.seg;
    let classes = (page.classes.as_ref())
        .map(|(c, classifier)| {
            output::write_classes(
                &args.out,
                &page.stem,
                source,
                &page.prepared,
                c,
                classifier,
                args.alpha,
            )
        })
        .transpose()?;
    let class_line = classes.as_ref().map(output::ClassesReport::line);
    let json = output::write(
        &args.out,
        &page.stem,
        source,
        page.page,
        model.clone(),
        params,
        &page.prepared,
        seg,
        args.alpha,
        classes,
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
    Ok(format!(
        "{} ({} communities: {};{} {:.0} ms)",
        json.display(),
        seg.communities.len(),
        fractions.join(" "),
        class_line.map_or_else(String::new, |l| format!(" classes: {l};")),
        seg.timings.total()
    ))
}
