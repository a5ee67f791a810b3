//! Units as instruments spell them: lengths to nanometres, and areas for people (lengths
//! for people are `tessera_imaging::readable_length`, which the scale bar uses).

/// Nanometres in one `unit`, for the length units instruments write ("nm", "µm", "um",
/// "micron", "Å", "A", "pm", "mm", "m", "cm"); `None` for anything else (reciprocal space,
/// energy, time, pixels, empty).
pub fn length_in_nm(unit: &str) -> Option<f64> {
    let u = unit.trim();
    Some(match u {
        "nm" | "nanometer" | "nanometre" | "nanometers" | "nanometres" => 1.0,
        "µm" | "μm" | "um" | "micron" | "microns" | "micrometer" | "micrometre" => 1e3,
        "Å" | "Å" | "A" | "angstrom" | "Angstrom" | "Angstroms" => 0.1,
        "pm" | "picometer" | "picometre" => 1e-3,
        "mm" | "millimeter" | "millimetre" => 1e6,
        "cm" => 1e7,
        "m" | "meter" | "metre" | "meters" | "metres" => 1e9,
        _ => return None,
    })
}

/// An area given in nm², written in the unit that keeps the number readable: nm² below
/// 10⁶ nm² (1 µm²), µm² up to 10⁶ µm², mm² beyond. Returns (value, unit).
pub fn readable_area(nm2: f64) -> (f64, &'static str) {
    if nm2 < 1e6 {
        (nm2, "nm²")
    } else if nm2 < 1e12 {
        (nm2 / 1e6, "µm²")
    } else {
        (nm2 / 1e12, "mm²")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_convert_to_nanometres() {
        assert_eq!(length_in_nm("nm"), Some(1.0));
        assert_eq!(length_in_nm("µm"), Some(1000.0));
        assert_eq!(length_in_nm("um"), Some(1000.0));
        assert_eq!(length_in_nm("Å"), Some(0.1));
        assert_eq!(length_in_nm("m"), Some(1e9));
        assert_eq!(length_in_nm("1/nm"), None);
        assert_eq!(length_in_nm("keV"), None);
        assert_eq!(length_in_nm(""), None);
    }

    #[test]
    fn areas_pick_a_readable_unit() {
        assert_eq!(readable_area(250.0), (250.0, "nm²"));
        assert_eq!(readable_area(2.5e6), (2.5, "µm²"));
        assert_eq!(readable_area(3e12), (3.0, "mm²"));
    }
}
