//! Writes a segmentation's outputs: the label map, the overlay (with a scale bar when the
//! file is calibrated) and the JSON report (areas in nm² or µm² beside the fractions).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tessera_embedding::{Encoder, running_precision};
use tessera_fewshot::{Classifier, FrameClasses};
use tessera_formats::units::readable_area;
use tessera_formats::{Acquisition, Metadata, PixelSize, Signal};
use tessera_imaging::{
    LegendEntry, NO_LABEL, ScaleBar, encode_labels_tiff, render_overlay_coloured,
    render_overlay_with_scale,
};
use tessera_pipeline::results::{hex_color, legend_entry};
use tessera_segment::{DenseSteps, FeatureBlock, Prepared, SegmentParams, Segmentation, Timings};

/// Where a segmented plane came from: the file, its format, the signal and its calibration.
#[derive(Debug, Serialize)]
pub(crate) struct Source {
    /// The file's path.
    pub input: String,
    /// The format it was read as ("DM4", "TIFF", ...).
    pub format: &'static str,
    /// The signal segmented.
    pub signal: SignalInfo,
    /// The physical size of a pixel, or none (then every size is in pixels).
    pub calibration: Calibration,
    /// The instrument's settings, as the file states them.
    pub metadata: Metadata,
}

#[derive(Debug, Serialize)]
pub(crate) struct SignalInfo {
    pub name: String,
    pub kind: tessera_formats::SignalKind,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Calibration {
    /// Pixel width and height in nm; absent when the file has no calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_size_nm: Option<[f64; 2]>,
    /// "nm" when calibrated, "px" when every size is in pixels.
    pub unit: &'static str,
}

/// An area in physical units.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Area {
    /// The area in nm².
    pub nm2: f64,
    /// The same in the unit that reads best.
    pub value: f64,
    /// That unit: nm², µm² or mm².
    pub unit: &'static str,
}

impl Area {
    /// "1.23 µm²".
    pub(crate) fn text(&self) -> String {
        format!("{:.3} {}", self.value, self.unit)
    }
}

impl Source {
    pub(crate) fn of(path: &Path, acquisition: &Acquisition, signal: &Signal) -> Source {
        let pixel = signal.pixel_size();
        Source {
            input: path.display().to_string(),
            format: acquisition.format.name(),
            signal: SignalInfo {
                name: signal.name.clone(),
                kind: signal.kind,
                dtype: signal.dtype.name(),
                shape: signal.shape(),
            },
            calibration: Calibration {
                pixel_size_nm: pixel.map(|p| [p.x_nm, p.y_nm]),
                unit: if pixel.is_some() { "nm" } else { "px" },
            },
            metadata: acquisition.metadata.clone(),
        }
    }

    fn pixel(&self) -> Option<PixelSize> {
        self.calibration
            .pixel_size_nm
            .map(|[x_nm, y_nm]| PixelSize { x_nm, y_nm })
    }

    /// The area of `fraction` of a `width × height` plane, if calibrated.
    pub(crate) fn area(&self, fraction: f64, width: usize, height: usize) -> Option<Area> {
        let nm2 = fraction * (width * height) as f64 * self.pixel()?.area_nm2();
        let (value, unit) = readable_area(nm2);
        Some(Area { nm2, value, unit })
    }
}

/// The JSON report of one image.
#[derive(Debug, Serialize)]
pub(crate) struct Report<'a> {
    pub tessera_version: &'static str,
    pub input: &'a str,
    pub format: &'static str,
    pub signal: &'a SignalInfo,
    pub calibration: &'a Calibration,
    pub metadata: &'a Metadata,
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
    /// The few-shot classes, when a classifier was given or made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassesReport>,
}

#[derive(Debug, Clone, Serialize)]
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
    /// Where the chip graph's k-NN search and confidence margins ran (`host`, or
    /// `device:<provider>`).
    pub graph_on: String,
}

impl ModelInfo {
    /// `steps`: where the chip graph's k-NN and margins run.
    pub(crate) fn of(encoder: &Encoder, load_ms: f64, steps: &dyn DenseSteps) -> ModelInfo {
        ModelInfo {
            name: encoder.manifest().name.clone(),
            digest: encoder.digest().to_string(),
            input_size: encoder.input_size(),
            provider: encoder.provider().to_string(),
            precision: running_precision(encoder.provider(), encoder.manifest()).name(),
            batch: encoder.batch_size(),
            load_ms,
            graph_on: steps.name(),
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
    /// Pixels carrying its label.
    pub area_px: u64,
    /// Its area in physical units, when the file is calibrated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
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
    source: &Source,
    page: usize,
    model: ModelInfo,
    params: &SegmentParams,
    prepared: &Prepared,
    seg: &mut Segmentation,
    alpha: f32,
    classes: Option<ClassesReport>,
) -> Result<PathBuf> {
    let labels_path = out.join(format!("{stem}.labels.tif"));
    let overlay_path = out.join(format!("{stem}.overlay.png"));
    let json_path = out.join(format!("{stem}.json"));
    let (w, h) = (seg.width, seg.height);
    let legend: Vec<LegendEntry> = seg
        .communities
        .iter()
        .map(|c| {
            let mut entry = legend_entry(c.id, c.area_fraction, c.chips);
            if let Some(a) = source.area(c.area_fraction, w, h) {
                entry.text = format!("{}  {}", entry.text, a.text());
            }
            entry
        })
        .collect();
    let bar = source
        .pixel()
        .and_then(|p| ScaleBar::for_pixel_size(p.x_nm, w));
    // The two encodings are independent and single-threaded: run them side by side.
    let (tiff, png) = seg.timings.time("encode", || {
        std::thread::scope(|scope| {
            let tiff = scope.spawn(|| encode_labels_tiff(&seg.labels, seg.width, seg.height));
            let png = render_overlay_with_scale(
                &prepared.normalized,
                &seg.labels,
                alpha,
                &legend,
                bar.as_ref(),
            );
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
        input: &source.input,
        format: source.format,
        signal: &source.signal,
        calibration: &source.calibration,
        metadata: &source.metadata,
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
                area_px: (c.area_fraction * (w * h) as f64).round() as u64,
                area: source.area(c.area_fraction, w, h),
                centroid_px: c.centroid_px,
            })
            .collect(),
        timings_ms: seg.timings.clone(),
        outputs: Outputs {
            labels: labels_path,
            overlay: overlay_path,
        },
        classes,
    };
    let text = serde_json::to_string_pretty(&report)?;
    std::fs::write(&json_path, text).with_context(|| format!("writing {}", json_path.display()))?;
    Ok(json_path)
}

/// A page's few-shot classes in the JSON report.
#[derive(Debug, Serialize)]
pub(crate) struct ClassesReport {
    /// The classifier's name.
    pub classifier: String,
    /// How it classifies.
    pub method: &'static str,
    /// A chip at most this close (cosine) to every class is unknown.
    pub unknown_below: f32,
    /// Each class, in the order of the label map's values (class `i` is `i + 1`).
    pub classes: Vec<ClassReport>,
    /// Share of the pixels no class claims (0 in the label map).
    pub unknown_fraction: f64,
    pub outputs: Outputs,
}

#[derive(Debug, Serialize)]
pub(crate) struct ClassReport {
    pub name: String,
    pub color: String,
    /// Its value in `<stem>.classes.tif`.
    pub value: u32,
    pub chips: usize,
    pub area_fraction: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
}

impl ClassesReport {
    /// "oxide 41.0% crack 2.1% unknown 0.3%".
    pub(crate) fn line(&self) -> String {
        let mut parts: Vec<String> = (self.classes.iter())
            .map(|c| format!("{} {:.1}%", c.name, 100.0 * c.area_fraction))
            .collect();
        parts.push(format!("unknown {:.1}%", 100.0 * self.unknown_fraction));
        parts.join(" ")
    }
}

/// Writes `<stem>.classes.tif` (0 unknown, class `i` as `i + 1`) and `<stem>.classes.png`
/// (the classes in their colours, unknown pixels left grey) under `out`.
pub(crate) fn write_classes(
    out: &Path,
    stem: &str,
    source: &Source,
    prepared: &Prepared,
    got: &FrameClasses,
    classifier: &Classifier,
    alpha: f32,
) -> Result<ClassesReport> {
    let labels_path = out.join(format!("{stem}.classes.tif"));
    let overlay_path = out.join(format!("{stem}.classes.png"));
    let (w, h) = (prepared.grid.width(), prepared.grid.height());
    let k = got.chips.n_classes as u32;
    let values: Vec<u32> = (got.labels.iter())
        .map(|&l| if l == k { 0 } else { l + 1 })
        .collect();
    let shown: Vec<u32> = (got.labels.iter())
        .map(|&l| if l == k { NO_LABEL } else { l })
        .collect();
    let fractions = got.area_fractions();
    let chips = got.chips.counts();
    let classes: Vec<ClassReport> = (classifier.classes.iter().enumerate())
        .map(|(i, c)| ClassReport {
            name: c.name.clone(),
            color: tessera_imaging::color_hex(c.colour),
            value: i as u32 + 1,
            chips: chips[i],
            area_fraction: fractions[i],
            area: source.area(fractions[i], w, h),
        })
        .collect();
    let unknown_fraction = fractions[got.chips.n_classes];
    let mut legend: Vec<LegendEntry> = (classes.iter().enumerate())
        .map(|(i, c)| LegendEntry {
            label: i as u32,
            text: match &c.area {
                Some(a) => format!("{}  {:.1} %  {}", c.name, 100.0 * c.area_fraction, a.text()),
                None => format!("{}  {:.1} %", c.name, 100.0 * c.area_fraction),
            },
        })
        .collect();
    legend.push(LegendEntry {
        label: NO_LABEL,
        text: format!("unknown  {:.1} %", 100.0 * unknown_fraction),
    });
    let colours: Vec<[u8; 3]> = classifier.classes.iter().map(|c| c.colour).collect();
    let bar = source
        .pixel()
        .and_then(|p| ScaleBar::for_pixel_size(p.x_nm, w));
    let tiff = encode_labels_tiff(&values, w, h)?;
    let png = render_overlay_coloured(
        &prepared.normalized,
        &shown,
        alpha,
        &legend,
        bar.as_ref(),
        Some(&colours),
    )?;
    std::fs::write(&labels_path, tiff)
        .with_context(|| format!("writing {}", labels_path.display()))?;
    std::fs::write(&overlay_path, png)
        .with_context(|| format!("writing {}", overlay_path.display()))?;
    Ok(ClassesReport {
        classifier: classifier.name.clone(),
        method: classifier.method.name(),
        unknown_below: classifier.unknown_below,
        classes,
        unknown_fraction,
        outputs: Outputs {
            labels: labels_path,
            overlay: overlay_path,
        },
    })
}
