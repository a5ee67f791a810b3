//! The model of an acquisition that every reader produces: named signals on calibrated axes,
//! and the instrument's metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_imaging::Raster;

use crate::units::length_in_nm;
use crate::{FileFormat, FormatError};

/// What one file (or one EMI with its SER files) holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acquisition {
    /// The format it was read from.
    pub format: FileFormat,
    /// Every signal, in the file's order. Images come first where the file does not say.
    pub signals: Vec<Signal>,
    /// Instrument and acquisition settings, where the file records them.
    pub metadata: Metadata,
    /// What the reader skipped or assumed, one sentence each (e.g. "extended header of 160
    /// bytes (symmetry records) skipped").
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One signal: an image, a stack of images, a volume, a spectrum or a spectrum image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Its name: the detector or the file's title ("HAADF", "BSE", "EDS", "image 1").
    pub name: String,
    /// How its axes are to be read.
    pub kind: SignalKind,
    /// The sample type stored in the file (the values in [`Signal::data`] are converted to
    /// `f32`).
    pub dtype: DType,
    /// One axis per dimension, outermost first; [`Signal::data`] is row-major over them.
    /// Images end in `[.., y, x]`; spectra and spectrum images end in their channel axis.
    pub axes: Vec<Axis>,
    /// The values, row-major over `axes`, converted to `f32` (complex: the modulus; RGB: Rec.
    /// 709 luminance).
    #[serde(skip)]
    pub data: Vec<f32>,
    /// Per-signal metadata (detector settings and the like), as the file states them.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// How a signal's axes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// `[y, x]`.
    Image,
    /// `[frame, y, x]`: a time series, a tilt series or any stack of 2-D frames.
    ImageStack,
    /// `[z, y, x]`: a reconstructed volume.
    Volume,
    /// `[channel]`: one spectrum (EDS, EELS, CL).
    Spectrum,
    /// `[.., channel]`: one spectrum per navigation position (`[y, x, channel]` for a map,
    /// `[n, channel]` for a line scan).
    SpectrumImage,
    /// Anything else, e.g. a 1-D intensity profile.
    Other,
}

/// The sample type as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    /// Boolean / 1-bit stored as bytes.
    Bool,
    /// Unsigned 8-bit.
    U8,
    /// Signed 8-bit.
    I8,
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// Unsigned 64-bit.
    U64,
    /// Signed 64-bit.
    I64,
    /// IEEE half precision.
    F16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// Complex of two `f32`.
    Complex64,
    /// Complex of two `f64`.
    Complex128,
    /// Packed colour (RGB or RGBA, 8 bits a channel).
    Rgb8,
}

impl DType {
    /// The name used by `tessera info` and in JSON ("u16", "f32", ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::U16 => "u16",
            DType::I16 => "i16",
            DType::U32 => "u32",
            DType::I32 => "i32",
            DType::U64 => "u64",
            DType::I64 => "i64",
            DType::F16 => "f16",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::Complex64 => "complex64",
            DType::Complex128 => "complex128",
            DType::Rgb8 => "rgb8",
        }
    }
}

/// One axis of a signal: its length and its calibration `value = offset + scale × index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// "x", "y", "z", "frame", "energy", "time", or the file's own name for it.
    pub name: String,
    /// Number of samples along it.
    pub size: usize,
    /// Physical step per sample; 1.0 when uncalibrated.
    pub scale: f64,
    /// Physical value of sample 0; 0.0 when uncalibrated.
    pub offset: f64,
    /// The unit as the file spells it ("nm", "µm", "1/nm", "keV", "s"); empty when
    /// uncalibrated.
    pub unit: String,
}

impl Axis {
    /// An uncalibrated axis (scale 1, offset 0, no unit).
    pub fn pixels(name: &str, size: usize) -> Axis {
        Axis {
            name: name.to_string(),
            size,
            scale: 1.0,
            offset: 0.0,
            unit: String::new(),
        }
    }

    /// A calibrated axis.
    pub fn calibrated(name: &str, size: usize, scale: f64, offset: f64, unit: &str) -> Axis {
        Axis {
            name: name.to_string(),
            size,
            scale,
            offset,
            unit: unit.to_string(),
        }
    }

    /// The size of one step in nanometres, if the axis is calibrated in a length unit with a
    /// finite, positive scale.
    pub fn step_nm(&self) -> Option<f64> {
        let f = length_in_nm(&self.unit)?;
        let v = self.scale.abs() * f;
        (v.is_finite() && v > 0.0).then_some(v)
    }
}

/// The physical size of one pixel of an image, in nanometres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PixelSize {
    /// Width of a pixel (along x), nm.
    pub x_nm: f64,
    /// Height of a pixel (along y), nm.
    pub y_nm: f64,
}

impl PixelSize {
    /// The area of one pixel in nm².
    pub fn area_nm2(&self) -> f64 {
        self.x_nm * self.y_nm
    }
}

/// Instrument and acquisition settings, where the file records them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The microscope ("Titan", "Talos F200X", "TM3030Plus").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub microscope: Option<String>,
    /// Accelerating voltage, kV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voltage_kv: Option<f64>,
    /// Indicated magnification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magnification: Option<f64>,
    /// Exposure or dwell time per frame, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure_s: Option<f64>,
    /// Date and time of acquisition as the file writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquired: Option<String>,
    /// Further named values the reader found worth keeping (a few dozen at most).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

impl Signal {
    /// The number of values `axes` describe (their product), or `None` on overflow.
    pub fn len_from_axes(axes: &[Axis]) -> Option<usize> {
        axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.size))
    }

    /// The shape, outermost first.
    pub fn shape(&self) -> Vec<usize> {
        self.axes.iter().map(|a| a.size).collect()
    }

    /// Whether it can be segmented: an image, a stack of images or a volume.
    pub fn is_image(&self) -> bool {
        matches!(
            self.kind,
            SignalKind::Image | SignalKind::ImageStack | SignalKind::Volume
        )
    }

    /// Its 2-D planes (one for an image, one per frame or slice for a stack or volume), as
    /// rasters of raw values. Fails for spectra and other non-image signals.
    pub fn planes(&self) -> Result<Vec<Raster>, FormatError> {
        if !self.is_image() || self.axes.len() < 2 {
            return Err(FormatError::NoImage {
                format: "this",
                found: format!("'{}' is a {:?} signal", self.name, self.kind),
                hint: "pick an image signal with --signal (see `tessera info FILE`)".into(),
            });
        }
        let n = self.axes.len();
        let (h, w) = (self.axes[n - 2].size, self.axes[n - 1].size);
        let plane = h * w;
        if plane == 0 || self.data.len() % plane != 0 {
            return Err(FormatError::corrupt(
                "signal",
                format!(
                    "'{}' has {} values, not a whole number of {w} × {h} planes",
                    self.name,
                    self.data.len()
                ),
            ));
        }
        self.data
            .chunks_exact(plane)
            .map(|p| Raster::new(w, h, p.to_vec()).map_err(FormatError::from))
            .collect()
    }

    /// The physical size of a pixel of its planes, where both of the last two axes are
    /// calibrated in length units.
    pub fn pixel_size(&self) -> Option<PixelSize> {
        if !self.is_image() || self.axes.len() < 2 {
            return None;
        }
        let n = self.axes.len();
        Some(PixelSize {
            x_nm: self.axes[n - 1].step_nm()?,
            y_nm: self.axes[n - 2].step_nm()?,
        })
    }
}

impl Acquisition {
    /// The signals that can be segmented, in file order.
    pub fn images(&self) -> impl Iterator<Item = &Signal> {
        self.signals.iter().filter(|s| s.is_image())
    }

    /// The signal to segment: the one named `wanted` (case-insensitive), else the first image.
    pub fn pick(&self, wanted: Option<&str>) -> Result<&Signal, FormatError> {
        match wanted {
            Some(w) => self
                .signals
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(w))
                .ok_or_else(|| FormatError::NoSuchSignal {
                    wanted: w.to_string(),
                    available: self.signal_names(),
                }),
            None => self.images().next().ok_or_else(|| FormatError::NoImage {
                format: self.format.name(),
                found: format!("signals: {}", self.signal_names()),
                hint: "Tessera segments images; this file holds none".into(),
            }),
        }
    }

    fn signal_names(&self) -> String {
        let names: Vec<String> = self
            .signals
            .iter()
            .map(|s| format!("{} ({:?})", s.name, s.kind))
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}
