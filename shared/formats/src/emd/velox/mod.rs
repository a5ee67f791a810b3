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
//! - `/Data/SpectrumStream/<uuid>`: EDS spectrum images as event streams (`decode.rs`,
//!   read by `streams.rs`),
//!   one per detector group; the energy scale is the `Dispersion` (eV per channel) and
//!   `OffsetEnergy` (eV) of the `Detectors` entry whose `DetectorName` contains
//!   `BinaryResult.Detector`.
//! - `/Data/SpectrumImage` holds Velox's own pre-binned copy of the spectrum image in an
//!   undocumented layout, and `/Data/EelsSpectrumImage` EELS cubes: both are skipped.
//!
//! `json.rs` takes the calibration and the instrument's metadata from the JSON;
//! `operations.rs` names derived images (DPC, detector segments) from `/Operations`.

mod decode;
mod json;
mod operations;
mod streams;

use hdf5_metno::Group;
use serde_json::Value;

use super::h5::{self, Kind};
use crate::{Acquisition, Axis, FileFormat, FormatError, Metadata, ReadLimits, Signal, SignalKind};
use json::{
    acquisition_metadata, detector_name, energy_axis, exposure_time, num_at, signal_metadata,
    spatial_axes, str_at,
};

/// The format's name in messages.
pub(super) const FMT: &str = "Velox EMD";

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
    let mut out = Out {
        names: operations::names(root),
        ..Out::default()
    };
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
        stream_read = streams::read_streams(s, &data, image_shape, limits, &mut out)?;
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
pub(super) struct Out {
    pub(super) signals: Vec<Signal>,
    pub(super) notes: Vec<String>,
    /// Image uuid → name from `/Operations`.
    names: std::collections::BTreeMap<String, String>,
    /// From the first signal's metadata.
    metadata: Option<Metadata>,
}

impl Out {
    /// Adds `signal`, renaming it "NAME 2", "NAME 3", ... when the name is taken.
    pub(super) fn push(&mut self, mut signal: Signal, json: Option<&Value>) {
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
pub(super) fn frame_json(group: &Group, col: usize) -> Option<Value> {
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
    let name = out
        .names
        .get(uuid)
        .cloned()
        .or_else(|| detector_name(j))
        .unwrap_or_else(|| "image".to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_move_to_the_front() {
        // 2 pixels × 3 frames stored [pixel, frame].
        let d = [0., 1., 2., 10., 11., 12.];
        assert_eq!(frames_first(&d, 2, 3), [0., 10., 1., 11., 2., 12.]);
    }
}
