//! The four stages, and [`segment`], which runs them in one process.

use rayon::prelude::*;
use tessera_imaging::{self as imaging, ChipGrid, Normalization, Raster};

use crate::{
    ChipPartition, ChipStats, Community, DenseSteps, GridShape, HostSteps, SegmentError,
    SegmentParams, Timings, cluster_on, confidence::community_centroids, features, pixels,
    summary::summarize,
};

/// Anything that turns chips into embedding rows.
pub trait ChipEncoder {
    /// Embeds `chips` (`n × chip × chip` values in `[0, 1]`) into `n × dim()` values.
    fn embed_chips(&mut self, chips: &[f32], chip: usize) -> Result<Vec<f32>, String>;
    /// Width of an embedding row.
    fn dim(&self) -> usize;
}

impl ChipEncoder for tessera_embedding::Encoder {
    fn embed_chips(&mut self, chips: &[f32], chip: usize) -> Result<Vec<f32>, String> {
        self.embed(chips, chip).map_err(|e| e.to_string())
    }

    fn dim(&self) -> usize {
        self.embedding_dim()
    }
}

/// An image ready to embed: normalised and cut into chips.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The image scaled to `[0, 1]`.
    pub normalized: Raster,
    /// The chip grid.
    pub grid: ChipGrid,
    /// The chips, `grid.len() × chip × chip`, in grid order.
    pub chips: Vec<f32>,
}

/// The result of segmenting one image.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Image width.
    pub width: usize,
    /// Image height.
    pub height: usize,
    /// Community of every pixel, row-major.
    pub labels: Vec<u32>,
    /// The chip communities behind the label map.
    pub partition: ChipPartition,
    /// Each chip's vote weight when painting (`None`: every chip counted once).
    pub chip_weights: Option<Vec<f32>>,
    /// The communities, by label.
    pub communities: Vec<Community>,
    /// Stage times.
    pub timings: Timings,
}

/// Stage 1: normalises `raster` and cuts it into chips.
pub fn prepare(
    raster: &Raster,
    params: &SegmentParams,
    timings: &mut Timings,
) -> Result<Prepared, SegmentError> {
    params.validate()?;
    let normalization = Normalization {
        low_percentile: params.low_percentile,
        high_percentile: params.high_percentile,
    };
    let flat;
    let raster = if params.flatten > 0.0 {
        flat = timings.time("flatten", || flatten(raster, params.flatten));
        &flat
    } else {
        raster
    };
    let normalized = timings.time("normalize", || imaging::normalize(raster, &normalization))?;
    let stride = params.stride_for(normalized.width, normalized.height);
    let grid = ChipGrid::new(normalized.width, normalized.height, params.chip, stride)?;
    let chips = timings.time("chips", || imaging::extract_chips(&normalized, &grid))?;
    Ok(Prepared {
        normalized,
        grid,
        chips,
    })
}

/// `image` quantised as its 8-bit preview: `round(255 · v) / 255`, NaN as 0.
pub fn preview8(image: &Raster) -> Raster {
    let pixels = image
        .pixels
        .par_iter()
        .with_min_len(1 << 16)
        .map(|&v| {
            let q = if v.is_nan() {
                0
            } else {
                (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
            };
            f32::from(q) / 255.0
        })
        .collect();
    Raster {
        width: image.width,
        height: image.height,
        pixels,
    }
}

/// `raster` less its blur over `fraction` of its longer side, plus its mean.
fn flatten(raster: &Raster, fraction: f32) -> Raster {
    let (w, h) = (raster.width, raster.height);
    let sigma = fraction * w.max(h) as f32;
    let slow = pixels::smooth(&raster.pixels, w, h, sigma);
    let mean = raster.pixels.iter().map(|&v| f64::from(v)).sum::<f64>() / (w * h).max(1) as f64;
    Raster {
        width: w,
        height: h,
        pixels: (raster.pixels.iter().zip(&slow))
            .map(|(v, s)| v - s + mean as f32)
            .collect(),
    }
}

/// Stages 3 and 4: clusters the chip embeddings and paints the communities onto the pixels.
/// Parameters that need the image ([`SegmentParams::needs_image`]) need [`finish_image`].
pub fn finish(
    grid: &ChipGrid,
    embeddings: &[f32],
    dim: usize,
    params: &SegmentParams,
    timings: Timings,
) -> Result<Segmentation, SegmentError> {
    finish_image(grid, None, embeddings, dim, params, timings)
}

/// [`finish`] with the normalised image (`Prepared::normalized`), from which the chip
/// statistics are measured and the boundaries refined when the parameters ask for them.
///
/// The image is used as its 8-bit preview (`round(255 · v) / 255`, the form in which the live
/// pipeline stores it), so that the live clusterer, which reads the preview back, gives
/// exactly the labels of `tessera segment`.
pub fn finish_image(
    grid: &ChipGrid,
    image: Option<&Raster>,
    embeddings: &[f32],
    dim: usize,
    params: &SegmentParams,
    timings: Timings,
) -> Result<Segmentation, SegmentError> {
    finish_image_on(
        &mut HostSteps,
        grid,
        image,
        embeddings,
        dim,
        params,
        timings,
    )
}

/// [`finish_image`], its k-NN search and confidence margins run by `steps` (see
/// [`crate::dense`]).
pub fn finish_image_on(
    steps: &mut dyn DenseSteps,
    grid: &ChipGrid,
    image: Option<&Raster>,
    embeddings: &[f32],
    dim: usize,
    params: &SegmentParams,
    mut timings: Timings,
) -> Result<Segmentation, SegmentError> {
    let preview = image.filter(|_| params.needs_image()).map(preview8);
    let image = preview.as_ref();
    let mut stats = ChipStats {
        shape: Some(GridShape {
            cols: grid.cols(),
            rows: grid.rows(),
            steps_per_chip: (grid.chip() / grid.stride()).max(1),
        }),
        ..ChipStats::default()
    };
    if let Some(img) = image {
        stats.intensity = (params.intensity_weight > 0.0)
            .then(|| timings.time("intensity", || features::intensity_stats(img, grid)));
    }
    let partition = cluster_on(
        steps,
        embeddings,
        grid.len(),
        dim,
        &stats,
        params,
        &mut timings,
    )?;
    // One set of centroids serves the confidence votes and the community summaries.
    let centroids = timings.time("centroids", || {
        community_centroids(
            &partition.features,
            partition.dim,
            &partition.labels,
            partition.n_communities,
        )
    });
    let chip_weights = params
        .confidence_vote
        .then(|| {
            timings.time("confidence", || {
                steps.margins(
                    &partition.features,
                    partition.dim,
                    &partition.labels,
                    &centroids,
                )
            })
        })
        .transpose()?;
    let mut labels = timings.time("paint", || match &chip_weights {
        Some(weights) => imaging::paint_labels_weighted(
            grid,
            &partition.labels,
            weights,
            partition.n_communities,
        ),
        None => imaging::paint_labels(grid, &partition.labels, partition.n_communities),
    })?;
    if let (Some(img), true) = (image, params.refine > 0.0) {
        labels = timings.time("refine", || {
            pixels::refine_labels(
                grid,
                img,
                &labels,
                &partition.labels,
                chip_weights.as_deref(),
                partition.n_communities,
                params.refine,
                params.refine_sigma,
            )
        });
    }
    let (width, height) = (grid.width(), grid.height());
    let communities = timings.time("summary", || {
        summarize(
            width,
            &labels,
            &partition.labels,
            &centroids,
            partition.dim,
            partition.n_communities,
        )
    });
    Ok(Segmentation {
        width,
        height,
        labels,
        partition,
        chip_weights,
        communities,
        timings,
    })
}

/// Runs every stage in this process.
pub fn segment(
    encoder: &mut dyn ChipEncoder,
    raster: &Raster,
    params: &SegmentParams,
) -> Result<(Prepared, Segmentation), SegmentError> {
    segment_on(encoder, &mut HostSteps, raster, params)
}

/// [`segment`], the k-NN search and the confidence margins run by `steps` (see
/// [`crate::dense`]).
pub fn segment_on(
    encoder: &mut dyn ChipEncoder,
    steps: &mut dyn DenseSteps,
    raster: &Raster,
    params: &SegmentParams,
) -> Result<(Prepared, Segmentation), SegmentError> {
    let (prepared, seg, _) = segment_embedded(encoder, steps, raster, params)?;
    Ok((prepared, seg))
}

/// [`segment_on`], also returning the chips' embedding rows (`grid.len() × encoder.dim()`),
/// for what else is computed from them (few-shot classes).
pub fn segment_embedded(
    encoder: &mut dyn ChipEncoder,
    steps: &mut dyn DenseSteps,
    raster: &Raster,
    params: &SegmentParams,
) -> Result<(Prepared, Segmentation, Vec<f32>), SegmentError> {
    let mut timings = Timings::default();
    let prepared = prepare(raster, params, &mut timings)?;
    let embeddings = timings
        .time("embed", || {
            encoder.embed_chips(&prepared.chips, prepared.grid.chip())
        })
        .map_err(SegmentError::Embedding)?;
    let seg = finish_image_on(
        steps,
        &prepared.grid,
        Some(&prepared.normalized),
        &embeddings,
        encoder.dim(),
        params,
        timings,
    )?;
    Ok((prepared, seg, embeddings))
}
