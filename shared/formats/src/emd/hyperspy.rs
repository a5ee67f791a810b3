//! HyperSpy's own HDF5 files (`.hspy`, `.hdf5`).
//!
//! Layout (RosettaSciIO's `_hierarchical.py`, and atomap's files in `instrument-files.md`
//! read with h5py): the root has the attributes `file_format = "HyperSpy"` and
//! `file_format_version`; each signal is a group `/Experiments/<title>` holding the samples
//! in `data`, one group `axis-<i>` per dimension `i` of `data` (in storage order) with the
//! attributes `size`, `scale`, `offset`, `units`, `name` and `navigate` (`false` for the
//! signal axes, which HyperSpy stores last), and the tree `metadata` (`General/title`,
//! `General/date` and `time`, `Signal/signal_type`, `Acquisition_instrument/TEM` or `SEM`
//! with `beam_energy` in kV, `magnification`, `microscope`, and detector times). A signal
//! without a title is stored as `__unnamed__`. Files older than HyperSpy 1.x lack `navigate`;
//! their `metadata/Signal/record_by` ("image" or "spectrum") says which axes are the signal.

use std::collections::BTreeMap;

use hdf5_metno::Group;

use super::h5::{self, Kind};
use crate::{Acquisition, Axis, FileFormat, FormatError, Metadata, ReadLimits, Signal, SignalKind};

/// The format's name in messages.
const FMT: &str = "HyperSpy HDF5";

/// Whether the file is HyperSpy's: `file_format = "HyperSpy"` at the root, or an
/// `/Experiments` group whose members hold `data`.
pub(super) fn is_hyperspy(root: &Group) -> bool {
    if h5::attr_string(root, "file_format").is_some_and(|f| f.eq_ignore_ascii_case("hyperspy")) {
        return true;
    }
    h5::group(root, "Experiments", FMT).is_some_and(|ex| {
        h5::members(&ex, FMT).is_ok_and(|m| {
            m.iter().any(|(name, kind)| {
                *kind == Kind::Group
                    && h5::group(&ex, name, FMT)
                        .is_some_and(|g| h5::dataset(&g, "data", FMT).is_some())
            })
        })
    })
}

/// Reads every signal under `/Experiments`.
pub(super) fn read(
    root: &Group,
    file_name: &str,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let ex = h5::group(root, "Experiments", FMT)
        .ok_or_else(|| FormatError::corrupt(FMT, "no /Experiments group"))?;
    let mut signals: Vec<Signal> = Vec::new();
    let mut notes = Vec::new();
    let mut metadata: Option<Metadata> = None;
    for (name, kind) in h5::members(&ex, FMT)? {
        if kind != Kind::Group {
            continue;
        }
        let Some(g) = h5::group(&ex, &name, FMT) else {
            continue;
        };
        let Some(mut s) = read_signal(&g, &name, file_name, limits, &mut notes)? else {
            continue;
        };
        let base = s.name.clone();
        let mut n = 2;
        while signals.iter().any(|o| o.name == s.name) {
            s.name = format!("{base} {n}");
            n += 1;
        }
        if metadata.is_none() {
            metadata = Some(acquisition_metadata(&g));
        }
        signals.push(s);
    }
    if signals.is_empty() {
        return Err(FormatError::unsupported(
            FMT,
            "file without a numeric signal under /Experiments".to_string(),
            if notes.is_empty() {
                "check it with HyperSpy".to_string()
            } else {
                notes.join("; ")
            },
        ));
    }
    let mut metadata = metadata.unwrap_or_default();
    if let Some(v) = h5::attr_string(root, "file_format_version") {
        metadata.extra.insert("hyperspy_file_version".into(), v);
    }
    Ok(Acquisition {
        format: FileFormat::Hdf5,
        signals,
        metadata,
        notes,
    })
}

/// Reads `/Experiments/<name>`, or notes why it was skipped.
fn read_signal(
    g: &Group,
    name: &str,
    file_name: &str,
    limits: &ReadLimits,
    notes: &mut Vec<String>,
) -> Result<Option<Signal>, FormatError> {
    let Some(ds) = h5::dataset(g, "data", FMT) else {
        notes.push(format!(
            "/Experiments/{name} holds no 'data' dataset and was skipped"
        ));
        return Ok(None);
    };
    let Some(dtype) = h5::dtype(&ds) else {
        notes.push(format!(
            "/Experiments/{name} holds {} and was skipped",
            h5::type_name(&ds)
        ));
        return Ok(None);
    };
    let shape = ds.shape();
    let mut axes = Vec::with_capacity(shape.len());
    let mut navigate = Vec::with_capacity(shape.len());
    let mut unnamed = Vec::with_capacity(shape.len());
    for (i, &size) in shape.iter().enumerate() {
        let (axis, nav) = read_axis(g, i, size, name, notes)?;
        unnamed.push(axis.name.is_empty());
        axes.push(axis);
        navigate.push(nav);
    }
    let record_by = h5::group_at(g, &["metadata", "Signal"], FMT)
        .and_then(|s| h5::attr_string(&s, "record_by"));
    let kind = kind_of(&navigate, record_by.as_deref());
    super::name_axes(kind, &mut axes, &unnamed);
    let is_image = matches!(kind, SignalKind::Image | SignalKind::ImageStack);
    let what = format!("/Experiments/{name}/data");
    let data = h5::read_checked(&ds, dtype, &shape, is_image, limits, FMT, &what)?;
    let title = h5::group_at(g, &["metadata", "General"], FMT)
        .and_then(|s| h5::attr_string(&s, "title"))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t != "__unnamed__");
    let mut metadata = BTreeMap::new();
    if let Some(sig) = h5::group_at(g, &["metadata", "Signal"], FMT) {
        for key in ["signal_type", "quantity"] {
            if let Some(v) = h5::attr_string(&sig, key).filter(|v| !v.is_empty()) {
                metadata.insert(key.into(), v);
            }
        }
    }
    metadata.insert("hyperspy_path".into(), format!("/Experiments/{name}"));
    Ok(Some(Signal {
        name: title.unwrap_or_else(|| super::signal_name(name, file_name)),
        kind,
        dtype,
        axes,
        data,
        metadata,
    }))
}

/// Axis `i` (size `size`) from `axis-<i>`, and whether it is a navigation axis (`None` when
/// the file does not say).
fn read_axis(
    g: &Group,
    i: usize,
    size: usize,
    signal: &str,
    notes: &mut Vec<String>,
) -> Result<(Axis, Option<bool>), FormatError> {
    let Some(a) = h5::group(g, &format!("axis-{i}"), FMT) else {
        notes.push(format!(
            "/Experiments/{signal} has no axis-{i}: axis {i} left uncalibrated"
        ));
        return Ok((Axis::pixels("", size), None));
    };
    if let Some(stated) = h5::attr_f64(&a, "size") {
        if stated != size as f64 {
            return Err(FormatError::corrupt(
                FMT,
                format!("/Experiments/{signal}/axis-{i} says size {stated}, its data has {size}"),
            ));
        }
    }
    let name = h5::attr_string(&a, "name")
        .map(|n| n.trim().to_string())
        .filter(|n| n != "<undefined>" && n != "_None_")
        .unwrap_or_default();
    let unit = h5::attr_string(&a, "units")
        .map(|u| u.trim().to_string())
        .filter(|u| u != "<undefined>" && u != "_None_")
        .unwrap_or_default();
    let nav = h5::attr_bool(&a, "navigate");
    let uniform = h5::attr_string(&a, "_type").is_none_or(|t| t == "UniformDataAxis");
    let axis = match (uniform, h5::attr_f64(&a, "scale")) {
        (true, Some(scale)) => Axis::calibrated(
            &name,
            size,
            scale,
            h5::attr_f64(&a, "offset").unwrap_or(0.0),
            &unit,
        ),
        (true, None) => Axis::calibrated(&name, size, 1.0, 0.0, &unit),
        (false, _) => {
            notes.push(format!(
                "/Experiments/{signal}/axis-{i} is non-uniform: left uncalibrated"
            ));
            Axis::pixels(&name, size)
        }
    };
    Ok((axis, nav))
}

/// The kind of signal: signal axes are those with `navigate = false`, which HyperSpy stores
/// last; without `navigate`, `record_by` says how many trailing axes they are.
fn kind_of(navigate: &[Option<bool>], record_by: Option<&str>) -> SignalKind {
    let n = navigate.len();
    let signal_dims = if navigate.iter().all(Option::is_some) {
        let sig = navigate.iter().filter(|v| **v == Some(false)).count();
        // The signal axes must be the trailing ones.
        if navigate[n - sig..].iter().any(|v| *v != Some(false)) {
            return SignalKind::Other;
        }
        sig
    } else {
        match record_by {
            Some("image") => 2,
            Some("spectrum") => 1,
            _ if n == 2 => 2,
            _ => return SignalKind::Other,
        }
    };
    match (signal_dims, n.saturating_sub(signal_dims)) {
        (2, 0) if n == 2 => SignalKind::Image,
        (2, 1) => SignalKind::ImageStack,
        (1, 0) if n == 1 => SignalKind::Spectrum,
        (1, nav) if nav >= 1 => SignalKind::SpectrumImage,
        _ => SignalKind::Other,
    }
}

/// The acquisition's metadata from a signal's `metadata` tree.
fn acquisition_metadata(g: &Group) -> Metadata {
    let mut md = Metadata::default();
    let general = h5::group_at(g, &["metadata", "General"], FMT);
    if let Some(general) = &general {
        md.acquired = match (
            h5::attr_string(general, "date"),
            h5::attr_string(general, "time"),
        ) {
            (Some(d), Some(t)) => Some(format!("{d}T{t}")),
            (Some(d), None) => Some(d),
            _ => None,
        };
        if let Some(t) = h5::attr_string(general, "original_filename").filter(|t| !t.is_empty()) {
            md.extra.insert("original_filename".into(), t);
        }
    }
    for mode in ["TEM", "SEM"] {
        let Some(ins) = h5::group_at(g, &["metadata", "Acquisition_instrument", mode], FMT) else {
            continue;
        };
        md.microscope = h5::attr_string(&ins, "microscope").filter(|s| !s.is_empty());
        md.voltage_kv = h5::attr_f64(&ins, "beam_energy");
        md.magnification = h5::attr_f64(&ins, "magnification");
        md.exposure_s = h5::attr_f64(&ins, "dwell_time")
            .or_else(|| {
                h5::group_at(&ins, &["Detector", "Camera"], FMT)
                    .and_then(|c| h5::attr_f64(&c, "exposure"))
            })
            .or_else(|| {
                h5::group_at(&ins, &["Camera"], FMT).and_then(|c| h5::attr_f64(&c, "exposure"))
            });
        md.extra.insert("mode".into(), mode.to_string());
        break;
    }
    if let Some(v) = h5::attr_string(g, "package_version") {
        md.extra.insert("hyperspy_version".into(), v);
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_axes_decide_the_kind() {
        let f = Some(false);
        let t = Some(true);
        assert_eq!(kind_of(&[f, f], None), SignalKind::Image);
        assert_eq!(kind_of(&[t, f, f], None), SignalKind::ImageStack);
        assert_eq!(kind_of(&[t, t, f], None), SignalKind::SpectrumImage);
        assert_eq!(kind_of(&[f], None), SignalKind::Spectrum);
        assert_eq!(kind_of(&[f, t], None), SignalKind::Other);
        assert_eq!(
            kind_of(&[None, None, None], Some("spectrum")),
            SignalKind::SpectrumImage
        );
        assert_eq!(kind_of(&[None, None], None), SignalKind::Image);
        assert_eq!(kind_of(&[t, t, f, f], None), SignalKind::Other);
    }
}
