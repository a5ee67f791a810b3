//! [`FrameData`]: one frame's raw samples and readings, as an instrument has them.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera_imaging::Raster;
use tessera_protocol::{Dtype, f32s_to_le_bytes};

/// One frame's raw samples, as an instrument has them.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameData {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Sample type of `bytes`.
    pub dtype: Dtype,
    /// `width × height` little-endian samples, row-major.
    pub bytes: Vec<u8>,
    /// Acquisition time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Electron dose, for dose series.
    pub dose: Option<f64>,
    /// Pixel size in nanometres, when calibrated.
    pub pixel_size_nm: Option<f64>,
    /// Other scalar readings (at most 256).
    pub scalars: BTreeMap<String, f64>,
}

impl FrameData {
    /// From a decoded image (`f32` samples), stamped now. Takes the narrowest dtype that holds
    /// every sample exactly: `u8` if all are integers in `0..=255`, `u16` if all are integers
    /// in `0..=65535`, else `f32`. So the pipeline sees exactly the values `tessera segment`
    /// sees for the same file.
    pub fn from_raster(raster: &Raster) -> FrameData {
        let fits = |max: f32| {
            raster
                .pixels
                .iter()
                .all(|&v| (0.0..=max).contains(&v) && v.trunc() == v)
        };
        let (dtype, bytes) = if fits(255.0) {
            (Dtype::U8, raster.pixels.iter().map(|&v| v as u8).collect())
        } else if fits(65535.0) {
            let bytes = raster.pixels.iter().flat_map(|&v| (v as u16).to_le_bytes());
            (Dtype::U16, bytes.collect())
        } else {
            (Dtype::F32, f32s_to_le_bytes(&raster.pixels))
        };
        // Decoded rasters are far below u32::MAX on a side; a saturated size fails the
        // frame's validation with a message rather than wrapping.
        let side = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        FrameData {
            width: side(raster.width),
            height: side(raster.height),
            dtype,
            bytes,
            timestamp_ms: now_ms(),
            dose: None,
            pixel_size_nm: None,
            scalars: BTreeMap::new(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
