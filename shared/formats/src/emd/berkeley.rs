//! Berkeley (NCEM) EMD, versions 0.2 to 0.5, as written by HyperSpy, the NCEM tools and
//! simulators such as Prismatic.
//!
//! Layout (the EMD specification at emdatasets.com, RosettaSciIO's `_emd_ncem.py`, and the
//! files in `instrument-files.md` read with h5py):
//! - a data group is any group with the attribute `emd_group_type = 1`; its samples are the
//!   dataset `data` (Prismatic and py4DSTEM name it `realslice`, `diffractionslice`,
//!   `datacube` or `counted_datacube`);
//! - beside it, `dim1` … `dimN` (py4DSTEM: `dim0` … `dimN-1`) hold the coordinates of each
//!   axis, with string attributes `name` and `units`; the calibration is offset = the first
//!   value, scale = the step (HyperSpy writes just `[offset, offset + scale]`). Units are in
//!   EMD's bracket notation, each unit in brackets with its letters joined by `_`
//!   (`[n_m]` is "nm", `[1_/_n_m]` "1/nm", `[]` none);
//! - `dimK` describes axis K−1 of the dataset as libhdf5 stores it, and the files are
//!   written in Fortran order (x first): RosettaSciIO transposes every dataset but
//!   `datacube` and those with `dim0`, and so does this reader, so that images end in
//!   `[.., y, x]`;
//! - the root's `version_major`/`version_minor` attributes give the version, and its
//!   `microscope`, `sample`, `user` and `comments` groups hold free-form attributes.

use std::collections::BTreeMap;

use hdf5_metno::Group;

use super::h5::{self, Kind};
use crate::{Acquisition, Axis, FileFormat, FormatError, Metadata, ReadLimits, Signal, SignalKind};

/// The format's name in messages.
const FMT: &str = "Berkeley EMD";
/// Deepest group searched for data groups.
const MAX_DEPTH: usize = 8;
/// Most groups visited while searching.
const MAX_GROUPS: usize = 20_000;
/// Names of the sample dataset in a data group, preferred first.
const DATA_NAMES: &[&str] = &[
    "data",
    "realslice",
    "diffractionslice",
    "datacube",
    "counted_datacube",
];

/// The paths of the groups with `emd_group_type = 1`, sorted (the search is bounded in depth
/// and in the number of groups visited).
pub(super) fn data_groups(root: &Group) -> Result<Vec<(String, Group)>, FormatError> {
    let mut found = Vec::new();
    let mut queue = vec![(String::new(), root.clone(), 0usize)];
    let mut visited = 0usize;
    while let Some((path, g, depth)) = queue.pop() {
        visited += 1;
        if visited > MAX_GROUPS {
            return Err(FormatError::unsupported(
                FMT,
                format!("file with more than {MAX_GROUPS} groups"),
                "export the signals you need into a smaller file",
            ));
        }
        if h5::attr_f64(&g, "emd_group_type") == Some(1.0) {
            found.push((path.clone(), g.clone()));
        }
        if depth >= MAX_DEPTH {
            continue;
        }
        for (name, kind) in h5::members(&g, FMT)? {
            if kind == Kind::Group {
                if let Some(child) = h5::group(&g, &name, FMT) {
                    queue.push((format!("{path}/{name}"), child, depth + 1));
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Reads every data group of a Berkeley EMD file.
pub(super) fn read(
    root: &Group,
    groups: Vec<(String, Group)>,
    file_name: &str,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let mut signals: Vec<Signal> = Vec::new();
    let mut notes = Vec::new();
    for (path, g) in &groups {
        if let Some(mut s) = read_group(path, g, file_name, limits, &mut notes)? {
            let base = s.name.clone();
            let mut n = 2;
            while signals.iter().any(|o| o.name == s.name) {
                s.name = format!("{base} {n}");
                n += 1;
            }
            signals.push(s);
        }
    }
    if h5::group(root, "4DSTEM_simulation", FMT).is_some() {
        notes.push("written by a simulator (Prismatic), not recorded on an instrument".into());
    }
    if signals.is_empty() {
        return Err(FormatError::unsupported(
            FMT,
            "file without a numeric data group".to_string(),
            if notes.is_empty() {
                "check that its groups with emd_group_type = 1 hold a 'data' dataset".to_string()
            } else {
                notes.join("; ")
            },
        ));
    }
    Ok(Acquisition {
        format: FileFormat::Hdf5,
        signals,
        metadata: metadata(root),
        notes,
    })
}

/// Reads one data group, or notes why it was skipped.
fn read_group(
    path: &str,
    g: &Group,
    file_name: &str,
    limits: &ReadLimits,
    notes: &mut Vec<String>,
) -> Result<Option<Signal>, FormatError> {
    let members = h5::members(g, FMT)?;
    let has = |n: &str| members.iter().any(|(m, k)| m == n && *k == Kind::Dataset);
    let Some(ds_name) = DATA_NAMES.iter().find(|n| has(n)) else {
        notes.push(format!(
            "data group {path} holds no 'data' dataset and was skipped"
        ));
        return Ok(None);
    };
    let Some(ds) = h5::dataset(g, ds_name, FMT) else {
        return Ok(None);
    };
    let Some(dtype) = h5::dtype(&ds) else {
        notes.push(format!(
            "data group {path} holds {} and was skipped",
            h5::type_name(&ds)
        ));
        return Ok(None);
    };
    let shape = ds.shape();
    if shape.is_empty() {
        notes.push(format!("data group {path} holds a scalar and was skipped"));
        return Ok(None);
    }
    let zero_based = has("dim0");
    let transpose = !zero_based && !ds_name.contains("datacube");
    // One axis per stored dimension, in storage order.
    let mut axes: Vec<Axis> = Vec::with_capacity(shape.len());
    for (i, &size) in shape.iter().enumerate() {
        let k = if zero_based { i } else { i + 1 };
        let dim = format!("dim{k}");
        axes.push(if has(&dim) {
            dim_axis(g, &dim, size, path, notes)
        } else {
            Axis::pixels("", size)
        });
    }
    if transpose {
        axes.reverse();
    }
    let kind = kind_of(&axes);
    let unnamed: Vec<bool> = axes.iter().map(|a| a.name.is_empty()).collect();
    super::name_axes(kind, &mut axes, &unnamed);
    let is_image = matches!(kind, SignalKind::Image | SignalKind::ImageStack);
    let what = format!("data group {path}");
    let data = h5::read_checked(&ds, dtype, &shape, is_image, limits, FMT, &what)?;
    let data = if transpose {
        h5::reverse_axes(&data, &shape)
    } else {
        data
    };
    let group_name = path.rsplit('/').next().unwrap_or("");
    let mut metadata = BTreeMap::new();
    metadata.insert("emd_path".into(), format!("{path}/{ds_name}"));
    for key in ["signal_type", "record_by", "signal_origin"] {
        if let Some(v) = h5::attr_string(g, key).filter(|v| !v.is_empty()) {
            metadata.insert(key.into(), v);
        }
    }
    Ok(Some(Signal {
        name: super::signal_name(group_name, file_name),
        kind,
        dtype,
        axes,
        data,
        metadata,
    }))
}

/// The axis described by the coordinate vector `dim` of `g`, for a dimension of `size`.
fn dim_axis(g: &Group, dim: &str, size: usize, path: &str, notes: &mut Vec<String>) -> Axis {
    let Some(ds) = h5::dataset(g, dim, FMT) else {
        return Axis::pixels("", size);
    };
    let name = h5::attr_string(&ds, "name")
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    let unit = h5::attr_string(&ds, "units")
        .map(|u| decode_units(&u))
        .unwrap_or_default();
    let values = h5::small_vector(&ds, 1 << 24).unwrap_or_default();
    let (offset, scale) = match values.as_slice() {
        [] => {
            notes.push(format!(
                "{path}/{dim} holds no numbers: axis left uncalibrated"
            ));
            return Axis::pixels(&name, size);
        }
        [only] => (*only, 1.0),
        [first, .., last] => (*first, (last - first) / (values.len() - 1) as f64),
    };
    if !(offset.is_finite() && scale.is_finite()) {
        return Axis::pixels(&name, size);
    }
    Axis::calibrated(&name, size, scale, offset, &unit)
}

/// EMD's bracket notation to a plain unit: `[n_m]` → "nm", `[1_/_n_m]` → "1/nm",
/// `[n_m] [s]` → "nm * s", `[]` → "". Text without brackets is kept as written.
fn decode_units(s: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        parts.push(after[..close].replace('_', ""));
        rest = &after[close + 1..];
    }
    if parts.is_empty() && !s.contains('[') {
        return s.trim().to_string();
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" * ")
}

/// The kind of signal the axes (outermost first) describe: 2-D is an image, 3-D a stack of
/// images along its outermost axis, anything ending in an energy axis a spectrum (image).
fn kind_of(axes: &[Axis]) -> SignalKind {
    let energy = axes
        .last()
        .is_some_and(|a| matches!(a.unit.as_str(), "eV" | "keV" | "meV"));
    match (axes.len(), energy) {
        (1, true) => SignalKind::Spectrum,
        (2 | 3, true) => SignalKind::SpectrumImage,
        (2, false) => SignalKind::Image,
        (3, false) => SignalKind::ImageStack,
        _ => SignalKind::Other,
    }
}

/// The root's version and the free-form `microscope`, `sample` and `user` attributes.
fn metadata(root: &Group) -> Metadata {
    let mut md = Metadata::default();
    let version = match (
        h5::attr_string(root, "version_major"),
        h5::attr_string(root, "version_minor"),
    ) {
        (Some(a), Some(b)) => Some(format!("{a}.{b}")),
        _ => None,
    };
    if let Some(v) = version {
        md.extra.insert("emd_version".into(), v);
    }
    if let Some(mic) = h5::group(root, "microscope", FMT) {
        md.microscope = h5::attr_string(&mic, "name").filter(|s| !s.trim().is_empty());
        if let Some(v) = h5::attr_string(&mic, "voltage").filter(|s| !s.trim().is_empty()) {
            md.extra.insert("microscope_voltage".into(), v);
        }
    }
    for (group, attr) in [
        ("sample", "material"),
        ("sample", "preparation"),
        ("user", "name"),
        ("user", "institution"),
    ] {
        if let Some(v) = h5::group(root, group, FMT)
            .and_then(|g| h5::attr_string(&g, attr))
            .filter(|s| !s.trim().is_empty())
        {
            md.extra.insert(format!("{group}_{attr}"), v);
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_units_decode() {
        assert_eq!(decode_units("[n_m]"), "nm");
        assert_eq!(decode_units("[1_/_n_m]"), "1/nm");
        assert_eq!(decode_units("[mrad]"), "mrad");
        assert_eq!(decode_units("[]"), "");
        assert_eq!(decode_units("[n_m] [s]"), "nm * s");
        assert_eq!(decode_units("nm"), "nm");
        assert_eq!(decode_units("[broken"), "");
    }

    #[test]
    fn kinds_follow_the_axes() {
        let a = |u: &str| Axis::calibrated("a", 2, 1.0, 0.0, u);
        assert_eq!(kind_of(&[a("nm"), a("nm")]), SignalKind::Image);
        assert_eq!(kind_of(&[a(""), a("nm"), a("nm")]), SignalKind::ImageStack);
        assert_eq!(kind_of(&[a("eV")]), SignalKind::Spectrum);
        assert_eq!(
            kind_of(&[a("nm"), a("nm"), a("keV")]),
            SignalKind::SpectrumImage
        );
        assert_eq!(kind_of(&[a(""), a(""), a(""), a("")]), SignalKind::Other);
    }
}
