//! TIFF pages → [`Raster`]s, with the `tiff` crate.
//!
//! Supported: every page (multi-page → several rasters), strips or tiles, uncompressed, LZW,
//! Deflate, PackBits or JPEG; 8/16/32/64-bit unsigned or signed integer and 16/32/64-bit float
//! samples; gray (BlackIsZero or WhiteIsZero, optional alpha) or RGB(A) interleaved, reduced to
//! Rec. 709 luminance. Each page's pixel count is checked from its header before any pixel
//! buffer is allocated, and the `tiff` crate's own buffer limits are set from the same limit.

use std::io::{self, Cursor};

use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::Tag;
use tiff::{TiffError, TiffFormatError};

use crate::decode::{MAX_BYTES_PER_PIXEL, check_pixels};
use crate::raster::to_luma;
use crate::{DecodeLimits, ImagingError, Raster};

const FORMAT: &str = "TIFF";
const DEPTH_HINT: &str = "convert to 8/16/32-bit integer or 32/64-bit float samples";

/// Decodes every page of a TIFF (see the module docs).
pub(crate) fn decode_tiff(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<Vec<Raster>, ImagingError> {
    let decoder = Decoder::new(Cursor::new(bytes)).map_err(|e| map_tiff_error(e, 0))?;
    let mut decoder = decoder.with_limits(tiff_limits(limits));
    let mut pages = Vec::new();
    let mut index = 0usize;
    loop {
        if !(index > 0 && is_thumbnail(&mut decoder)) {
            if pages.len() >= limits.max_pages {
                return Err(ImagingError::TooManyPages {
                    limit: limits.max_pages,
                });
            }
            pages.push(read_page(&mut decoder, bytes.len(), limits, index)?);
        }
        if !decoder.more_images() {
            break;
        }
        index += 1;
        decoder.next_image().map_err(|e| map_tiff_error(e, index))?;
    }
    Ok(pages)
}

/// The `tiff` crate's limits for one page of at most `limits.max_pixels` pixels.
pub(crate) fn tiff_limits(limits: &DecodeLimits) -> Limits {
    let mut l = Limits::default();
    l.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL))
        .unwrap_or(usize::MAX);
    l
}

fn is_thumbnail(d: &mut Decoder<Cursor<&[u8]>>) -> bool {
    matches!(d.find_tag_unsigned::<u32>(Tag::NewSubfileType), Ok(Some(t)) if t & 1 == 1)
}

/// The sample layout of one page, read from its tags.
struct Layout {
    samples: usize,
    bits: u16,
}

fn read_page(
    d: &mut Decoder<Cursor<&[u8]>>,
    file_len: usize,
    limits: &DecodeLimits,
    page: usize,
) -> Result<Raster, ImagingError> {
    let err = |e| map_tiff_error(e, page);
    let (w, h) = d.dimensions().map_err(err)?;
    check_pixels(FORMAT, u64::from(w), u64::from(h), limits)?;
    let layout = read_layout(d, page)?;

    let compression = d.find_tag_unsigned::<u16>(Tag::Compression).map_err(err)?;
    let raw_len = u64::from(w)
        .saturating_mul(u64::from(h))
        .saturating_mul(layout.samples as u64)
        .saturating_mul(u64::from(layout.bits / 8));
    if compression.unwrap_or(1) == 1 && raw_len > file_len as u64 {
        return Err(ImagingError::Truncated {
            format: FORMAT,
            detail: format!(
                "page {page} is uncompressed {w} × {h} and needs {raw_len} bytes of pixel data, \
                 but the whole file is {file_len} bytes"
            ),
        });
    }

    let data = d.read_image().map_err(err)?;
    let n = layout.samples;
    let pixels = match data {
        DecodingResult::U8(v) => to_luma(&v, n, f32::from),
        DecodingResult::U16(v) => to_luma(&v, n, f32::from),
        DecodingResult::U32(v) => to_luma(&v, n, |x| x as f32),
        DecodingResult::U64(v) => to_luma(&v, n, |x| x as f32),
        DecodingResult::I8(v) => to_luma(&v, n, f32::from),
        DecodingResult::I16(v) => to_luma(&v, n, f32::from),
        DecodingResult::I32(v) => to_luma(&v, n, |x| x as f32),
        DecodingResult::I64(v) => to_luma(&v, n, |x| x as f32),
        DecodingResult::F16(v) => to_luma(&v, n, |x| x.to_f32()),
        DecodingResult::F32(v) => to_luma(&v, n, |x| x),
        DecodingResult::F64(v) => to_luma(&v, n, |x| x as f32),
    };
    let (w, h) = (w as usize, h as usize);
    if pixels.len() != w * h {
        return Err(ImagingError::Corrupt {
            format: FORMAT,
            detail: format!(
                "page {page} decoded to {} pixels instead of {w} × {h}",
                pixels.len()
            ),
        });
    }
    Raster::new(w, h, pixels)
}

fn read_layout(d: &mut Decoder<Cursor<&[u8]>>, page: usize) -> Result<Layout, ImagingError> {
    let err = |e| map_tiff_error(e, page);
    let samples = d
        .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .map_err(err)?
        .unwrap_or(1);
    let bits = d
        .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
        .map_err(err)?
        .unwrap_or_else(|| vec![1]);
    let formats = d
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(err)?
        .unwrap_or_else(|| vec![1]);
    let photometric = d
        .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
        .map_err(err)?;
    let planar = d
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(err)?
        .unwrap_or(1);

    let unsupported = |what: String, hint: &'static str| ImagingError::UnsupportedPixelFormat {
        format: FORMAT,
        what,
        hint,
    };
    let format = formats.first().copied().unwrap_or(1);
    if formats.iter().any(|&f| f != format) {
        return Err(unsupported(
            format!("mixed sample formats {formats:?}"),
            "convert to one sample format for all channels",
        ));
    }
    let kind = match format {
        1 => "unsigned integer",
        2 => "signed integer",
        3 => "float",
        4 => {
            return Err(unsupported(
                "sample format 'void' (undefined data)".into(),
                DEPTH_HINT,
            ));
        }
        5 => {
            return Err(unsupported(
                "sample format 'complex int'".into(),
                DEPTH_HINT,
            ));
        }
        6 => {
            return Err(unsupported(
                "sample format 'complex float'".into(),
                DEPTH_HINT,
            ));
        }
        other => {
            return Err(unsupported(
                format!("sample format {other} (unknown)"),
                DEPTH_HINT,
            ));
        }
    };
    let b = bits.first().copied().unwrap_or(1);
    if bits.iter().any(|&x| x != b) {
        return Err(unsupported(
            format!("mixed bit depths {bits:?}"),
            "convert to one bit depth for all channels",
        ));
    }
    let depth_ok = match format {
        3 => matches!(b, 16 | 32 | 64),
        _ => matches!(b, 8 | 16 | 32 | 64),
    };
    if !depth_ok {
        return Err(unsupported(
            format!("{b}-bit {kind} sample depth"),
            DEPTH_HINT,
        ));
    }
    let colour_ok = match photometric {
        Some(0 | 1) => matches!(samples, 1 | 2),
        Some(2) => matches!(samples, 3 | 4),
        _ => false,
    };
    if !colour_ok {
        let name = match photometric {
            None => "no PhotometricInterpretation tag".to_string(),
            Some(0 | 1) => format!("grayscale with {samples} samples per pixel"),
            Some(2) => format!("RGB with {samples} samples per pixel"),
            Some(3) => "palette (indexed) colour".to_string(),
            Some(4) => "transparency mask".to_string(),
            Some(5) => "CMYK colour".to_string(),
            Some(6) => "YCbCr colour".to_string(),
            Some(8) => "CIELab colour".to_string(),
            Some(p) => format!("photometric interpretation {p}"),
        };
        return Err(unsupported(name, "convert to grayscale or RGB(A)"));
    }
    if planar == 2 && samples > 1 {
        return Err(unsupported(
            "planar (separate-plane) colour".into(),
            "save with interleaved (chunky) samples",
        ));
    }
    Ok(Layout {
        samples: usize::from(samples),
        bits: b,
    })
}

/// Maps a `tiff` crate error on page `page` to an [`ImagingError`].
pub(crate) fn map_tiff_error(e: TiffError, page: usize) -> ImagingError {
    match e {
        TiffError::FormatError(TiffFormatError::InvalidDimensions(w, h)) if w == 0 || h == 0 => {
            ImagingError::ZeroSize {
                format: FORMAT,
                width: u64::from(w),
                height: u64::from(h),
            }
        }
        TiffError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            ImagingError::Truncated {
                format: FORMAT,
                detail: format!("page {page}: {io}"),
            }
        }
        TiffError::UnsupportedError(u) => ImagingError::UnsupportedPixelFormat {
            format: FORMAT,
            what: format!("feature on page {page} ({u})"),
            hint: "save as an uncompressed, LZW or Deflate grayscale or RGB TIFF",
        },
        TiffError::LimitsExceeded => ImagingError::LimitExceeded {
            format: FORMAT,
            detail: format!("page {page}"),
        },
        other => ImagingError::Corrupt {
            format: FORMAT,
            detail: format!("page {page}: {other}"),
        },
    }
}
