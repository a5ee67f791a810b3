//! Thermo Fisher (FEI) Velox EMD.
//!
//! Layout, as read from the files in `instrument-files.md` with h5py and from RosettaSciIO's
//! `rsciio/emd/_emd_velox.py` (facts only):
//! - `/Version`: a one-element string dataset holding JSON `{"version": "…", "format":
//!   "Velox"}` ("DevelopersKit" for files written by the Velox SDK).
//! - `/Data/Image/<uuid>/Data`: the image samples, shape `[y, x, frames]` (checked on a
//!   non-square file: a 16 × 20 scan area is stored `(16, 20, 1)`); read as `[frame, y, x]`.
//! - `/Data/Image/<uuid>/Metadata`: `uint8`, shape `[n, frames]`; column `f` holds frame `f`'s
//!   metadata as NUL-terminated JSON. Numbers are JSON strings. `BinaryResult.Detector` names
//!   the detector, `BinaryResult.PixelSize.{width,height}` and `BinaryResult.Offset.{x,y}` are
//!   in `BinaryResult.PixelUnitX`/`PixelUnitY` (metres), `Instrument.InstrumentModel`/
//!   `InstrumentClass` the microscope, `Optics.AccelerationVoltage` volts,
//!   `CustomProperties.StemMagnification.value` (STEM) or `Optics.NominalMagnification`
//!   (TEM) the magnification, `Scan.DwellTime`/`Scan.FrameTime` seconds, the camera's
//!   `Detectors.Detector-<BinaryResult.DetectorIndex>.ExposureTime` seconds, and
//!   `Acquisition.AcquisitionStartDatetime.DateTime` Unix seconds.
//! - `/Data/Spectrum/<uuid>/Data`: single spectra, shape `[channels, n]`.
//! - `/Data/SpectrumStream/<uuid>`: EDS spectrum images as event streams (`stream.rs`),
//!   one per detector group; the energy scale is the `Dispersion` (eV per channel) and
//!   `OffsetEnergy` (eV) of the `Detectors` entry whose `DetectorName` contains
//!   `BinaryResult.Detector`.
//! - `/Data/SpectrumImage` holds Velox's own pre-binned copy of the spectrum image in an
//!   undocumented layout, and `/Data/EelsSpectrumImage` EELS cubes: both are skipped.

use std::collections::BTreeMap;

use hdf5_metno::Group;
use serde_json::Value;

use super::h5::{self, Kind};
use super::stream;
use crate::{
    Acquisition, Axis, DType, FileFormat, FormatError, Metadata, ReadLimits, Signal, SignalKind,
};

/// The format's name in messages.
const FMT: &str = "Velox EMD";

/// Whether the file is a Velox EMD: a `/Version` JSON naming the Velox format, or failing
/// that a `/Data` group with Velox's `Image`, `Spectrum` or `SpectrumStream` groups.
pub(super) fn is_velox(root: &Group) -> bool {
    if let Some(v) = h5::dataset(root, "Version", FMT).and_then(|d| h5::string_dataset(&d)) {
        if let Ok(j) = serde_json::from_str::<Value>(&v) {
            if matches!(str_at(&j, &["format"]), Some("Velox" | "DevelopersKit")) {
                return true;
            }
        }
    }
    h5::group(root, "Data", FMT).is_some_and(|d| {
        ["Image", "Spectrum", "SpectrumStream"]
            .iter()
            .any(|g| h5::group(&d, g, FMT).is_some())
    })
}

/// Reads every image, spectrum and spectrum stream of a Velox file.
pub(super) fn read(root: &Group, limits: &ReadLimits) -> Result<Acquisition, FormatError> {
    let data =
        h5::group(root, "Data", FMT).ok_or_else(|| FormatError::corrupt(FMT, "no /Data group"))?;
    let mut out = Out::default();
    let version = h5::dataset(root, "Version", FMT)
        .and_then(|d| h5::string_dataset(&d))
        .and_then(|v| serde_json::from_str::<Value>(&v).ok())
        .and_then(|j| str_at(&j, &["version"]).map(str::to_string));

    let mut image_shape = None;
    if let Some(images) = h5::group(&data, "Image", FMT) {
        for (uuid, kind) in h5::members(&images, FMT)? {
            if kind == Kind::Group {
                if let Some(g) = h5::group(&images, &uuid, FMT) {
                    read_image(&g, &uuid, limits, &mut out, &mut image_shape)?;
                }
            }
        }
    }
    if let Some(spectra) = h5::group(&data, "Spectrum", FMT) {
        for (uuid, kind) in h5::members(&spectra, FMT)? {
            if kind == Kind::Group {
                if let Some(g) = h5::group(&spectra, &uuid, FMT) {
                    read_spectrum(&g, &uuid, limits, &mut out)?;
                }
            }
        }
    }
    let streams = h5::group(&data, "SpectrumStream", FMT);
    let mut stream_read = false;
    if let Some(s) = &streams {
        stream_read = read_streams(s, &data, image_shape, limits, &mut out)?;
    }
    for (name, kind) in h5::members(&data, FMT)? {
        if kind != Kind::Group {
            continue;
        }
        match name.as_str() {
            "SpectrumImage" if stream_read => out.notes.push(
                "Velox's pre-binned copy of the spectrum image (/Data/SpectrumImage, an \
                 undocumented layout) was not read; the spectrum image comes from the spectrum \
                 stream"
                    .into(),
            ),
            "SpectrumImage" => out.notes.push(
                "the spectrum image is stored only in Velox's pre-binned form (/Data/\
                 SpectrumImage, an undocumented layout, as in pruned files or BCF conversions) \
                 and was skipped; re-export it from Velox with the spectrum stream kept"
                    .into(),
            ),
            "EelsSpectrumImage" => out
                .notes
                .push("EELS spectrum images (/Data/EelsSpectrumImage) are not read yet".into()),
            "Image" | "Spectrum" | "SpectrumStream" | "Text" => {}
            other => out
                .notes
                .push(format!("/Data/{other} is not a kind of data Tessera reads")),
        }
    }

    if out.signals.is_empty() {
        return Err(FormatError::unsupported(
            FMT,
            "file without images, spectra or spectrum streams Tessera can read".to_string(),
            if out.notes.is_empty() {
                "check the file in Velox".to_string()
            } else {
                out.notes.join("; ")
            },
        ));
    }
    let mut metadata = out.metadata.unwrap_or_default();
    if let Some(v) = version {
        metadata.extra.insert("velox_file_version".into(), v);
    }
    Ok(Acquisition {
        format: FileFormat::Hdf5,
        signals: out.signals,
        metadata,
        notes: out.notes,
    })
}

/// What the parts of the reader collect.
#[derive(Default)]
struct Out {
    signals: Vec<Signal>,
    notes: Vec<String>,
    /// From the first signal's metadata.
    metadata: Option<Metadata>,
}

impl Out {
    /// Adds `signal`, renaming it "NAME 2", "NAME 3", ... when the name is taken.
    fn push(&mut self, mut signal: Signal, json: Option<&Value>) {
        let base = signal.name.clone();
        let mut n = 2;
        while self.signals.iter().any(|s| s.name == signal.name) {
            signal.name = format!("{base} {n}");
            n += 1;
        }
        if self.metadata.is_none() {
            if let Some(j) = json {
                self.metadata = Some(acquisition_metadata(j));
            }
        }
        self.signals.push(signal);
    }
}

/// The JSON metadata of frame `col` of a Velox data group, if present and parseable.
fn frame_json(group: &Group, col: usize) -> Option<Value> {
    let ds = h5::dataset(group, "Metadata", FMT)?;
    let bytes = h5::byte_column(&ds, col, FMT)?;
    serde_json::from_slice(&bytes).ok()
}

/// Reads one `/Data/Image/<uuid>` group.
fn read_image(
    g: &Group,
    uuid: &str,
    limits: &ReadLimits,
    out: &mut Out,
    image_shape: &mut Option<(usize, usize)>,
) -> Result<(), FormatError> {
    let Some(ds) = h5::dataset(g, "Data", FMT) else {
        out.notes
            .push(format!("image {uuid} has no Data dataset and was skipped"));
        return Ok(());
    };
    let Some(dtype) = h5::dtype(&ds) else {
        out.notes.push(format!(
            "image {uuid} holds {} (an FFT or DPC result) and was skipped",
            h5::type_name(&ds)
        ));
        return Ok(());
    };
    let (ny, nx, frames) = match ds.shape().as_slice() {
        &[y, x, f] => (y, x, f),
        &[y, x] => (y, x, 1),
        other => {
            return Err(FormatError::corrupt(
                FMT,
                format!("image {uuid} has shape {other:?}, not [y, x, frames]"),
            ));
        }
    };
    let json = frame_json(g, 0);
    if json.is_none() {
        out.notes.push(format!(
            "image {uuid} has no readable metadata: its calibration and detector are unknown"
        ));
    }
    let what = format!("image {uuid}");
    let mut data = h5::read_checked(&ds, dtype, &[frames, ny, nx], true, limits, FMT, &what)?;
    if frames > 1 {
        // [y, x, frame] → [frame, y, x].
        data = frames_first(&data, ny * nx, frames);
    }
    let j = json.as_ref().unwrap_or(&Value::Null);
    let name = detector_name(j).unwrap_or_else(|| "image".to_string());
    let mut axes = Vec::with_capacity(3);
    let kind = if frames > 1 {
        let frame_time = num_at(j, &["Scan", "FrameTime"]).or_else(|| exposure_time(j));
        axes.push(match frame_time {
            Some(t) => Axis::calibrated("frame", frames, t, 0.0, "s"),
            None => Axis::pixels("frame", frames),
        });
        SignalKind::ImageStack
    } else {
        SignalKind::Image
    };
    let (ay, ax) = spatial_axes(j, ny, nx);
    axes.push(ay);
    axes.push(ax);
    if image_shape.is_none() {
        *image_shape = Some((ny, nx));
    }
    let mut metadata = signal_metadata(j);
    metadata.insert("velox_uuid".into(), uuid.to_string());
    out.push(
        Signal {
            name,
            kind,
            dtype,
            axes,
            data,
            metadata,
        },
        json.as_ref(),
    );
    Ok(())
}

/// Reorders `[pixel, frame]` samples into `[frame, pixel]`.
fn frames_first(data: &[f32], pixels: usize, frames: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    for (p, chunk) in data.chunks_exact(frames).enumerate().take(pixels) {
        for (f, &v) in chunk.iter().enumerate() {
            if let Some(o) = out.get_mut(f * pixels + p) {
                *o = v;
            }
        }
    }
    out
}

/// Reads one `/Data/Spectrum/<uuid>` group: `Data` of shape `[channels, n]`.
fn read_spectrum(
    g: &Group,
    uuid: &str,
    limits: &ReadLimits,
    out: &mut Out,
) -> Result<(), FormatError> {
    let Some(ds) = h5::dataset(g, "Data", FMT) else {
        return Ok(());
    };
    let Some(dtype) = h5::dtype(&ds) else {
        out.notes.push(format!(
            "spectrum {uuid} holds {} and was skipped",
            h5::type_name(&ds)
        ));
        return Ok(());
    };
    let (channels, n) = match ds.shape().as_slice() {
        &[c, n] => (c, n),
        &[c] => (c, 1),
        other => {
            return Err(FormatError::corrupt(
                FMT,
                format!("spectrum {uuid} has shape {other:?}, not [channels, n]"),
            ));
        }
    };
    let what = format!("spectrum {uuid}");
    let raw = h5::read_checked(&ds, dtype, &[channels, n], false, limits, FMT, &what)?;
    let json = frame_json(g, 0);
    let j = json.as_ref().unwrap_or(&Value::Null);
    let energy = energy_axis(j, channels);
    let (kind, axes, data) = if n == 1 {
        (SignalKind::Spectrum, vec![energy], raw)
    } else {
        // [channel, n] → [n, channel].
        (
            SignalKind::SpectrumImage,
            vec![Axis::pixels("spectrum", n), energy],
            frames_first(&raw, channels, n),
        )
    };
    let name = match detector_name(j) {
        Some(d) => format!("EDS {d}"),
        None => "EDS".to_string(),
    };
    let mut metadata = signal_metadata(j);
    metadata.insert("velox_uuid".into(), uuid.to_string());
    out.push(
        Signal {
            name,
            kind,
            dtype,
            axes,
            data,
            metadata,
        },
        json.as_ref(),
    );
    Ok(())
}

/// Decodes and sums every spectrum stream of `/Data/SpectrumStream` into one EDS spectrum
/// image. Returns whether one was read.
fn read_streams(
    streams: &Group,
    data: &Group,
    image_shape: Option<(usize, usize)>,
    limits: &ReadLimits,
    out: &mut Out,
) -> Result<bool, FormatError> {
    let mut cube: Option<Vec<f32>> = None;
    let mut first: Option<(Value, usize, usize, usize)> = None; // json, ny, nx, channels
    let mut used = 0usize;
    let mut counts = 0u64;
    let mut frames = 0u64;
    let mut dtype = DType::U16;
    for (uuid, kind) in h5::members(streams, FMT)? {
        let Some(g) = (kind == Kind::Group)
            .then(|| h5::group(streams, &uuid, FMT))
            .flatten()
        else {
            continue;
        };
        let Some(ds) = h5::dataset(&g, "Data", FMT) else {
            continue;
        };
        let settings = h5::dataset(&g, "AcquisitionSettings", FMT)
            .and_then(|d| h5::string_dataset(&d))
            .and_then(|s| serde_json::from_str::<Value>(&s).ok());
        let Some(channels) = settings
            .as_ref()
            .and_then(|s| num_at(s, &["bincount"]))
            .filter(|&c| c >= 1.0 && c <= f64::from(u32::MAX))
            .map(|c| c as usize)
        else {
            out.notes.push(format!(
                "spectrum stream {uuid} has no channel count (AcquisitionSettings.bincount) and \
                 was skipped"
            ));
            continue;
        };
        let json = frame_json(&g, 0).unwrap_or(Value::Null);
        let Some((ny, nx)) = scan_area(&json).or(image_shape) else {
            out.notes.push(format!(
                "spectrum stream {uuid}: the scanned area's size is not recorded and no image \
                 gives it, so the stream was skipped"
            ));
            continue;
        };
        if let Some((_, fy, fx, fc)) = &first {
            if (*fy, *fx, *fc) != (ny, nx, channels) {
                out.notes.push(format!(
                    "spectrum stream {uuid} ({ny} × {nx} × {channels}) does not match the first \
                     stream ({fy} × {fx} × {fc}) and was skipped"
                ));
                continue;
            }
        }
        let what = format!("spectrum stream {uuid}");
        let len = match ds.shape().as_slice() {
            &[n] | &[n, 1] => n,
            other => {
                return Err(FormatError::corrupt(
                    FMT,
                    format!("{what} has shape {other:?}, not [n, 1]"),
                ));
            }
        };
        let values = match h5::dtype(&ds) {
            Some(t @ (DType::U16 | DType::U32)) => {
                dtype = t;
                crate::check_shape(FMT, &what, &[len], false, limits)?;
                h5::check_storage(&ds, FMT, &what)?;
                ds.read_raw::<u32>()
                    .map_err(|e| h5::hdf5_error(FMT, &format!("reading {what}"), e))?
            }
            _ => {
                out.notes.push(format!(
                    "{what} holds {}, not unsigned 16- or 32-bit events, and was skipped",
                    h5::type_name(&ds)
                ));
                continue;
            }
        };
        let pixels = ny.saturating_mul(nx);
        if cube.is_none() {
            let n = crate::check_shape(
                FMT,
                "EDS spectrum image",
                &[ny, nx, channels],
                false,
                limits,
            )?;
            cube = Some(vec![0f32; n]);
        }
        let Some(c) = cube.as_mut() else { continue };
        let seen = stream::accumulate(values, pixels, channels, c).map_err(|b| {
            FormatError::corrupt(
                FMT,
                format!(
                    "{what}: value {} at position {} is neither a pixel marker (65535) nor one \
                     of the {channels} energy channels",
                    b.value, b.at
                ),
            )
        })?;
        counts += seen.counts;
        frames = frames.max(seen.frames(pixels));
        used += 1;
        if first.is_none() {
            first = Some((json, ny, nx, channels));
        }
    }
    let (Some(cube), Some((json, ny, nx, channels))) = (cube, first) else {
        if used == 0 && h5::members(streams, FMT)?.is_empty() {
            out.notes.push(
                "the spectrum stream group is empty (a pruned file): no spectrum image".into(),
            );
        }
        return Ok(false);
    };
    let settings_frames = h5::group(data, "SpectrumImage", FMT).and_then(|si| {
        let (uuid, _) = h5::members(&si, FMT).ok()?.into_iter().next()?;
        let g = h5::group(&si, &uuid, FMT)?;
        let s = h5::string_dataset(&h5::dataset(&g, "SpectrumImageSettings", FMT)?)?;
        num_at(
            &serde_json::from_str::<Value>(&s).ok()?,
            &["endFramePosition"],
        )
    });
    let (ay, ax) = spatial_axes(&json, ny, nx);
    let mut metadata = signal_metadata(&json);
    metadata.insert("streams_summed".into(), used.to_string());
    metadata.insert("frames_summed".into(), frames.to_string());
    metadata.insert("counts".into(), counts.to_string());
    if let Some(f) = settings_frames {
        metadata.insert("frames_recorded".into(), format!("{f}"));
    }
    out.notes.push(format!(
        "EDS spectrum image decoded from {used} spectrum stream(s), summed over {frames} frame(s)"
    ));
    let energy = energy_axis(&json, channels);
    out.push(
        Signal {
            name: "EDS".into(),
            kind: SignalKind::SpectrumImage,
            dtype,
            axes: vec![ay, ax, energy],
            data: cube,
            metadata,
        },
        Some(&json),
    );
    Ok(true)
}

/// The value at `path` in `j`.
fn at<'a>(j: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(j, |v, k| v.get(k))
}

/// The string at `path` (Velox writes numbers as strings too), trimmed, if non-empty.
fn str_at<'a>(j: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(j, path)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The finite number at `path`, written as a JSON number or a numeric string.
fn num_at(j: &Value, path: &[&str]) -> Option<f64> {
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
fn detector_name(j: &Value) -> Option<String> {
    str_at(j, &["BinaryResult", "Detector"])
        .or_else(|| {
            let i = str_at(j, &["BinaryResult", "DetectorIndex"])?;
            str_at(j, &["Detectors", &format!("Detector-{i}"), "DetectorName"])
        })
        .map(str::to_string)
}

/// The `Detectors` entry of the signal's detector (by `DetectorIndex`).
fn detector_entry(j: &Value) -> Option<&Value> {
    let i = str_at(j, &["BinaryResult", "DetectorIndex"])?;
    at(j, &["Detectors", &format!("Detector-{i}")])
}

/// A camera's exposure time, seconds.
fn exposure_time(j: &Value) -> Option<f64> {
    detector_entry(j).and_then(|d| num_at(d, &["ExposureTime"]))
}

/// Whether the signal came from a camera rather than a scan.
fn is_camera(j: &Value) -> bool {
    str_at(j, &["BinaryResult", "AcquisitionUnit"]) == Some("CameraImage")
        || detector_entry(j).and_then(|d| str_at(d, &["DetectorType"])) == Some("ImagingDetector")
}

/// The y and x axes from `BinaryResult.PixelSize`, `Offset` and `PixelUnitX/Y`.
fn spatial_axes(j: &Value, ny: usize, nx: usize) -> (Axis, Axis) {
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
fn scan_area(j: &Value) -> Option<(usize, usize)> {
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
fn energy_axis(j: &Value, channels: usize) -> Axis {
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
fn signal_metadata(j: &Value) -> BTreeMap<String, String> {
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
fn acquisition_metadata(j: &Value) -> Metadata {
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
fn magnification(j: &Value) -> Option<f64> {
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
fn acquired(j: &Value) -> Option<String> {
    ["AcquisitionStartDatetime", "AcquisitionDatetime"]
        .iter()
        .filter_map(|k| num_at(j, &["Acquisition", k, "DateTime"]))
        .find(|&t| t > 0.0 && t < 1e12)
        .map(|t| unix_to_iso(t as i64))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar, UTC).
fn unix_to_iso(secs: i64) -> String {
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
    fn frames_move_to_the_front() {
        // 2 pixels × 3 frames stored [pixel, frame].
        let d = [0., 1., 2., 10., 11., 12.];
        assert_eq!(frames_first(&d, 2, 3), [0., 10., 1., 11., 2., 12.]);
    }

    #[test]
    fn calibration_and_metadata_come_from_the_json() {
        let j: Value = serde_json::from_str(
            r#"{"BinaryResult": {"Detector": "HAADF", "DetectorIndex": "1",
                 "PixelSize": {"width": "2e-9", "height": "3e-9"},
                 "Offset": {"x": "-1e-8", "y": "0"}, "PixelUnitX": "m", "PixelUnitY": "m"},
                "Detectors": {"Detector-1": {"DetectorName": "HAADF", "DetectorType": "ScanningDetector"},
                              "Detector-2": {"DetectorName": "SuperXG21", "Dispersion": "5", "OffsetEnergy": "-500"}},
                "Instrument": {"InstrumentClass": "Talos"},
                "Optics": {"AccelerationVoltage": "200000"},
                "Scan": {"DwellTime": "1e-6", "ScanSize": {"width": "512", "height": "512"},
                         "ScanArea": {"left": "0.25", "right": "0.5", "top": "0", "bottom": "0.125"}},
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
