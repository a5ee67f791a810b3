//! The crate's error type.

use thiserror::Error;

/// Why a scene, a mosaic, noise or a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SynthError {
    /// The output size is zero, too small, or too large.
    #[error(
        "image size {width}x{height} is out of range (each side {min}..={max} px, at most {max_pixels} px in all)"
    )]
    BadSize {
        /// Requested width in pixels.
        width: usize,
        /// Requested height in pixels.
        height: usize,
        /// Smallest allowed side.
        min: usize,
        /// Largest allowed side.
        max: usize,
        /// Largest allowed pixel count.
        max_pixels: usize,
    },
    /// A numeric parameter is NaN, infinite or outside its range.
    #[error("parameter `{name}` = {value} is invalid: {reason}")]
    BadParam {
        /// Field or argument name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// The allowed range, in words.
        reason: &'static str,
    },
    /// Two slices that must be the same length are not.
    #[error("length mismatch: {what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which slice.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// The number of textures given to a mosaic is out of range.
    #[error("a mosaic needs {min}..={max} textures, got {got}")]
    TextureCount {
        /// Number given.
        got: usize,
        /// Fewest allowed.
        min: usize,
        /// Most allowed.
        max: usize,
    },
    /// One texture given to a mosaic is malformed.
    #[error("texture {index} is invalid: {reason}")]
    BadTexture {
        /// Position of the texture in the input slice.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Checks that `value` is finite and within `lo..=hi`.
pub(crate) fn check_range(
    name: &'static str,
    value: f32,
    lo: f32,
    hi: f32,
    reason: &'static str,
) -> Result<(), SynthError> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(SynthError::BadParam {
            name,
            value: f64::from(value),
            reason,
        })
    }
}

/// Smallest side accepted for generated images.
pub const MIN_SIDE: usize = 16;
/// Largest side accepted for generated images.
pub const MAX_SIDE: usize = 65_536;
/// Largest pixel count accepted for generated images (1 GiB of `f32`).
pub const MAX_PIXELS: usize = 1 << 28;

/// Checks an output size against [`MIN_SIDE`], [`MAX_SIDE`] and [`MAX_PIXELS`].
pub(crate) fn check_size(width: usize, height: usize) -> Result<(), SynthError> {
    let ok = (MIN_SIDE..=MAX_SIDE).contains(&width)
        && (MIN_SIDE..=MAX_SIDE).contains(&height)
        && width.saturating_mul(height) <= MAX_PIXELS;
    if ok {
        Ok(())
    } else {
        Err(SynthError::BadSize {
            width,
            height,
            min: MIN_SIDE,
            max: MAX_SIDE,
            max_pixels: MAX_PIXELS,
        })
    }
}
