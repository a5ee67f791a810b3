//! [`Raster`], the grayscale plane every other module works on, and [`check_finite`].

use rayon::prelude::*;

use crate::ImagingError;

/// Rec. 709 / sRGB luminance weights (R, G, B), applied to the stored (gamma-encoded) values.
pub const LUMA_709: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// One grayscale plane, row-major, with raw sample values as `f32` (before normalisation).
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height` values, row by row from the top-left pixel.
    pub pixels: Vec<f32>,
}

impl Raster {
    /// Builds a raster, checking that `pixels.len() == width * height`.
    pub fn new(width: usize, height: usize, pixels: Vec<f32>) -> Result<Raster, ImagingError> {
        let r = Raster {
            width,
            height,
            pixels,
        };
        r.validate()?;
        Ok(r)
    }

    /// Checks that the pixel buffer matches the declared size.
    pub fn validate(&self) -> Result<(), ImagingError> {
        match self.width.checked_mul(self.height) {
            Some(n) if n == self.pixels.len() => Ok(()),
            _ => Err(ImagingError::RasterShape {
                width: self.width,
                height: self.height,
                len: self.pixels.len(),
            }),
        }
    }
}

/// Fails with [`ImagingError::NonFinite`] (counting NaN and infinite values) unless every
/// pixel is finite.
pub fn check_finite(r: &Raster) -> Result<(), ImagingError> {
    if r.pixels
        .par_chunks(1 << 18)
        .all(|c| c.iter().all(|v| v.is_finite()))
    {
        return Ok(());
    }
    let nan = r.pixels.iter().filter(|v| v.is_nan()).count() as u64;
    let infinite = r.pixels.iter().filter(|v| v.is_infinite()).count() as u64;
    Err(ImagingError::NonFinite {
        nan,
        infinite,
        pixels: r.pixels.len() as u64,
    })
}

/// Converts interleaved samples (`channels` per pixel, each already `f32`) to one plane:
/// 1–2 channels take the first (gray, alpha ignored); 3–4 channels take Rec. 709 luminance
/// of the first three (alpha ignored).
pub(crate) fn to_luma<T: Copy + Sync>(
    samples: &[T],
    channels: usize,
    to_f32: impl Fn(T) -> f32 + Sync,
) -> Vec<f32> {
    const TASK: usize = 1 << 16;
    match channels {
        0 => Vec::new(),
        1 => samples
            .par_iter()
            .with_min_len(TASK)
            .map(|&v| to_f32(v))
            .collect(),
        2 => samples
            .par_chunks_exact(2)
            .with_min_len(TASK)
            .map(|p| to_f32(p[0]))
            .collect(),
        n => samples
            .par_chunks_exact(n)
            .with_min_len(TASK)
            .map(|p| {
                LUMA_709[0] * to_f32(p[0]) + LUMA_709[1] * to_f32(p[1]) + LUMA_709[2] * to_f32(p[2])
            })
            .collect(),
    }
}
