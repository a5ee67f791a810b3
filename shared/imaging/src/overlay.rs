//! [`render_overlay`]: the label map blended over the grayscale image, with a legend, as PNG.
//!
//! Each pixel's gray value (the normalised raster, clamped to [0, 1]) is blended with its
//! label's [`palette_color`] at `alpha`. Pixels on a boundary between two labels (the two
//! pixels either side of every label change, so lines are 2 px wide) are blended at
//! `min(2·alpha, 1)`, so boundaries stand out. [`NO_LABEL`] pixels stay gray. A white legend
//! panel to the right lists one colour swatch and text per [`LegendEntry`]; the font is
//! scaled with the image (`max(width, height) / 512`, 1–8×) so it stays readable.

use rayon::prelude::*;

use crate::encode::encode_png_rgb8;
use crate::text::Canvas;
use crate::{ImagingError, NO_LABEL, Raster, ScaleBar, palette_color};

/// One line of the overlay legend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegendEntry {
    /// The label whose colour the swatch shows ([`NO_LABEL`] shows an empty box).
    pub label: u32,
    /// The text beside it, e.g. `"0  61.2 %  (512 chips)"`; cut at 64 characters.
    pub text: String,
}

const MAX_TEXT_CHARS: usize = 64;
const MAX_CANVAS_PIXELS: usize = 1 << 30;
const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

/// Renders the overlay (see the module docs) and returns PNG bytes (RGB, 8-bit).
///
/// `labels` holds `width × height` pixel labels, row-major, as from [`crate::paint_labels`].
/// `alpha` is the label opacity in [0, 1] (0.4 is a good default).
pub fn render_overlay(
    normalized: &Raster,
    labels: &[u32],
    alpha: f32,
    legend: &[LegendEntry],
) -> Result<Vec<u8>, ImagingError> {
    render_overlay_with_scale(normalized, labels, alpha, legend, None)
}

/// [`render_overlay`], with a scale bar in the image's bottom-left corner when `scale_bar`
/// is given (a calibrated image): a white bar with a black edge and its length above it, on
/// a white panel so it reads on any background.
pub fn render_overlay_with_scale(
    normalized: &Raster,
    labels: &[u32],
    alpha: f32,
    legend: &[LegendEntry],
    scale_bar: Option<&ScaleBar>,
) -> Result<Vec<u8>, ImagingError> {
    render_overlay_coloured(normalized, labels, alpha, legend, scale_bar, None)
}

/// [`render_overlay_with_scale`] with the caller's colours: label `i` is drawn in
/// `colours[i]` (labels past the end, in their [`palette_color`]), the legend's swatches too.
/// For classes whose colours the user chose.
pub fn render_overlay_coloured(
    normalized: &Raster,
    labels: &[u32],
    alpha: f32,
    legend: &[LegendEntry],
    scale_bar: Option<&ScaleBar>,
    colours: Option<&[[u8; 3]]>,
) -> Result<Vec<u8>, ImagingError> {
    let colour_of = |l: u32| {
        colours
            .and_then(|c| c.get(l as usize).copied())
            .unwrap_or_else(|| palette_color(l))
    };
    normalized.validate()?;
    let (w, h) = (normalized.width, normalized.height);
    if w == 0 || h == 0 {
        return Err(ImagingError::InvalidArgument(format!(
            "cannot render an overlay of a {w} × {h} image; it has no pixels"
        )));
    }
    if labels.len() != w * h {
        return Err(ImagingError::LabelMismatch(format!(
            "label map has {} entries but the image is {w} × {h} = {}; \
             paint the labels with the grid of this image",
            labels.len(),
            w * h
        )));
    }
    if !(0.0..=1.0).contains(&alpha) {
        return Err(ImagingError::InvalidArgument(format!(
            "overlay alpha {alpha} is outside [0, 1]; use e.g. 0.4"
        )));
    }

    let scale = (w.max(h) / 512).clamp(1, 8);
    let texts: Vec<String> = legend
        .iter()
        .map(|e| e.text.chars().take(MAX_TEXT_CHARS).collect())
        .collect();
    let (panel_w, panel_h) = if legend.is_empty() {
        (0, 0)
    } else {
        let chars = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        let pad = 8 * scale;
        (
            pad + 12 * scale + chars * 8 * scale + pad,
            pad + legend.len() * 12 * scale + pad,
        )
    };
    let (cw, ch) = (w + panel_w, h.max(panel_h));
    if cw.saturating_mul(ch) > MAX_CANVAS_PIXELS {
        return Err(ImagingError::InvalidArgument(format!(
            "overlay would be {cw} × {ch} pixels, over the limit of {MAX_CANVAS_PIXELS}; \
             use fewer legend entries or a smaller image"
        )));
    }

    let mut canvas = Canvas::new(cw, ch, WHITE);
    blend(&mut canvas, normalized, labels, alpha, &colour_of);
    if !legend.is_empty() {
        let pad = 8 * scale;
        for (i, (entry, text)) in legend.iter().zip(&texts).enumerate() {
            let (x, y) = (w + pad, pad + i * 12 * scale);
            let box_size = 8 * scale;
            canvas.fill_rect(x, y, box_size, box_size, BLACK);
            let fill = if entry.label == NO_LABEL {
                WHITE
            } else {
                colour_of(entry.label)
            };
            let border = scale.max(1).min(box_size / 4).max(1);
            canvas.fill_rect(
                x + border,
                y + border,
                box_size - 2 * border,
                box_size - 2 * border,
                fill,
            );
            canvas.draw_text(x + 12 * scale, y, scale, text, BLACK);
        }
    }
    if let Some(bar) = scale_bar {
        draw_scale_bar(&mut canvas, w, h, scale, bar);
    }
    encode_png_rgb8(canvas.width, canvas.height, &canvas.rgb)
}

/// Draws `bar` in the bottom-left corner of the `w × h` image area, if it fits.
fn draw_scale_bar(canvas: &mut Canvas, w: usize, h: usize, scale: usize, bar: &ScaleBar) {
    let label: String = bar.label.chars().take(MAX_TEXT_CHARS).collect();
    let text_w = label.chars().count() * 8 * scale;
    let pad = 4 * scale;
    let thick = 3 * scale;
    let panel_w = bar.length_px.max(text_w) + 2 * pad;
    let panel_h = pad + 8 * scale + pad + thick + pad;
    let margin = (w.min(h) / 50).max(2);
    if panel_w + 2 * margin > w || panel_h + 2 * margin > h {
        return;
    }
    let (x0, y0) = (margin, h - margin - panel_h);
    canvas.fill_rect(x0, y0, panel_w, panel_h, WHITE);
    canvas.draw_text(x0 + pad, y0 + pad, scale, &label, BLACK);
    canvas.fill_rect(
        x0 + pad,
        y0 + 2 * pad + 8 * scale,
        bar.length_px,
        thick,
        BLACK,
    );
}

/// Writes the blended image into the top-left `w × h` of the canvas, rows spread over
/// rayon's threads.
fn blend(
    canvas: &mut Canvas,
    img: &Raster,
    labels: &[u32],
    alpha: f32,
    colour_of: &(dyn Fn(u32) -> [u8; 3] + Sync),
) {
    let (w, h) = (img.width, img.height);
    let edge_alpha = (2.0 * alpha).min(1.0);
    let stride = canvas.width * 3;
    canvas
        .rgb
        .par_chunks_mut(stride)
        .take(h)
        .enumerate()
        .with_min_len(16)
        .for_each(|(y, canvas_row)| {
            let row = &labels[y * w..(y + 1) * w];
            let above = (y > 0).then(|| &labels[(y - 1) * w..y * w]);
            let below = (y + 1 < h).then(|| &labels[(y + 1) * w..(y + 2) * w]);
            let pixels = &img.pixels[y * w..(y + 1) * w];
            for (x, (&v, out)) in pixels
                .iter()
                .zip(canvas_row.chunks_exact_mut(3))
                .enumerate()
            {
                let g = if v.is_nan() {
                    0.0
                } else {
                    v.clamp(0.0, 1.0) * 255.0
                };
                let l = row[x];
                if l == NO_LABEL {
                    out.fill((g + 0.5) as u8);
                    continue;
                }
                let edge = (x > 0 && row[x - 1] != l)
                    || (x + 1 < w && row[x + 1] != l)
                    || above.is_some_and(|a| a[x] != l)
                    || below.is_some_and(|b| b[x] != l);
                let a = if edge { edge_alpha } else { alpha };
                let colour = colour_of(l);
                for (o, c) in out.iter_mut().zip(colour) {
                    *o = (g * (1.0 - a) + f32::from(c) * a + 0.5) as u8;
                }
            }
        });
}
