//! [`palette_color`]: a fixed palette of 20 clearly distinct colours; colours written as
//! `#rrggbb` ([`color_hex`], [`parse_color_hex`]).

/// The palette: Tableau-10 first (familiar, colour-blind aware), then ten saturated colours
/// chosen to stay distinct from those and from gray.
pub const PALETTE: [[u8; 3]; 20] = [
    [31, 119, 180],  // blue
    [255, 127, 14],  // orange
    [44, 160, 44],   // green
    [214, 39, 40],   // red
    [148, 103, 189], // purple
    [23, 190, 207],  // cyan
    [227, 119, 194], // pink
    [188, 189, 34],  // olive
    [140, 86, 75],   // brown
    [255, 215, 0],   // gold
    [152, 255, 0],   // lime
    [0, 0, 200],     // deep blue
    [255, 0, 255],   // magenta
    [0, 128, 128],   // teal
    [128, 0, 0],     // maroon
    [255, 160, 160], // salmon
    [0, 255, 200],   // aquamarine
    [100, 0, 130],   // indigo
    [255, 255, 120], // light yellow
    [0, 90, 0],      // dark green
];

/// The colour of `label`: `PALETTE[label % 20]`, so labels beyond 19 cycle.
/// ([`crate::NO_LABEL`] is never coloured by the overlay.)
pub fn palette_color(label: u32) -> [u8; 3] {
    PALETTE[label as usize % PALETTE.len()]
}

/// `#rrggbb` of a colour.
pub fn color_hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// The colour written `#rrggbb`; `None` for anything else.
pub fn parse_color_hex(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_written_and_read_as_hex() {
        assert_eq!(color_hex([255, 0, 16]), "#ff0010");
        assert_eq!(parse_color_hex("#ff0080"), Some([255, 0, 128]));
        assert_eq!(parse_color_hex("ff0080"), None);
        assert_eq!(parse_color_hex("#ff00"), None);
        assert_eq!(parse_color_hex("#gg0000"), None);
        assert_eq!(parse_color_hex("#aé0000"), None);
    }
}
