//! TIFF, PNG and JPEG: decoded by `tessera_imaging`, with the calibration that instruments
//! write into TIFF tags ([`crate::tiff_calibration`]).

use std::io::Cursor;

use tessera_imaging::decode;

use crate::{Acquisition, Axis, DType, FileFormat, FormatError, ReadLimits, Signal, SignalKind};

/// Reads every page of a TIFF (one image, or a stack), or the one image of a PNG or JPEG.
pub(crate) fn read(
    bytes: &[u8],
    format: FileFormat,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let pages = decode(bytes, limits)?;
    let first = pages.first().ok_or_else(|| {
        FormatError::corrupt(format.name(), "the file holds no image".to_string())
    })?;
    let (w, h) = (first.width, first.height);
    let mut notes = Vec::new();
    let mut kept = Vec::with_capacity(pages.len());
    for (i, p) in pages.into_iter().enumerate() {
        if (p.width, p.height) == (w, h) {
            kept.push(p);
        } else {
            notes.push(format!(
                "page {i} ({} × {}) differs in size from page 0 ({w} × {h}) and was left out",
                p.width, p.height
            ));
        }
    }
    let (cal, dtype) = match format {
        FileFormat::Tiff => (crate::tiff_calibration::read(bytes), tiff_dtype(bytes)),
        FileFormat::Png => (Default::default(), png_dtype(bytes)),
        _ => (Default::default(), DType::U8),
    };
    let (xs, ys, unit) = match cal.pixel_nm {
        Some((x, y, source)) => {
            notes.push(format!("pixel size from {source}"));
            (x, y, "nm")
        }
        None => (1.0, 1.0, ""),
    };
    let mut axes = vec![
        Axis::calibrated("y", h, ys, 0.0, unit),
        Axis::calibrated("x", w, xs, 0.0, unit),
    ];
    if kept.len() > 1 {
        axes.insert(0, Axis::pixels("frame", kept.len()));
    }
    let kind = if kept.len() > 1 {
        SignalKind::ImageStack
    } else {
        SignalKind::Image
    };
    let mut data = Vec::with_capacity(w * h * kept.len());
    for p in kept {
        data.extend_from_slice(&p.pixels);
    }
    let mut metadata = cal.metadata;
    let detector = metadata.extra.remove("detector");
    Ok(Acquisition {
        format,
        signals: vec![Signal {
            name: detector.unwrap_or_else(|| "image".into()),
            kind,
            dtype,
            axes,
            data,
            metadata: Default::default(),
        }],
        metadata,
        notes,
    })
}

/// The sample type of a TIFF's first page, for `tessera info` (u8 when unreadable).
fn tiff_dtype(bytes: &[u8]) -> DType {
    use tiff::ColorType as C;
    let Ok(mut d) = tiff::decoder::Decoder::new(Cursor::new(bytes)) else {
        return DType::U8;
    };
    let float = matches!(
        d.find_tag_unsigned::<u16>(tiff::tags::Tag::SampleFormat),
        Ok(Some(3))
    );
    let signed = matches!(
        d.find_tag_unsigned::<u16>(tiff::tags::Tag::SampleFormat),
        Ok(Some(2))
    );
    match d.colortype() {
        Ok(C::Gray(8)) if signed => DType::I8,
        Ok(C::Gray(16)) if signed => DType::I16,
        Ok(C::Gray(32)) if signed => DType::I32,
        Ok(C::Gray(16)) if float => DType::F16,
        Ok(C::Gray(32)) if float => DType::F32,
        Ok(C::Gray(64)) if float => DType::F64,
        Ok(C::Gray(16)) => DType::U16,
        Ok(C::Gray(32)) => DType::U32,
        Ok(C::Gray(64)) => DType::U64,
        Ok(C::RGB(8) | C::RGBA(8)) => DType::Rgb8,
        _ => DType::U8,
    }
}

/// The sample type of a PNG, from its header.
fn png_dtype(bytes: &[u8]) -> DType {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    match decoder.read_info() {
        Ok(r) => match (r.info().color_type, r.info().bit_depth) {
            (png::ColorType::Rgb | png::ColorType::Rgba, _) => DType::Rgb8,
            (_, png::BitDepth::Sixteen) => DType::U16,
            _ => DType::U8,
        },
        Err(_) => DType::U8,
    }
}
