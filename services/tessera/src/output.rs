//! Writes a segmentation's outputs: the label map, the overlay and the JSON report.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tessera_embedding::Encoder;
use tessera_imaging::{LegendEntry, encode_labels_tiff, render_overlay};
use tessera_pipeline::results::{hex_color, legend_entry};
use tessera_segment::{FeatureBlock, Prepared, SegmentParams, Segmentation, Timings};

/// The JSON report of one image.
#[derive(Debug, Serialize)]
pub(crate) struct Report<'a> {
    pub tessera_version: &'static str,
    pub input: String,
    pub page: usize,
    pub width: usize,
    pub height: usize,
    pub model: ModelInfo,
    pub params: &'a SegmentParams,
    pub chips: usize,
    pub grid: GridInfo,
    pub modularity: f64,
    /// The resolution of the cut (chosen per image unless the split is fixed).
    pub resolution: f64,
    pub similarity_cutoff: Option<f32>,
    /// The feature blocks the graph was built on, each with its weight.
    pub feature_blocks: &'a [FeatureBlock],
    pub communities: Vec<CommunityReport>,
    pub timings_ms: Timings,
    pub outputs: Outputs,
}

#[derive(Debug, Serialize)]
pub(crate) struct ModelInfo {
    pub name: String,
    pub digest: String,
    pub input_size: usize,
    pub provider: String,
    /// The number format the network ran in (fp32, fp16, int8).
    pub precision: &'static str,
    /// Chips per inference call.
    pub batch: usize,
    /// Time to load the runtime and the model, once per command.
    pub load_ms: f64,
}

impl ModelInfo {
    pub(crate) fn of(encoder: &Encoder, load_ms: f64) -> ModelInfo {
        ModelInfo {
            name: encoder.manifest().name.clone(),
            digest: encoder.digest().to_string(),
            input_size: encoder.input_size(),
            provider: encoder.provider().to_string(),
            precision: encoder.provider().precision().name(),
            batch: encoder.batch_size(),
            load_ms,
        }
    }
}

/// The chip grid actually laid (the stride resolved when the parameters leave it automatic).
#[derive(Debug, Serialize)]
pub(crate) struct GridInfo {
    pub chip: usize,
    pub stride: usize,
    pub cols: usize,
    pub rows: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct CommunityReport {
    pub id: u32,
    pub color: String,
    pub chips: usize,
    pub area_fraction: f64,
    pub centroid_px: [f64; 2],
}

#[derive(Debug, Serialize)]
pub(crate) struct Outputs {
    pub labels: PathBuf,
    pub overlay: PathBuf,
}

/// Writes `<stem>.labels.tif`, `<stem>.overlay.png` and `<stem>.json` under `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    out: &Path,
    stem: &str,
    input: &Path,
    page: usize,
    model: ModelInfo,
    params: &SegmentParams,
    prepared: &Prepared,
    seg: &mut Segmentation,
    alpha: f32,
) -> Result<PathBuf> {
    let labels_path = out.join(format!("{stem}.labels.tif"));
    let overlay_path = out.join(format!("{stem}.overlay.png"));
    let json_path = out.join(format!("{stem}.json"));
    let legend: Vec<LegendEntry> = seg
        .communities
        .iter()
        .map(|c| legend_entry(c.id, c.area_fraction, c.chips))
        .collect();
    // The two encodings are independent and single-threaded: run them side by side.
    let (tiff, png) = seg.timings.time("encode", || {
        std::thread::scope(|scope| {
            let tiff = scope.spawn(|| encode_labels_tiff(&seg.labels, seg.width, seg.height));
            let png = render_overlay(&prepared.normalized, &seg.labels, alpha, &legend);
            let tiff = tiff.join().unwrap_or_else(|_| {
                Err(tessera_imaging::ImagingError::InvalidArgument(
                    "the label-map encoder panicked".into(),
                ))
            });
            (tiff, png)
        })
    });
    let (tiff, png) = (tiff?, png?);
    seg.timings.time("write", || -> Result<()> {
        std::fs::write(&labels_path, tiff)
            .with_context(|| format!("writing {}", labels_path.display()))?;
        std::fs::write(&overlay_path, png)
            .with_context(|| format!("writing {}", overlay_path.display()))
    })?;
    let report = Report {
        tessera_version: env!("CARGO_PKG_VERSION"),
        input: input.display().to_string(),
        page,
        width: seg.width,
        height: seg.height,
        model,
        params,
        chips: prepared.grid.len(),
        grid: GridInfo {
            chip: prepared.grid.chip(),
            stride: prepared.grid.stride(),
            cols: prepared.grid.cols(),
            rows: prepared.grid.rows(),
        },
        modularity: seg.partition.modularity,
        resolution: seg.partition.resolution,
        similarity_cutoff: seg.partition.cutoff,
        feature_blocks: &seg.partition.blocks,
        communities: seg
            .communities
            .iter()
            .map(|c| CommunityReport {
                id: c.id,
                color: hex_color(c.id),
                chips: c.chips,
                area_fraction: c.area_fraction,
                centroid_px: c.centroid_px,
            })
            .collect(),
        timings_ms: seg.timings.clone(),
        outputs: Outputs {
            labels: labels_path,
            overlay: overlay_path,
        },
    };
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write(&json_path, text).with_context(|| format!("writing {}", json_path.display()))?;
    Ok(json_path)
}
