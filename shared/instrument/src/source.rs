//! [`FrameSource`]: where a simulated instrument's frames come from — image files, or a
//! synthetic [`DoseSeries`].

use std::path::{Path, PathBuf};

use tessera_formats::ReadLimits;
use tessera_protocol::Dtype;
use tessera_synth::{
    NoiseLevel, SceneConfig, SceneKind, SynthImage, apply_noise, generate, to_u16,
};

use crate::{FrameData, InstrumentError, frame::now_ms};

/// Dose added per frame of a [`DoseSeries`], in e⁻/Å².
pub const DOSE_STEP: f64 = 10.0;
/// Pixel size of a [`DoseSeries`] frame in nm: the scene's 10-px perovskite cell taken as
/// 0.39 nm (SrTiO3).
pub const SYNTHETIC_PIXEL_SIZE_NM: f64 = 0.039;
/// The scalar holding a [`DoseSeries`] frame's exact disordered fraction (ground truth).
pub const DISORDERED_FRACTION_SCALAR: &str = "truth_disordered_fraction";
/// Smallest and largest side of a [`DoseSeries`] frame.
pub const SYNTHETIC_SIDES: std::ops::RangeInclusive<u32> = 32..=8192;
/// The scene a dose series crops from is this many frames wide.
const WIDE: usize = 3;

/// Where simulated frames come from.
#[derive(Debug, Clone)]
pub enum FrameSource {
    /// Instrument files (any format `tessera_formats` reads: DM3/DM4, EMD, SER/EMI, BCF, MRC,
    /// TIFF, PNG, JPEG), one frame each, read when published: the first plane of the signal
    /// named `signal` (default: the file's first image), with its pixel size.
    Files {
        /// The files, in publishing order.
        paths: Vec<PathBuf>,
        /// The signal to send from each file (`None`: its first image).
        signal: Option<String>,
    },
    /// A synthetic dose series.
    Synthetic(DoseSeries),
}

impl FrameSource {
    /// Number of frames.
    pub fn len(&self) -> u64 {
        match self {
            FrameSource::Files { paths, .. } => paths.len() as u64,
            FrameSource::Synthetic(series) => series.count,
        }
    }

    /// Whether the frames come from files (which may be unreadable, and are then skipped).
    pub fn is_files(&self) -> bool {
        matches!(self, FrameSource::Files { .. })
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frame `index` (from 0), stamped now. Files are read and decoded here; samples keep
    /// their values ([`FrameData::from_raster`]).
    pub fn frame(&self, index: u64) -> Result<FrameData, InstrumentError> {
        if index >= self.len() {
            return Err(InstrumentError::Invalid(format!(
                "frame {index} is past the end of {} ({} frames)",
                self.describe(),
                self.len()
            )));
        }
        match self {
            FrameSource::Files { paths, signal } => {
                read_frame(&paths[index as usize], signal.as_deref())
            }
            FrameSource::Synthetic(series) => series.frame(index),
        }
    }

    /// A name for frame `index`, for logs: the file's path, or the series and index.
    pub fn name(&self, index: u64) -> String {
        match self {
            FrameSource::Files { paths, .. } => paths
                .get(index as usize)
                .map_or_else(|| format!("file {index}"), |p| p.display().to_string()),
            FrameSource::Synthetic(s) => format!("synthetic seed {} frame {index}", s.seed),
        }
    }

    /// The source in a few words, for logs and run metadata.
    pub fn describe(&self) -> String {
        match self {
            FrameSource::Files { paths, .. } => format!("{} files", paths.len()),
            FrameSource::Synthetic(s) => format!(
                "synthetic dose series ({} frames of {}², seed {})",
                s.count, s.size, s.seed
            ),
        }
    }
}

/// The first plane of `signal` (default: the first image) of the file at `path`, with the
/// signal's pixel size (for non-square pixels, the side of a square pixel of the same area).
fn read_frame(path: &Path, signal: Option<&str>) -> Result<FrameData, InstrumentError> {
    let acquisition = crate::files::read_acquisition(path, &ReadLimits::default())?;
    let format = |source| InstrumentError::Format {
        path: path.to_path_buf(),
        source,
    };
    let chosen = acquisition.pick(signal).map_err(format)?;
    let planes = chosen.planes().map_err(format)?;
    let mut frame = planes.first().map(FrameData::from_raster).ok_or_else(|| {
        InstrumentError::Invalid(format!("frame file {} has no planes", path.display()))
    })?;
    frame.pixel_size_nm = chosen.pixel_size().map(|p| p.area_nm2().sqrt());
    Ok(frame)
}

/// A dose series of synthetic HAADF-STEM frames in which the disordered (beam-damaged)
/// region grows frame by frame.
///
/// One clean order–disorder scene ([`SceneKind::OrderDisorder`]: crystal left of a wavy
/// front, disorder right of it) is rendered three frames wide, once. Frame `i` is a
/// `size × size` window that slides from the scene's left edge to its right edge across
/// the series, so the front sweeps through the field of view and the disordered fraction
/// never shrinks (typically from 0 to 1). Each frame then gets its own detector noise
/// ([`NoiseLevel::Low`]) and is sent as `u16` like a detector's counts. Frame `i` has dose
/// `i ×` [`DOSE_STEP`] and its exact disordered fraction in scalar
/// [`DISORDERED_FRACTION_SCALAR`]. Deterministic in `seed`.
#[derive(Debug, Clone)]
pub struct DoseSeries {
    size: u32,
    count: u64,
    seed: u64,
    scene: SynthImage,
}

impl DoseSeries {
    /// Renders the scene for `count` frames of `size × size` ([`SYNTHETIC_SIDES`]).
    pub fn new(size: u32, count: u64, seed: u64) -> Result<DoseSeries, InstrumentError> {
        if !SYNTHETIC_SIDES.contains(&size) {
            return Err(InstrumentError::Invalid(format!(
                "synthetic frame size {size} is out of range; choose {}..={} pixels",
                SYNTHETIC_SIDES.start(),
                SYNTHETIC_SIDES.end()
            )));
        }
        let scene = generate(&SceneConfig {
            width: size as usize * WIDE,
            height: size as usize,
            seed,
            kind: SceneKind::OrderDisorder,
            noise: NoiseLevel::None,
            ..SceneConfig::default()
        })?;
        Ok(DoseSeries {
            size,
            count,
            seed,
            scene,
        })
    }

    /// Frames in the series.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Side of its frames, in pixels.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The exact truth of frame `index`, row by row: 0 where the crystal is, 1 where the
    /// disorder is.
    pub fn truth(&self, index: u64) -> Vec<u32> {
        let side = self.size as usize;
        let x0 = self.window(index);
        (0..side)
            .flat_map(|y| {
                let row = y * self.scene.width + x0..y * self.scene.width + x0 + side;
                self.scene.truth[row].iter().map(|&t| u32::from(t != 0))
            })
            .collect()
    }

    /// The left edge of frame `index`'s window in the scene.
    fn window(&self, index: u64) -> usize {
        self.window_at(index as f64 * DOSE_STEP)
    }

    /// The left edge of the window at cumulative `dose`: the front has swept the series'
    /// whole travel at the dose of its last frame, `(count − 1) ×` [`DOSE_STEP`], and stays
    /// at the end beyond.
    fn window_at(&self, dose: f64) -> usize {
        let travel = self.scene.width - self.size as usize;
        match self.count {
            0 | 1 => travel / 2,
            n => {
                let progress = (dose / ((n - 1) as f64 * DOSE_STEP)).clamp(0.0, 1.0);
                ((progress * travel as f64).round() as usize).min(travel)
            }
        }
    }

    /// Frame `index`: the window, with noise, as `u16`.
    fn frame(&self, index: u64) -> Result<FrameData, InstrumentError> {
        self.frame_at(index as f64 * DOSE_STEP, index, None)
    }

    /// The frame the instrument takes at cumulative `dose` (`noise` seeds its detector noise,
    /// one per frame taken), of the whole field of view or, with `zoom`, of one region of it
    /// at a higher magnification: the region is resampled (bilinear) from the specimen to a
    /// full `size × size` frame, its pixel size divided by the magnification. The frame's
    /// scalars hold the exact disordered fraction of what it shows
    /// ([`DISORDERED_FRACTION_SCALAR`]) and, zoomed, the region (`roi_x`, `roi_y`,
    /// `roi_width`, `roi_height`, in survey pixels) and `magnification`.
    pub fn frame_at(
        &self,
        dose: f64,
        noise: u64,
        zoom: Option<&Zoom>,
    ) -> Result<FrameData, InstrumentError> {
        let side = self.size as usize;
        let x0 = self.window_at(dose);
        let (region, magnification) = match zoom {
            Some(z) => {
                let r = z.clamped(self.size);
                (r, f64::from(self.size) / f64::from(r[2].max(r[3])))
            }
            None => ([0, 0, self.size, self.size], 1.0),
        };
        let [rx, ry, rw, rh] = region.map(|v| v as usize);
        let mut pixels = Vec::with_capacity(side * side);
        let mut disordered = 0usize;
        let at = |x: usize, y: usize| y * self.scene.width + x0 + x;
        for y in 0..side {
            let sy = ry as f64 + (y as f64 + 0.5) * rh as f64 / side as f64 - 0.5;
            let (y0, fy) = split(sy, rh, ry);
            for x in 0..side {
                let sx = rx as f64 + (x as f64 + 0.5) * rw as f64 / side as f64 - 0.5;
                let (xa, fx) = split(sx, rw, rx);
                let (xb, yb) = ((xa + 1).min(rx + rw - 1), (y0 + 1).min(ry + rh - 1));
                let p = |x, y| self.scene.pixels[at(x, y)];
                let top = p(xa, y0) * (1.0 - fx) + p(xb, y0) * fx;
                let bottom = p(xa, yb) * (1.0 - fx) + p(xb, yb) * fx;
                pixels.push(top * (1.0 - fy) + bottom * fy);
                let nearest = at(
                    if fx < 0.5 { xa } else { xb },
                    if fy < 0.5 { y0 } else { yb },
                );
                disordered += usize::from(self.scene.truth[nearest] != 0);
            }
        }
        let noise_seed = self
            .seed
            .wrapping_add(1)
            .wrapping_add(noise.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        apply_noise(&mut pixels, &NoiseLevel::Low, noise_seed)?;
        let fraction = disordered as f64 / (side * side) as f64;
        let mut scalars: std::collections::BTreeMap<String, f64> =
            [(DISORDERED_FRACTION_SCALAR.to_string(), fraction)].into();
        if zoom.is_some() {
            for (name, v) in ["roi_x", "roi_y", "roi_width", "roi_height"]
                .into_iter()
                .zip(region)
            {
                scalars.insert(name.into(), f64::from(v));
            }
            scalars.insert("magnification".into(), magnification);
        }
        Ok(FrameData {
            width: self.size,
            height: self.size,
            dtype: Dtype::U16,
            bytes: to_u16(&pixels)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            timestamp_ms: now_ms(),
            dose: Some(dose),
            pixel_size_nm: Some(SYNTHETIC_PIXEL_SIZE_NM * rw as f64 / side as f64),
            scalars,
        })
    }
}

/// A region of the field of view to image at a higher magnification, in survey pixels; its
/// longer side fills the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zoom {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (at least 2 pixels once clamped).
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Zoom {
    /// The region inside a `side × side` field of view, `[x, y, width, height]`, at least
    /// 2 × 2 pixels.
    fn clamped(&self, side: u32) -> [u32; 4] {
        let width = self.width.clamp(2, side);
        let height = self.height.clamp(2, side);
        [
            self.x.min(side - width),
            self.y.min(side - height),
            width,
            height,
        ]
    }
}

/// A sample coordinate `s` inside `[start, start + len)` as its lower pixel and the weight of
/// the next.
fn split(s: f64, len: usize, start: usize) -> (usize, f32) {
    let s = s.clamp(start as f64, (start + len - 1) as f64);
    let i = s.floor();
    (i as usize, (s - i) as f32)
}
