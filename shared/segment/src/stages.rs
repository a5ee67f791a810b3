//! The four stages, and [`segment`], which runs them in one process.

use tessera_imaging::{self as imaging, ChipGrid, Normalization, Raster};

use crate::{
    ChipPartition, Community, SegmentError, SegmentParams, Timings, cluster,
    confidence::{chip_confidence, community_centroids},
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

/// Stages 3 and 4: clusters the chip embeddings and paints the communities onto the pixels.
pub fn finish(
    grid: &ChipGrid,
    embeddings: &[f32],
    dim: usize,
    params: &SegmentParams,
    mut timings: Timings,
) -> Result<Segmentation, SegmentError> {
    let partition = cluster(embeddings, grid.len(), dim, params, &mut timings)?;
    // One set of centroids serves the confidence votes and the community summaries.
    let centroids = timings.time("centroids", || {
        community_centroids(
            &partition.features,
            partition.dim,
            &partition.labels,
            partition.n_communities,
        )
    });
    let chip_weights = params.confidence_vote.then(|| {
        timings.time("confidence", || {
            chip_confidence(
                &partition.features,
                partition.dim,
                &partition.labels,
                &centroids,
            )
        })
    });
    let labels = timings.time("paint", || match &chip_weights {
        Some(weights) => imaging::paint_labels_weighted(
            grid,
            &partition.labels,
            weights,
            partition.n_communities,
        ),
        None => imaging::paint_labels(grid, &partition.labels, partition.n_communities),
    })?;
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
    let mut timings = Timings::default();
    let prepared = prepare(raster, params, &mut timings)?;
    let embeddings = timings
        .time("embed", || {
            encoder.embed_chips(&prepared.chips, prepared.grid.chip())
        })
        .map_err(SegmentError::Embedding)?;
    let seg = finish(&prepared.grid, &embeddings, encoder.dim(), params, timings)?;
    Ok((prepared, seg))
}
