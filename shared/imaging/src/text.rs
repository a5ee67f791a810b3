//! Drawing text and boxes into an RGB8 buffer with the public-domain font8x8 glyphs.

use font8x8::{BASIC_FONTS, GREEK_FONTS, LATIN_FONTS, UnicodeFonts};

/// An RGB8 image being drawn on.
pub(crate) struct Canvas {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) rgb: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `colour`.
    pub(crate) fn new(width: usize, height: usize, colour: [u8; 3]) -> Canvas {
        let rgb = colour.repeat(width * height);
        Canvas { width, height, rgb }
    }

    /// Fills the rectangle `[x, x + w) × [y, y + h)`, clipped to the canvas.
    pub(crate) fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: [u8; 3]) {
        let x_end = (x + w).min(self.width);
        for yy in y..(y + h).min(self.height) {
            for xx in x..x_end {
                let i = (yy * self.width + xx) * 3;
                self.rgb[i..i + 3].copy_from_slice(&colour);
            }
        }
    }

    /// Draws `text` with its top-left at `(x, y)`, each font pixel `scale × scale`.
    /// Characters without a glyph are drawn as `?`.
    pub(crate) fn draw_text(
        &mut self,
        x: usize,
        y: usize,
        scale: usize,
        text: &str,
        colour: [u8; 3],
    ) {
        for (i, c) in text.chars().enumerate() {
            let rows = glyph(c);
            let gx = x + i * 8 * scale;
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..8 {
                    if bits & (1 << rx) != 0 {
                        self.fill_rect(gx + rx * scale, y + ry * scale, scale, scale, colour);
                    }
                }
            }
        }
    }
}

/// The 8 × 8 bitmap of `c` (row by row, bit 0 leftmost).
fn glyph(c: char) -> [u8; 8] {
    BASIC_FONTS
        .get(c)
        .or_else(|| LATIN_FONTS.get(c))
        .or_else(|| GREEK_FONTS.get(c))
        .or_else(|| BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}
