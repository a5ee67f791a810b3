//! The one error type of this crate.
//!
//! Every variant's message says what went wrong and what the user can do about it, so a
//! caller can print it unchanged.

use thiserror::Error;

/// Everything that can go wrong while decoding, normalising, chipping, painting or encoding.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ImagingError {
    /// The input buffer holds no bytes at all.
    #[error("the image data is empty (0 bytes); check that the file was read completely")]
    Empty,

    /// The bytes are a known image format that this crate does not read, or no known format.
    #[error(
        "{found} is not a supported image format; supported formats are PNG (8/16-bit), \
         JPEG and TIFF (8/16/32-bit integer or 32/64-bit float); convert the image to one of these"
    )]
    UnsupportedFormat {
        /// What the magic bytes say the data is, e.g. "GIF" or "unrecognised data (first bytes 00 11 22 33)".
        found: String,
    },

    /// The file is of a supported format but ends before all its data was read.
    #[error(
        "{format} data is truncated ({detail}); the file is incomplete, re-export or re-copy it"
    )]
    Truncated {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// What the decoder was reading when the data ran out.
        detail: String,
    },

    /// The file is of a supported format but its content is damaged or inconsistent.
    #[error(
        "{format} data is corrupt: {detail}; re-export the image or convert it with another tool"
    )]
    Corrupt {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// The decoder's description of the damage.
        detail: String,
    },

    /// The header promises more than the data could hold: a truncated file, or one crafted to
    /// keep the decoder busy (a decompression bomb).
    #[error(
        "{format} data is implausible: {detail}; the file is truncated or was crafted to \
         exhaust the decoder, re-export or re-copy it"
    )]
    Implausible {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// What does not add up.
        detail: String,
    },

    /// The file is valid but uses a pixel layout this crate does not read.
    #[error("{format} {what} is not supported; {hint}")]
    UnsupportedPixelFormat {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// What is unsupported, e.g. "sample format 'complex int'".
        what: String,
        /// The way out, e.g. "convert to 8/16/32-bit integer or float".
        hint: &'static str,
    },

    /// A page has zero width or height.
    #[error("{format} image has zero size ({width} × {height} pixels); the file holds no pixels")]
    ZeroSize {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// Width from the header.
        width: u64,
        /// Height from the header.
        height: u64,
    },

    /// A page has more pixels than [`crate::DecodeLimits::max_pixels`] allows.
    #[error(
        "image is {width} × {height} = {pixels} pixels, over the limit of {limit}; \
         raise --max-pixels if this is intended"
    )]
    TooManyPixels {
        /// Width from the header.
        width: u64,
        /// Height from the header.
        height: u64,
        /// width × height.
        pixels: u64,
        /// The limit in force.
        limit: u64,
    },

    /// A decoder needed more memory than the limits derived from [`crate::DecodeLimits`] allow.
    #[error(
        "{format} decoder needs more memory than allowed ({detail}); raise --max-pixels if this is intended"
    )]
    LimitExceeded {
        /// "PNG", "JPEG" or "TIFF".
        format: &'static str,
        /// The decoder's message.
        detail: String,
    },

    /// A TIFF has more pages than [`crate::DecodeLimits::max_pages`] allows.
    #[error("TIFF has more than {limit} pages; raise --max-pages if this is intended")]
    TooManyPages {
        /// The limit in force.
        limit: usize,
    },

    /// A raster holds NaN or infinite values.
    #[error(
        "image has {nan} NaN and {infinite} infinite values among its {pixels} pixels; \
         replace or mask them (e.g. with the image median) before segmenting"
    )]
    NonFinite {
        /// Number of NaN values.
        nan: u64,
        /// Number of +/- infinite values.
        infinite: u64,
        /// Total number of pixels.
        pixels: u64,
    },

    /// A raster's pixel buffer does not match its width × height.
    #[error(
        "raster is declared {width} × {height} but holds {len} values; expected width × height"
    )]
    RasterShape {
        /// Declared width.
        width: usize,
        /// Declared height.
        height: usize,
        /// Actual buffer length.
        len: usize,
    },

    /// Normalisation percentiles are out of range or out of order.
    #[error(
        "normalisation percentiles {low} and {high} are invalid; \
         they must satisfy 0 <= low < high <= 100"
    )]
    InvalidPercentiles {
        /// Requested low percentile.
        low: f32,
        /// Requested high percentile.
        high: f32,
    },

    /// The image has no contrast between the chosen percentiles.
    #[error(
        "image is constant between the {low_percentile} and {high_percentile} percentiles \
         (both are {value}); there is nothing to segment — check the image, or widen the \
         percentiles if most pixels share one value"
    )]
    ConstantImage {
        /// The value both percentiles fell on.
        value: f32,
        /// The low percentile used.
        low_percentile: f32,
        /// The high percentile used.
        high_percentile: f32,
    },

    /// The chip grid parameters are unusable.
    #[error("{0}")]
    InvalidGrid(String),

    /// A label buffer does not fit the grid or image it is used with.
    #[error("{0}")]
    LabelMismatch(String),

    /// A parameter outside its valid range (alpha, sizes, …).
    #[error("{0}")]
    InvalidArgument(String),

    /// A label cannot be stored in a 16-bit label TIFF.
    #[error(
        "label {label} does not fit a 16-bit label TIFF (labels 0..=65534, plus u32::MAX for \
         'no label'); merge small communities or store fewer labels"
    )]
    LabelTooLarge {
        /// The offending label.
        label: u32,
    },

    /// An encoder failed; this does not happen for valid input and indicates a bug.
    #[error("{format} encoding failed: {detail}; this is a bug, please report it")]
    Encode {
        /// "PNG" or "TIFF".
        format: &'static str,
        /// The encoder's message.
        detail: String,
    },
}
