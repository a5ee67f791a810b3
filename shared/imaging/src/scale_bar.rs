//! [`ScaleBar`]: a bar of a round physical length, drawn on the overlay of a calibrated image.

/// A scale bar: its length in pixels and its label ("200 nm").
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleBar {
    /// Length of the bar in image pixels.
    pub length_px: usize,
    /// What the bar measures, e.g. "200 nm" or "5 µm".
    pub label: String,
}

impl ScaleBar {
    /// The bar for an image `width` pixels wide whose pixels are `pixel_nm` nm wide: the
    /// longest round length (1, 2 or 5 × 10ⁿ) that covers at most a fifth of the width.
    /// `None` when the pixel size is not a positive finite number or the image is too narrow
    /// for a bar of at least 8 pixels.
    pub fn for_pixel_size(pixel_nm: f64, width: usize) -> Option<ScaleBar> {
        if !(pixel_nm.is_finite() && pixel_nm > 0.0) || width < 40 {
            return None;
        }
        let target_nm = width as f64 * pixel_nm / 5.0;
        let decade = 10f64.powf(target_nm.log10().floor());
        let nice = [5.0, 2.0, 1.0]
            .iter()
            .map(|m| m * decade)
            .find(|&l| l <= target_nm)?;
        let length_px = (nice / pixel_nm).round() as usize;
        if length_px < 8 {
            return None;
        }
        let (value, unit) = readable_length(nice);
        Some(ScaleBar {
            length_px,
            label: format!("{} {unit}", trim_number(value)),
        })
    }
}

/// A length given in nm, in the unit that keeps it readable: (value, unit) with unit pm, nm,
/// µm or mm.
pub fn readable_length(nm: f64) -> (f64, &'static str) {
    if nm < 1.0 {
        (nm * 1e3, "pm")
    } else if nm < 1e3 {
        (nm, "nm")
    } else if nm < 1e6 {
        (nm / 1e3, "µm")
    } else {
        (nm / 1e6, "mm")
    }
}

/// `200` rather than `200.0`, `0.5` as is; at most 3 significant decimals.
fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_take_a_round_length_of_at_most_a_fifth_of_the_width() {
        // 1024 px of 1 nm: a fifth is 204.8 nm, so 200 nm = 200 px.
        let b = ScaleBar::for_pixel_size(1.0, 1024).unwrap();
        assert_eq!((b.length_px, b.label.as_str()), (200, "200 nm"));
        // 512 px of 0.039 nm: a fifth is 3.99 nm, so 2 nm.
        let b = ScaleBar::for_pixel_size(0.039, 512).unwrap();
        assert_eq!(b.label, "2 nm");
        assert_eq!(b.length_px, 51);
        // 2048 px of 25 nm: a fifth is 10.24 µm, so 10 µm.
        let b = ScaleBar::for_pixel_size(25.0, 2048).unwrap();
        assert_eq!((b.length_px, b.label.as_str()), (400, "10 µm"));
        assert_eq!(ScaleBar::for_pixel_size(0.0, 1024), None);
        assert_eq!(ScaleBar::for_pixel_size(f64::NAN, 1024), None);
        assert_eq!(ScaleBar::for_pixel_size(1.0, 20), None);
    }

    #[test]
    fn lengths_pick_a_readable_unit() {
        assert_eq!(readable_length(0.5).1, "pm");
        assert_eq!(readable_length(500.0), (500.0, "nm"));
        assert_eq!(readable_length(2000.0), (2.0, "µm"));
        assert_eq!(readable_length(3e6), (3.0, "mm"));
    }
}
