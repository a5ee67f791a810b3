//! The pixel size and instrument settings that microscopes write into TIFF files:
//! FEI/Thermo Fisher's INI-style text tag (`[Scan] PixelWidth`, in metres), Zeiss SmartSEM's
//! `CZ_SEM` tag (`AP_PIXEL_SIZE`), ImageJ's `unit=` with the resolution tags, and the plain
//! resolution tags in centimetres or inches where they describe a micrograph.

use std::collections::BTreeMap;
use std::io::Cursor;

use tiff::decoder::Decoder;
use tiff::decoder::ifd::Value;
use tiff::tags::Tag;

use crate::Metadata;
use crate::units::length_in_nm;

/// FEI/Thermo Fisher SEM/FIB metadata (INI text), in two tag numbers used over the years.
const FEI_SFEG: u16 = 34680;
const FEI_HELIOS: u16 = 34682;
/// Zeiss SmartSEM metadata.
const CZ_SEM: u16 = 34118;
/// Resolution tags are trusted only where they give pixels smaller than this (10 µm): print
/// resolutions (72–1200 dpi) give 21–353 µm and say nothing about the sample.
const MAX_RESOLUTION_PIXEL_NM: f64 = 10_000.0;

/// What the TIFF tags say about the sample's scale and the instrument.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TiffCalibration {
    /// Pixel width and height in nm, and where they came from.
    pub pixel_nm: Option<(f64, f64, &'static str)>,
    /// Instrument settings found on the way.
    pub metadata: Metadata,
}

/// Reads the calibration of the first page. Never fails: a file without (or with unreadable)
/// calibration tags is simply uncalibrated.
pub(crate) fn read(bytes: &[u8]) -> TiffCalibration {
    let Ok(mut d) = Decoder::new(Cursor::new(bytes)) else {
        return TiffCalibration::default();
    };
    let mut cal = TiffCalibration::default();
    for tag in [FEI_HELIOS, FEI_SFEG] {
        if let Some(text) = text_tag(&mut d, tag) {
            fei(&text, &mut cal);
            if cal.pixel_nm.is_some() {
                return cal;
            }
        }
    }
    if let Some(text) = text_tag(&mut d, CZ_SEM) {
        zeiss(&text, &mut cal);
        if cal.pixel_nm.is_some() {
            return cal;
        }
    }
    let description = text_tag(&mut d, Tag::ImageDescription.to_u16());
    let res = |d: &mut Decoder<Cursor<&[u8]>>, t| match d.find_tag(t) {
        Ok(Some(Value::Rational(n, den))) if den != 0 && n != 0 => Some(n as f64 / den as f64),
        Ok(Some(v)) => v.into_f64().ok().filter(|v| *v > 0.0),
        _ => None,
    };
    let (Some(xr), Some(yr)) = (res(&mut d, Tag::XResolution), res(&mut d, Tag::YResolution))
    else {
        return cal;
    };
    let unit_nm = match description.as_deref().and_then(imagej_unit) {
        Some(u) => length_in_nm(&u),
        None => match d.find_tag_unsigned::<u16>(Tag::ResolutionUnit) {
            Ok(Some(3)) => Some(1e7),    // centimetre
            Ok(Some(2)) => Some(2.54e7), // inch
            _ => None,
        },
    };
    if let Some(f) = unit_nm {
        let (x, y) = (f / xr, f / yr);
        if x.is_finite() && y.is_finite() && x < MAX_RESOLUTION_PIXEL_NM {
            cal.pixel_nm = Some((x, y, "TIFF resolution tags"));
        }
    }
    cal
}

/// A tag's text, whether stored as ASCII or as bytes.
fn text_tag(d: &mut Decoder<Cursor<&[u8]>>, tag: u16) -> Option<String> {
    match d.find_tag(Tag::Unknown(tag)).ok()?? {
        Value::Ascii(s) => Some(s),
        Value::List(vals) => {
            let bytes: Vec<u8> = vals
                .into_iter()
                .filter_map(|v| match v {
                    Value::Byte(b) => Some(b),
                    Value::Ascii(s) => s.bytes().next(),
                    _ => None,
                })
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Byte(b) => Some((b as char).to_string()),
        _ => None,
    }
}

/// FEI/Thermo's INI text: `[Scan] PixelWidth=1.2e-09` (metres), `[Beam] HV`, `[System]`.
fn fei(text: &str, cal: &mut TiffCalibration) {
    let ini = parse_ini(text);
    let get = |s: &str, k: &str| ini.get(&(s.to_string(), k.to_string())).cloned();
    let num = |s: &str, k: &str| get(s, k).and_then(|v| v.trim().parse::<f64>().ok());
    if let (Some(w), Some(h)) = (num("Scan", "PixelWidth"), num("Scan", "PixelHeight"))
        && w > 0.0
        && h > 0.0
    {
        cal.pixel_nm = Some((w * 1e9, h * 1e9, "FEI/Thermo [Scan] PixelWidth"));
    }
    let m = &mut cal.metadata;
    m.microscope = get("System", "SystemType").or_else(|| get("System", "Type"));
    m.voltage_kv = num("Beam", "HV")
        .or_else(|| num("EBeam", "HV"))
        .map(|v| v / 1e3);
    m.exposure_s = num("Scan", "Dwelltime").or_else(|| num("EScan", "Dwell"));
    m.acquired = match (get("User", "Date"), get("User", "Time")) {
        (Some(d), Some(t)) => Some(format!("{d} {t}")),
        (d, _) => d,
    };
    if let Some(det) = get("Detectors", "Name") {
        m.extra.insert("detector".into(), det);
    }
    if let Some(hfw) = num("Scan", "HorFieldsize") {
        m.extra
            .insert("horizontal_field_width_m".into(), hfw.to_string());
    }
}

fn parse_ini(text: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(
                (section.clone(), k.trim().to_string()),
                v.trim().to_string(),
            );
        }
    }
    out
}

/// Zeiss SmartSEM's CZ_SEM text: an upper-case key line (`AP_PIXEL_SIZE`) followed by
/// `Pixel Size = 2.233 nm`.
fn zeiss(text: &str, cal: &mut TiffCalibration) {
    let mut entries: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut strings: BTreeMap<String, String> = BTreeMap::new();
    let mut key: Option<String> = None;
    for line in text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        let is_key = line.starts_with(|c: char| c.is_ascii_uppercase())
            && line
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if is_key {
            key = Some(line.to_string());
            continue;
        }
        let Some(k) = key.take() else { continue };
        let Some((_, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        let value = value.trim();
        let mut parts = value.split_whitespace();
        if let (Some(v), Some(u)) = (parts.next(), parts.next())
            && let Ok(n) = v.parse::<f64>()
        {
            entries.insert(k.clone(), (n, u.to_string()));
        }
        strings.insert(k, value.to_string());
    }
    if let Some((v, unit)) = entries.get("AP_PIXEL_SIZE")
        && let Some(f) = length_in_nm(unit)
        && *v > 0.0
    {
        cal.pixel_nm = Some((v * f, v * f, "Zeiss CZ_SEM AP_PIXEL_SIZE"));
    }
    let m = &mut cal.metadata;
    m.voltage_kv = entries.get("AP_ACTUALKV").map(|(v, u)| match u.as_str() {
        "V" => v / 1e3,
        _ => *v,
    });
    m.magnification = entries.get("AP_MAG").map(|(v, u)| match u.as_str() {
        "K" | "k" | "KX" | "kX" => v * 1e3,
        _ => *v,
    });
    m.microscope = strings.get("SV_SERIAL_NUMBER").cloned();
    m.acquired = match (strings.get("AP_DATE"), strings.get("AP_TIME")) {
        (Some(d), Some(t)) => Some(format!("{d} {t}")),
        (d, _) => d.cloned(),
    };
    if let Some(det) = strings.get("DP_DETECTOR_TYPE") {
        m.extra.insert("detector".into(), det.clone());
    }
}

/// ImageJ's `unit=` line in the image description (`unit=micron`, `unit=nm`).
fn imagej_unit(description: &str) -> Option<String> {
    if !description.starts_with("ImageJ=") {
        return None;
    }
    description
        .lines()
        .find_map(|l| l.strip_prefix("unit="))
        .map(|u| u.trim().replace("\\u00B5", "µ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::encoder::{TiffEncoder, colortype::Gray8};

    fn tiff_with(tags: &[(u16, &str)], res: Option<(u32, u16)>) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut enc = TiffEncoder::new(&mut buf).unwrap();
            let mut img = enc.new_image::<Gray8>(4, 2).unwrap();
            for (t, text) in tags {
                img.encoder().write_tag(Tag::Unknown(*t), *text).unwrap();
            }
            if let Some((per_unit, unit)) = res {
                img.resolution(
                    tiff::tags::ResolutionUnit::None,
                    tiff::encoder::Rational { n: per_unit, d: 1 },
                );
                img.resolution_unit(match unit {
                    2 => tiff::tags::ResolutionUnit::Inch,
                    3 => tiff::tags::ResolutionUnit::Centimeter,
                    _ => tiff::tags::ResolutionUnit::None,
                });
            }
            img.write_data(&[0u8; 8]).unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn fei_scan_pixel_width_in_metres() {
        let ini = "[User]\r\nDate=12/01/2020\r\nTime=10:00\r\n[Beam]\r\nHV=5000\r\n\
                   [Scan]\r\nPixelWidth=2.5e-09\r\nPixelHeight=2.5e-09\r\n[System]\r\nSystemType=Helios\r\n";
        let cal = read(&tiff_with(&[(FEI_HELIOS, ini)], None));
        let (x, y, src) = cal.pixel_nm.unwrap();
        assert!((x - 2.5).abs() < 1e-9 && (y - 2.5).abs() < 1e-9, "{x} {y}");
        assert!(src.contains("FEI"));
        assert_eq!(cal.metadata.voltage_kv, Some(5.0));
        assert_eq!(cal.metadata.microscope.as_deref(), Some("Helios"));
    }

    #[test]
    fn zeiss_cz_sem_pixel_size() {
        let text = "\r\nAP_PIXEL_SIZE\r\nPixel Size = 3.5 nm\r\nAP_ACTUALKV\r\nEHT = 15.00 kV\r\n";
        let cal = read(&tiff_with(&[(CZ_SEM, text)], None));
        assert_eq!(cal.pixel_nm, Some((3.5, 3.5, "Zeiss CZ_SEM AP_PIXEL_SIZE")));
        assert_eq!(cal.metadata.voltage_kv, Some(15.0));
    }

    #[test]
    fn resolution_tags_only_when_they_describe_a_micrograph() {
        // 10^6 pixels per cm: 10 nm pixels.
        let cal = read(&tiff_with(&[], Some((1_000_000, 3))));
        let (x, _, _) = cal.pixel_nm.unwrap();
        assert!((x - 10.0).abs() < 1e-9, "{x}");
        // 72 dpi: a print resolution, not a calibration.
        assert_eq!(read(&tiff_with(&[], Some((72, 2)))).pixel_nm, None);
        // ImageJ: pixels per micron.
        let cal = read(&tiff_with(
            &[(270, "ImageJ=1.53\nunit=micron\n")],
            Some((4, 1)),
        ));
        assert_eq!(cal.pixel_nm.map(|p| p.0), Some(250.0));
    }
}
