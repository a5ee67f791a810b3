//! Small encoders: PNG (RGB8, gray 8/16-bit) from raw samples and float TIFF from a
//! [`Raster`], mostly for tests and tools.

use std::io::Cursor;

use tiff::encoder::{TiffEncoder, colortype};

use crate::{ImagingError, Raster};

fn png_error(e: impl std::fmt::Display) -> ImagingError {
    ImagingError::Encode {
        format: "PNG",
        detail: e.to_string(),
    }
}

fn dims_u32(width: usize, height: usize) -> Result<(u32, u32), ImagingError> {
    match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(ImagingError::InvalidArgument(format!(
            "cannot encode a {width} × {height} image; both sides must be 1..={}",
            u32::MAX
        ))),
    }
}

fn encode_png(
    width: usize,
    height: usize,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = dims_u32(width, height)?;
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(color);
    enc.set_depth(depth);
    enc.set_compression(png::Compression::Fast);
    let mut writer = enc.write_header().map_err(png_error)?;
    writer.write_image_data(data).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

fn check_len(len: usize, width: usize, height: usize, channels: usize) -> Result<(), ImagingError> {
    if Some(len)
        == width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels))
    {
        Ok(())
    } else {
        Err(ImagingError::InvalidArgument(format!(
            "pixel buffer has {len} samples, expected {width} × {height} × {channels}"
        )))
    }
}

/// Encodes interleaved RGB8 pixels (`width × height × 3` bytes, row-major) as PNG.
pub fn encode_png_rgb8(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>, ImagingError> {
    check_len(rgb.len(), width, height, 3)?;
    encode_png(
        width,
        height,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        rgb,
    )
}

/// Encodes interleaved RGBA8 pixels (`width × height × 4` bytes, row-major) as PNG.
pub fn encode_png_rgba8(width: usize, height: usize, rgba: &[u8]) -> Result<Vec<u8>, ImagingError> {
    check_len(rgba.len(), width, height, 4)?;
    encode_png(
        width,
        height,
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        rgba,
    )
}

/// Encodes `width × height` 8-bit gray samples (row-major) as PNG.
pub fn encode_png_gray8(width: usize, height: usize, gray: &[u8]) -> Result<Vec<u8>, ImagingError> {
    check_len(gray.len(), width, height, 1)?;
    encode_png(
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        gray,
    )
}

/// Encodes `width × height` 16-bit gray samples (row-major) as PNG.
pub fn encode_png_gray16(
    width: usize,
    height: usize,
    gray: &[u16],
) -> Result<Vec<u8>, ImagingError> {
    check_len(gray.len(), width, height, 1)?;
    let data: Vec<u8> = gray.iter().flat_map(|v| v.to_be_bytes()).collect();
    encode_png(
        width,
        height,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        &data,
    )
}

/// Encodes a raster losslessly as a single-page 32-bit float grayscale TIFF.
pub fn encode_tiff_f32(r: &Raster) -> Result<Vec<u8>, ImagingError> {
    r.validate()?;
    let (w, h) = dims_u32(r.width, r.height)?;
    let mut out = Cursor::new(Vec::new());
    let tiff_error = |e: tiff::TiffError| ImagingError::Encode {
        format: "TIFF",
        detail: e.to_string(),
    };
    TiffEncoder::new(&mut out)
        .map_err(tiff_error)?
        .write_image::<colortype::Gray32Float>(w, h, &r.pixels)
        .map_err(tiff_error)?;
    Ok(out.into_inner())
}
