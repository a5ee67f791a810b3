//! Label maps as single-page 16-bit grayscale TIFF (Deflate-compressed).
//!
//! Labels `0..=65534` are stored as is; [`NO_LABEL`] (`u32::MAX`) is stored as 65535.

use std::io::Cursor;

use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::compression::DeflateLevel;
use tiff::encoder::{Compression, TiffEncoder, colortype};

use crate::decode::{check_pixels, guard};
use crate::tiff_decode::{map_tiff_error, tiff_limits};
use crate::{DecodeLimits, ImagingError, NO_LABEL};

/// The TIFF value that stands for [`NO_LABEL`].
pub const NO_LABEL_U16: u16 = u16::MAX;

/// Encodes a `width × height` label map (row-major) as a 16-bit grayscale TIFF.
///
/// Errors if the sizes disagree or a label is above 65534 (other than [`NO_LABEL`]).
pub fn encode_labels_tiff(
    labels: &[u32],
    width: usize,
    height: usize,
) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => {
            return Err(ImagingError::InvalidArgument(format!(
                "cannot write a {width} × {height} label map; both sides must be 1..={}",
                u32::MAX
            )));
        }
    };
    if Some(labels.len()) != width.checked_mul(height) {
        return Err(ImagingError::LabelMismatch(format!(
            "label map has {} entries but is declared {width} × {height}",
            labels.len()
        )));
    }
    let data = labels
        .iter()
        .map(|&l| match l {
            NO_LABEL => Ok(NO_LABEL_U16),
            l if l < u32::from(NO_LABEL_U16) => Ok(l as u16),
            label => Err(ImagingError::LabelTooLarge { label }),
        })
        .collect::<Result<Vec<u16>, _>>()?;
    let tiff_error = |e: tiff::TiffError| ImagingError::Encode {
        format: "TIFF",
        detail: e.to_string(),
    };
    let mut out = Cursor::new(Vec::new());
    TiffEncoder::new(&mut out)
        .map_err(tiff_error)?
        .with_compression(Compression::Deflate(DeflateLevel::Fast))
        .write_image::<colortype::Gray16>(w, h, &data)
        .map_err(tiff_error)?;
    Ok(out.into_inner())
}

/// Decodes the first page of a label TIFF written by [`encode_labels_tiff`] (any 16-bit
/// unsigned grayscale TIFF): `(width, height, labels)`, with 65535 meaning "no label".
pub fn decode_labels_tiff(bytes: &[u8]) -> Result<(usize, usize, Vec<u16>), ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    guard("TIFF", || {
        let limits = DecodeLimits::default();
        let decoder = Decoder::new(Cursor::new(bytes)).map_err(|e| map_tiff_error(e, 0))?;
        let mut d = decoder.with_limits(tiff_limits(&limits));
        let (w, h) = d.dimensions().map_err(|e| map_tiff_error(e, 0))?;
        check_pixels("TIFF", u64::from(w), u64::from(h), &limits)?;
        let colour = d.colortype().map_err(|e| map_tiff_error(e, 0))?;
        let not_labels = || ImagingError::UnsupportedPixelFormat {
            format: "TIFF",
            what: format!("label map with colour type {colour:?}"),
            hint: "label maps must be 16-bit unsigned grayscale, as written by encode_labels_tiff",
        };
        if colour != ColorType::Gray(16) {
            return Err(not_labels());
        }
        match d.read_image().map_err(|e| map_tiff_error(e, 0))? {
            DecodingResult::U16(v) if v.len() == w as usize * h as usize => {
                Ok((w as usize, h as usize, v))
            }
            _ => Err(not_labels()),
        }
    })
}
