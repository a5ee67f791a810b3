//! `tessera eval`: segment images that have ground-truth masks and score them, beside the
//! published method (GraphEM parity: threshold graph and Louvain) on the same model.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result, bail};
use tessera_embedding::Encoder;
use tessera_imaging::Raster;
use tessera_provision::Cache;
use tessera_segment::{SegmentParams, Segmentation, segment};
use tessera_synth::{PartitionScores, partition_scores};

use crate::{
    cli::EvalArgs,
    engine::{Loaded, load_encoder},
    inputs::{expand, read_first_page},
};

/// Scores of our segmentation and of the GraphEM parity run on one image.
pub(crate) struct Scored {
    pub ours: PartitionScores,
    pub ours_communities: usize,
    pub ours_ms: f64,
    pub graphem: PartitionScores,
    pub graphem_communities: usize,
}

/// Segments `raster` with `params` and with the GraphEM preset, and scores both.
pub(crate) fn score(
    encoder: &mut Encoder,
    raster: &Raster,
    truth: &[u32],
    ignore: Option<u32>,
    params: &SegmentParams,
) -> Result<(Scored, Segmentation, tessera_segment::Prepared)> {
    let (prepared, ours) = segment(encoder, raster, params)?;
    let parity = SegmentParams {
        chip: params.chip,
        stride: Some(params.chip),
        low_percentile: params.low_percentile,
        high_percentile: params.high_percentile,
        ..SegmentParams::graphem()
    };
    let (_, theirs) = segment(encoder, raster, &parity)?;
    let scored = Scored {
        ours: partition_scores(truth, &ours.labels, ignore)?,
        ours_communities: ours.communities.len(),
        ours_ms: ours.timings.total(),
        graphem: partition_scores(truth, &theirs.labels, ignore)?,
        graphem_communities: theirs.communities.len(),
    };
    Ok((scored, ours, prepared))
}

/// Prints the table header that [`print_row`] fills.
pub(crate) fn print_header() {
    println!(
        "{:<28} {:>7} {:>7} {:>7} {:>5} {:>7} | {:>11} {:>5} | {:>8}",
        "image", "ARI", "NMI", "mIoU", "comm", "classes", "GraphEM ARI", "comm", "ms"
    );
}

/// Prints one row of scores.
pub(crate) fn print_row(name: &str, s: &Scored) {
    println!(
        "{:<28} {:>7.3} {:>7.3} {:>7.3} {:>5} {:>7} | {:>11.3} {:>5} | {:>8.0}",
        name,
        s.ours.ari,
        s.ours.nmi,
        s.ours.mean_iou,
        s.ours_communities,
        s.ours.classes,
        s.graphem.ari,
        s.graphem_communities,
        s.ours_ms
    );
}

/// Sums over scored images, for the closing lines of `eval` and `demo`.
#[derive(Default)]
pub(crate) struct Totals {
    n: usize,
    ours: [f64; 3],
    theirs: [f64; 3],
    within_one: [usize; 2],
    single: [usize; 2],
}

impl Totals {
    pub(crate) fn add(&mut self, s: &Scored) {
        self.n += 1;
        for (sum, p) in [(&mut self.ours, &s.ours), (&mut self.theirs, &s.graphem)] {
            sum[0] += p.ari;
            sum[1] += p.nmi;
            sum[2] += p.mean_iou;
        }
        for (i, c) in [s.ours_communities, s.graphem_communities]
            .into_iter()
            .enumerate()
        {
            self.within_one[i] += usize::from(c.abs_diff(s.ours.classes) <= 1);
            self.single[i] += usize::from(c == 1);
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// Mean ARI of ours and of GraphEM parity.
    pub(crate) fn mean_ari(&self) -> (f64, f64) {
        let n = self.n.max(1) as f64;
        (self.ours[0] / n, self.theirs[0] / n)
    }

    pub(crate) fn print(&self) {
        let n = self.n.max(1) as f64;
        for (name, sum, i) in [
            ("tessera", &self.ours, 0),
            ("GraphEM parity", &self.theirs, 1),
        ] {
            println!(
                "{name}: mean ARI {:.3}, NMI {:.3}, mIoU {:.3}; communities within one of the \
                 classes on {}/{}, a single community on {}",
                sum[0] / n,
                sum[1] / n,
                sum[2] / n,
                self.within_one[i],
                self.n,
                self.single[i]
            );
        }
    }
}

/// Finds the mask of `image` in `masks`: the same stem, or the stem with `_mask`, any
/// extension.
fn find_mask(image: &Path, masks: &Path) -> Result<PathBuf> {
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(masks)
        .with_context(|| format!("reading mask folder {}", masks.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_stem().is_some_and(|s| {
                let s = s.to_string_lossy();
                s == stem || s == format!("{stem}_mask") || s == format!("{stem}.truth")
            }) && p != image
        })
        .collect();
    candidates.sort();
    match candidates.into_iter().next() {
        Some(p) => Ok(p),
        None => bail!(
            "no mask for {} in {} (looked for {stem}.*, {stem}_mask.*, {stem}.truth.*)",
            image.display(),
            masks.display()
        ),
    }
}

/// Reads a mask as integer class ids.
pub(crate) fn read_mask(path: &Path, width: usize, height: usize) -> Result<Vec<u32>> {
    let mask = read_first_page(path).context("reading the ground-truth mask")?;
    if (mask.width, mask.height) != (width, height) {
        bail!(
            "mask {} is {} × {}, but its image is {width} × {height}",
            path.display(),
            mask.width,
            mask.height
        );
    }
    Ok(mask
        .pixels
        .iter()
        .map(|v| v.round().max(0.0) as u32)
        .collect())
}

pub(crate) fn run(cache: &Cache, args: &EvalArgs) -> Result<ExitCode> {
    let params = args.params.params();
    params.validate()?;
    let Loaded { mut encoder, .. } = load_encoder(cache, &args.model, params.chip)?;
    let images = expand(&args.images)?;
    print_header();
    let mut totals = Totals::default();
    // Masks may sit beside their images: they are not images to score.
    let is_mask = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .is_some_and(|s| s.ends_with("_mask") || s.ends_with(".truth"))
    };
    for image in images.iter().filter(|p| !is_mask(p)) {
        let result = (|| -> Result<Scored> {
            let mask_path = find_mask(image, &args.masks)?;
            let raster = read_first_page(image)?;
            let truth = read_mask(&mask_path, raster.width, raster.height)?;
            let (scored, _, _) = score(&mut encoder, &raster, &truth, args.ignore, &params)?;
            Ok(scored)
        })();
        let name = image
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match result {
            Ok(s) => {
                print_row(&name, &s);
                totals.add(&s);
            }
            Err(e) => eprintln!("{name}: error: {}", crate::describe(&e)),
        }
    }
    if totals.n() == 0 {
        bail!("no image could be scored");
    }
    let (ours, theirs) = totals.mean_ari();
    println!(
        "mean ARI over {} images: tessera {ours:.3}, GraphEM parity {theirs:.3}",
        totals.n()
    );
    totals.print();
    Ok(ExitCode::SUCCESS)
}
