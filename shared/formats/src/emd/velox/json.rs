//! The calibration and the instrument's metadata in Velox's per-frame JSON (numbers are
//! written as JSON strings). The keys used are listed in `mod.rs`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Axis, Metadata};

/// The value at `path` in `j`.
pub(super) fn at<'a>(j: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(j, |v, k| v.get(k))
}

/// The string at `path` (Velox writes numbers as strings too), trimmed, if non-empty.
pub(super) fn str_at<'a>(j: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(j, path)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The finite number at `path`, written as a JSON number or a numeric string.
pub(super) fn num_at(j: &Value, path: &[&str]) -> Option<f64> {
    let v = at(j, path)?;
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// The detector of a signal: `BinaryResult.Detector`, else the name of detector
/// `BinaryResult.DetectorIndex`.
pub(super) fn detector_name(j: &Value) -> Option<String> {
    str_at(j, &["BinaryResult", "Detector"])
        .or_else(|| {
            let i = str_at(j, &["BinaryResult", "DetectorIndex"])?;
            str_at(j, &["Detectors", &format!("Detector-{i}"), "DetectorName"])
        })
        .map(str::to_string)
}

/// The `Detectors` entry of the signal's detector (by `DetectorIndex`).
pub(super) fn detector_entry(j: &Value) -> Option<&Value> {
    let i = str_at(j, &["BinaryResult", "DetectorIndex"])?;
    at(j, &["Detectors", &format!("Detector-{i}")])
}

/// A camera's exposure time, seconds.
pub(super) fn exposure_time(j: &Value) -> Option<f64> {
    detector_entry(j).and_then(|d| num_at(d, &["ExposureTime"]))
}

/// Whether the signal came from a camera rather than a scan.
pub(super) fn is_camera(j: &Value) -> bool {
    str_at(j, &["BinaryResult", "AcquisitionUnit"]) == Some("CameraImage")
        || detector_entry(j).and_then(|d| str_at(d, &["DetectorType"])) == Some("ImagingDetector")
}

/// The y and x axes from `BinaryResult.PixelSize`, `Offset` and `PixelUnitX/Y`.
pub(super) fn spatial_axes(j: &Value, ny: usize, nx: usize) -> (Axis, Axis) {
    let br = |k: &[&str]| {
        let mut p = vec!["BinaryResult"];
        p.extend_from_slice(k);
        num_at(j, &p)
    };
    let unit_x = str_at(j, &["BinaryResult", "PixelUnitX"]).unwrap_or("");
    let unit_y = str_at(j, &["BinaryResult", "PixelUnitY"]).unwrap_or(unit_x);
    let ax = match br(&["PixelSize", "width"]) {
        Some(s) => Axis::calibrated("x", nx, s, br(&["Offset", "x"]).unwrap_or(0.0), unit_x),
        None => Axis::pixels("x", nx),
    };
    let ay = match br(&["PixelSize", "height"]) {
        Some(s) => Axis::calibrated("y", ny, s, br(&["Offset", "y"]).unwrap_or(0.0), unit_y),
        None => Axis::pixels("y", ny),
    };
    (ay, ax)
}

/// The size of the scanned area in pixels: `Scan.ScanArea` (fractions of the frame) times
/// `Scan.ScanSize`, when both are recorded and give a positive whole size.
pub(super) fn scan_area(j: &Value) -> Option<(usize, usize)> {
    let f = |k: &str| num_at(j, &["Scan", "ScanArea", k]);
    let w = num_at(j, &["Scan", "ScanSize", "width"])?;
    let h = num_at(j, &["Scan", "ScanSize", "height"])?;
    let nx = ((f("right")? - f("left")?) * w).round();
    let ny = ((f("bottom")? - f("top")?) * h).round();
    let ok = |v: f64| v >= 1.0 && v <= f64::from(u32::MAX);
    (ok(nx) && ok(ny)).then_some((ny as usize, nx as usize))
}

/// The energy axis of an EDS signal: `Dispersion` (eV per channel) and `OffsetEnergy` (eV)
/// of the `Detectors` entry whose name contains `BinaryResult.Detector`.
pub(super) fn energy_axis(j: &Value, channels: usize) -> Axis {
    let wanted = str_at(j, &["BinaryResult", "Detector"]);
    let entry = at(j, &["Detectors"])
        .and_then(Value::as_object)
        .and_then(|dets| {
            dets.values().find(|d| {
                let name = str_at(d, &["DetectorName"]).unwrap_or("");
                wanted.is_some_and(|w| name.contains(w)) && num_at(d, &["Dispersion"]).is_some()
            })
        });
    match entry.and_then(|d| Some((num_at(d, &["Dispersion"])?, num_at(d, &["OffsetEnergy"])))) {
        Some((scale, offset)) => {
            Axis::calibrated("energy", channels, scale, offset.unwrap_or(0.0), "eV")
        }
        None => Axis::pixels("energy", channels),
    }
}

/// Per-signal metadata worth keeping.
pub(super) fn signal_metadata(j: &Value) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(d) = detector_name(j) {
        m.insert("detector".into(), d);
    }
    if let Some(t) = detector_entry(j).and_then(|d| str_at(d, &["DetectorType"])) {
        m.insert("detector_type".into(), t.to_string());
    }
    if is_camera(j) {
        if let Some(t) = exposure_time(j) {
            m.insert("exposure_time_s".into(), format!("{t}"));
        }
    } else {
        if let Some(t) = num_at(j, &["Scan", "DwellTime"]) {
            m.insert("dwell_time_s".into(), format!("{t}"));
        }
        if let Some(t) = num_at(j, &["Scan", "FrameTime"]) {
            m.insert("frame_time_s".into(), format!("{t}"));
        }
    }
    if let Some(t) = acquired(j) {
        m.insert("acquired".into(), t);
    }
    m
}

/// The acquisition's metadata from one signal's JSON.
pub(super) fn acquisition_metadata(j: &Value) -> Metadata {
    let mut md = Metadata {
        microscope: str_at(j, &["Instrument", "InstrumentModel"])
            .or_else(|| str_at(j, &["Instrument", "InstrumentClass"]))
            .map(str::to_string),
        voltage_kv: num_at(j, &["Optics", "AccelerationVoltage"]).map(|v| v / 1000.0),
        magnification: magnification(j),
        exposure_s: if is_camera(j) {
            exposure_time(j)
        } else {
            num_at(j, &["Scan", "DwellTime"])
        },
        acquired: acquired(j),
        extra: BTreeMap::new(),
    };
    for (key, path) in [
        ("manufacturer", &["Instrument", "Manufacturer"][..]),
        ("instrument_id", &["Instrument", "InstrumentId"][..]),
        (
            "software_version",
            &["Instrument", "ControlSoftwareVersion"][..],
        ),
        ("source", &["Acquisition", "SourceType"][..]),
    ] {
        if let Some(v) = str_at(j, path) {
            md.extra.insert(key.into(), v.to_string());
        }
    }
    if let Some(d) = detector_name(j) {
        md.extra.insert("detector".into(), d);
    }
    if let Some(l) = num_at(j, &["Optics", "CameraLength"]) {
        md.extra.insert("camera_length_m".into(), format!("{l}"));
    }
    md
}

/// The indicated magnification: the TEM's `Optics.NominalMagnification` for camera images,
/// `CustomProperties.StemMagnification` for scans, whichever is recorded and positive.
pub(super) fn magnification(j: &Value) -> Option<f64> {
    let stem = num_at(j, &["CustomProperties", "StemMagnification", "value"]);
    let tem = num_at(j, &["Optics", "NominalMagnification"]);
    let (first, second) = if is_camera(j) {
        (tem, stem)
    } else {
        (stem, tem)
    };
    first.filter(|&m| m > 0.0).or(second.filter(|&m| m > 0.0))
}

/// `Acquisition.AcquisitionStartDatetime.DateTime` (Unix seconds; 0 means unset), else
/// `AcquisitionDatetime`, as ISO 8601 UTC.
pub(super) fn acquired(j: &Value) -> Option<String> {
    ["AcquisitionStartDatetime", "AcquisitionDatetime"]
        .iter()
        .filter_map(|k| num_at(j, &["Acquisition", k, "DateTime"]))
        .find(|&t| t > 0.0 && t < 1e12)
        .map(|t| unix_to_iso(t as i64))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar, UTC).
pub(super) fn unix_to_iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_become_utc_dates() {
        assert_eq!(unix_to_iso(0), "1970-01-01T00:00:00Z");
        // fei_emd_image.emd's AcquisitionStartDatetime; RosettaSciIO's test gives 09:56:41 in
        // British time, which in March is UTC.
        assert_eq!(unix_to_iso(1_488_794_201), "2017-03-06T09:56:41Z");
        assert_eq!(unix_to_iso(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn calibration_and_metadata_come_from_the_json() {
        let j: Value = serde_json::from_str(
            r#"{"BinaryResult": {"Detector": "HAADF", "DetectorIndex": "1",
                 "PixelSize": {"width": "2e-9", "height": "3e-9"},
                 "Offset": {"x": "-1e-8", "y": "0"}, "PixelUnitX": "m", "PixelUnitY": "m"},
                "Detectors": {
                    "Detector-1": {"DetectorName": "HAADF", "DetectorType": "ScanningDetector"},
                    "Detector-2": {"DetectorName": "SuperXG21", "Dispersion": "5",
                                   "OffsetEnergy": "-500"}},
                "Instrument": {"InstrumentClass": "Talos"},
                "Optics": {"AccelerationVoltage": "200000"},
                "Scan": {"DwellTime": "1e-6", "ScanSize": {"width": "512", "height": "512"},
                         "ScanArea": {"left": "0.25", "right": "0.5", "top": "0",
                                      "bottom": "0.125"}},
                "CustomProperties": {"StemMagnification": {"type": "double", "value": "40000"}},
                "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "0"},
                                "AcquisitionDatetime": {"DateTime": "86400"}}}"#,
        )
        .unwrap();
        let (ay, ax) = spatial_axes(&j, 4, 5);
        assert_eq!((ax.scale, ax.offset, ax.unit.as_str()), (2e-9, -1e-8, "m"));
        assert_eq!((ay.scale, ay.size), (3e-9, 4));
        assert_eq!(scan_area(&j), Some((64, 128)));
        let md = acquisition_metadata(&j);
        assert_eq!(md.microscope.as_deref(), Some("Talos"));
        assert_eq!(md.voltage_kv, Some(200.0));
        assert_eq!(md.magnification, Some(40000.0));
        assert_eq!(md.exposure_s, Some(1e-6));
        assert_eq!(md.acquired.as_deref(), Some("1970-01-02T00:00:00Z"));
        // The energy axis of "SuperXG2" comes from the detector whose name contains it.
        let mut k = j.clone();
        k["BinaryResult"]["Detector"] = Value::from("SuperXG2");
        let e = energy_axis(&k, 10);
        assert_eq!((e.scale, e.offset, e.unit.as_str()), (5.0, -500.0, "eV"));
        assert_eq!(energy_axis(&Value::Null, 10).unit, "");
    }
}
