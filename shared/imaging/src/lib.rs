//! Tessera imaging: decoding, normalising, chipping and painting micrographs.
//!
//! A domain crate: it works on bytes and buffers and does no file or network I/O. The caller
//! reads a file and passes its bytes to [`decode`]; encoders return `Vec<u8>`. Nothing here
//! panics on any input; every failure is an [`ImagingError`] whose message names the problem
//! and the way out.
//!
//! The pipeline it serves: [`decode`] → [`normalize`] → [`ChipGrid`] + [`extract_chips`]
//! (to the embedder) → chip labels (from the graph) → [`paint_labels`] →
//! [`render_overlay`] and [`encode_labels_tiff`].
//!
//! # Layout
//! - `error.rs`: [`ImagingError`], the one error type.
//! - `raster.rs`: [`Raster`] (one grayscale `f32` plane) and [`check_finite`].
//! - `format.rs`: [`sniff`], format detection from magic bytes.
//! - `decode.rs`: [`decode`] and [`DecodeLimits`]; PNG and JPEG through the `image` crate.
//! - `tiff_decode.rs`: TIFF pages through the `tiff` crate.
//! - `normalize.rs`: [`normalize`], percentile clipping to [0, 1].
//! - `grid.rs`: [`ChipGrid`], chip placement and the edge rule.
//! - `chips.rs`: [`extract_chips`] and [`extract_chips_into`] (batches).
//! - `paint.rs`: [`paint_labels`], majority vote of overlapping chips per pixel.
//! - `palette.rs`: [`palette_color`].
//! - `overlay.rs`: [`render_overlay`] (with a [`ScaleBar`]: [`render_overlay_with_scale`]; in
//!   the caller's colours: [`render_overlay_coloured`]) and
//!   [`LegendEntry`]; `text.rs` draws the legend; `scale_bar.rs` picks the bar's length.
//! - `labels_tiff.rs`: [`encode_labels_tiff`] / [`decode_labels_tiff`].
//! - `encode.rs`: small PNG / TIFF encoders for tests and tools.

mod chips;
mod decode;
mod encode;
mod error;
mod format;
mod grid;
mod labels_tiff;
mod normalize;
mod overlay;
mod paint;
mod palette;
mod raster;
mod scale_bar;
mod text;
mod tiff_decode;

pub use chips::{extract_chips, extract_chips_into};
pub use decode::{DecodeLimits, decode};
pub use encode::{
    encode_png_gray8, encode_png_gray16, encode_png_rgb8, encode_png_rgba8, encode_tiff_f32,
};
pub use error::ImagingError;
pub use format::{ImageFormat, sniff};
pub use grid::{ChipGrid, ChipRun, chip_runs};
pub use labels_tiff::{NO_LABEL_U16, decode_labels_tiff, encode_labels_tiff};
pub use normalize::{Normalization, normalize, normalize_in_place, percentiles};
pub use overlay::{
    LegendEntry, render_overlay, render_overlay_coloured, render_overlay_with_scale,
};
pub use paint::{NO_LABEL, paint_labels, paint_labels_weighted};
pub use palette::{PALETTE, color_hex, palette_color, parse_color_hex};
pub use raster::{LUMA_709, Raster, check_finite};
pub use scale_bar::{ScaleBar, readable_length};
