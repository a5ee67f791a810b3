//! [`palette_color`]: a fixed palette of 20 clearly distinct colours.

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
