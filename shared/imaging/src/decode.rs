//! [`decode`]: bytes in, one [`Raster`] per page out.
//!
//! The format is sniffed from the magic bytes ([`crate::sniff`]). PNG and JPEG go through the
//! `image` crate, TIFF through [`crate::tiff_decode`]. Colour is reduced to one plane with
//! Rec. 709 luminance `Y = 0.2126 R + 0.7152 G + 0.0722 B` on the stored (gamma-encoded)
//! values; alpha is ignored. Values are kept raw (0–255 for 8-bit, 0–65535 for 16-bit, …).

use std::io::{self, Cursor};
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::error::ImageError;
use image::{DynamicImage, ImageDecoder};
use serde::{Deserialize, Serialize};

use crate::format::{ImageFormat, sniff};
use crate::raster::to_luma;
use crate::{ImagingError, Raster, check_finite};

/// The most bytes one pixel can take in any decoder buffer (RGBA, 64-bit samples).
pub(crate) const MAX_BYTES_PER_PIXEL: u64 = 32;

/// The most pixels one byte of a real (Huffman-coded) JPEG can stand for. Every 8 × 8 block
/// of every component costs at least one bit of DC code, even in a progressive scan, and a
/// block covers at most 32 × 32 pixels (sampling factors up to 4): 1024 pixels per bit. A
/// header that declares more is a truncated or crafted file that would keep the decoder busy
/// for seconds filling in pixels that are not there (found by the `decode_image` fuzz target:
/// 752 bytes declaring 65286 × 1023 pixels).
pub(crate) const MAX_JPEG_PIXELS_PER_BYTE: u64 = 8 * 1024;

/// Resource limits for [`decode`], checked against the headers before pixel memory is allocated.
///
/// Deserialises from a config section; missing fields take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeLimits {
    /// Most pixels (width × height) allowed per page. Default 256 Mi (268 435 456).
    pub max_pixels: u64,
    /// Most pages allowed in a multi-page TIFF. Default 1024.
    pub max_pages: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_pixels: 256 * 1024 * 1024,
            max_pages: 1024,
        }
    }
}

/// Decodes PNG, JPEG or TIFF bytes into grayscale rasters, one per page (TIFF may have several;
/// reduced-resolution TIFF pages, i.e. thumbnails, after the first are skipped).
///
/// Every page's size is checked against `limits` from the header before its pixels are
/// allocated, and every page is checked with [`check_finite`]. Never panics: damaged,
/// truncated or unsupported input gives an [`ImagingError`] that says what to do.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Vec<Raster>, ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    let format = sniff(bytes).map_err(|found| ImagingError::UnsupportedFormat { found })?;
    let rasters = guard(format.name(), || match format {
        ImageFormat::Png | ImageFormat::Jpeg => Ok(vec![decode_with_image(bytes, format, limits)?]),
        ImageFormat::Tiff => crate::tiff_decode::decode_tiff(bytes, limits),
    })?;
    for r in &rasters {
        check_finite(r)?;
    }
    Ok(rasters)
}

/// Runs a third-party decoder, turning a panic inside it (a bug there) into an error.
pub(crate) fn guard<T>(
    format: &'static str,
    f: impl FnOnce() -> Result<T, ImagingError>,
) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(ImagingError::Corrupt {
            format,
            detail: "the decoder failed on malformed data".to_string(),
        })
    })
}

/// Refuses a page with zero size or more than `limits.max_pixels` pixels.
pub(crate) fn check_pixels(
    format: &'static str,
    width: u64,
    height: u64,
    limits: &DecodeLimits,
) -> Result<(), ImagingError> {
    if width == 0 || height == 0 {
        return Err(ImagingError::ZeroSize {
            format,
            width,
            height,
        });
    }
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels {
        return Err(ImagingError::TooManyPixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

fn decode_with_image(
    bytes: &[u8],
    format: ImageFormat,
    limits: &DecodeLimits,
) -> Result<Raster, ImagingError> {
    let name = format.name();
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL));
    let err = |e| map_image_error(e, name);
    let image = match format {
        ImageFormat::Png => {
            check_png_header(bytes, limits)?;
            let d = PngDecoder::with_limits(Cursor::new(bytes), image_limits).map_err(err)?;
            from_decoder(d, name, limits)?
        }
        _ => {
            check_jpeg_complete(bytes)?;
            let mut d = JpegDecoder::new(Cursor::new(bytes)).map_err(err)?;
            d.set_limits(image_limits).map_err(err)?;
            check_jpeg_density(d.dimensions(), bytes.len())?;
            from_decoder(d, name, limits)?
        }
    };
    raster_from_dynamic(image, name)
}

/// Checks the PNG's size from its IHDR chunk (bytes 16..24) before the decoder reads further.
fn check_png_header(bytes: &[u8], limits: &DecodeLimits) -> Result<(), ImagingError> {
    if let Some(ihdr) = bytes.get(12..24).filter(|h| &h[..4] == b"IHDR") {
        let w = u32::from_be_bytes([ihdr[4], ihdr[5], ihdr[6], ihdr[7]]);
        let h = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
        check_pixels("PNG", u64::from(w), u64::from(h), limits)?;
    }
    Ok(())
}

/// Refuses a JPEG whose last scan has no end-of-image marker after it. The JPEG decoder is
/// lenient and would fill a cut-off scan with gray; a truncated micrograph must be an error.
/// (`FF D9` cannot occur inside entropy-coded data, and an EXIF thumbnail's markers come
/// before the main image's last scan.)
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), ImagingError> {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let complete = match last_scan {
        Some(sos) => bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true, // no scan at all: let the decoder report what is missing
    };
    if complete {
        Ok(())
    } else {
        Err(ImagingError::Truncated {
            format: "JPEG",
            detail: "the image data ends without an end-of-image marker".into(),
        })
    }
}

/// Refuses a JPEG that declares more pixels than its bytes can encode
/// ([`MAX_JPEG_PIXELS_PER_BYTE`]).
fn check_jpeg_density((w, h): (u32, u32), bytes: usize) -> Result<(), ImagingError> {
    let pixels = u64::from(w) * u64::from(h);
    let bytes = bytes as u64;
    if pixels > bytes.saturating_mul(MAX_JPEG_PIXELS_PER_BYTE) {
        return Err(ImagingError::Implausible {
            format: "JPEG",
            detail: format!(
                "its header declares {w} × {h} = {pixels} pixels, but the file holds only \
                 {bytes} bytes, fewer than any real JPEG of that size needs (one byte per \
                 {MAX_JPEG_PIXELS_PER_BYTE} pixels at least)"
            ),
        });
    }
    Ok(())
}

fn from_decoder(
    d: impl ImageDecoder,
    name: &'static str,
    limits: &DecodeLimits,
) -> Result<DynamicImage, ImagingError> {
    let (w, h) = d.dimensions();
    check_pixels(name, u64::from(w), u64::from(h), limits)?;
    DynamicImage::from_decoder(d).map_err(|e| map_image_error(e, name))
}

fn raster_from_dynamic(image: DynamicImage, name: &'static str) -> Result<Raster, ImagingError> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let f8 = |v: u8| f32::from(v);
    let f16 = |v: u16| f32::from(v);
    let f32_ = |v: f32| v;
    let pixels = match &image {
        DynamicImage::ImageLuma8(b) => to_luma(b.as_raw(), 1, f8),
        DynamicImage::ImageLumaA8(b) => to_luma(b.as_raw(), 2, f8),
        DynamicImage::ImageRgb8(b) => to_luma(b.as_raw(), 3, f8),
        DynamicImage::ImageRgba8(b) => to_luma(b.as_raw(), 4, f8),
        DynamicImage::ImageLuma16(b) => to_luma(b.as_raw(), 1, f16),
        DynamicImage::ImageLumaA16(b) => to_luma(b.as_raw(), 2, f16),
        DynamicImage::ImageRgb16(b) => to_luma(b.as_raw(), 3, f16),
        DynamicImage::ImageRgba16(b) => to_luma(b.as_raw(), 4, f16),
        DynamicImage::ImageRgb32F(b) => to_luma(b.as_raw(), 3, f32_),
        DynamicImage::ImageRgba32F(b) => to_luma(b.as_raw(), 4, f32_),
        other => {
            return Err(ImagingError::UnsupportedPixelFormat {
                format: name,
                what: format!("colour type {:?}", other.color()),
                hint: "convert to 8/16-bit grayscale or RGB",
            });
        }
    };
    Raster::new(w, h, pixels)
}

fn map_image_error(e: ImageError, format: &'static str) -> ImagingError {
    match e {
        ImageError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            ImagingError::Truncated {
                format,
                detail: io.to_string(),
            }
        }
        ImageError::Limits(l) => ImagingError::LimitExceeded {
            format,
            detail: l.to_string(),
        },
        ImageError::Unsupported(u) => ImagingError::UnsupportedPixelFormat {
            format,
            what: format!("feature ({u})"),
            hint: "convert to an 8/16-bit grayscale or RGB PNG or TIFF",
        },
        other => {
            let detail = other.to_string().trim().to_string();
            let lower = detail.to_ascii_lowercase();
            let truncated = [
                "eof",
                "end of",
                "truncat",
                "not enough bytes",
                "no more bytes",
            ];
            if truncated.iter().any(|t| lower.contains(t)) {
                ImagingError::Truncated { format, detail }
            } else {
                ImagingError::Corrupt { format, detail }
            }
        }
    }
}
