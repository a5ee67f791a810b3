//! Velox's EDS spectrum streams (`/Data/SpectrumStream/<uuid>`), decoded with `decode.rs`
//! and summed into one spectrum image `[y, x, channel]`.
//!
//! Each stream group holds `Data` (the events, shape `[n, 1]`), `AcquisitionSettings` (JSON
//! with `bincount`, the number of channels, and `StreamEncoding`) and `Metadata` (JSON as for
//! images; `Scan.ScanArea` × `Scan.ScanSize` gives the size of the mapped area). Velox writes
//! one stream per detector group; like RosettaSciIO's default, the streams are summed.
//! `/Data/SpectrumImage/<uuid>/SpectrumImageSettings.endFramePosition` records the frames.

use hdf5_metno::Group;
use serde_json::Value;

use super::super::h5::{self, Kind};
use super::decode;
use super::json::{energy_axis, num_at, scan_area, signal_metadata, spatial_axes};
use super::{FMT, Out, frame_json};
use crate::{DType, FormatError, ReadLimits, Signal, SignalKind};

/// Decodes and sums every spectrum stream of `/Data/SpectrumStream` into one EDS spectrum
/// image. Returns whether one was read.
pub(super) fn read_streams(
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
        let seen = decode::accumulate(values, pixels, channels, c).map_err(|b| {
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
