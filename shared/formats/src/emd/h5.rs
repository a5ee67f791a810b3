//! Safe, bounded access to an opened HDF5 file for the three readers: links followed only
//! when they are hard links inside the file (an external or soft link could make libhdf5
//! open other files), datasets read only when their storage lies inside the file and uses
//! filters built into libhdf5 (no plugin is ever loaded), attributes and JSON text read as
//! strings or numbers whatever their HDF5 type, and samples converted to `f32` after the
//! shape was checked against the limits.

use hdf5_metno::dataset::Layout;
use hdf5_metno::filters::Filter;
use hdf5_metno::types::{
    FixedAscii, FixedUnicode, FloatSize, IntSize, TypeDescriptor as TD, VarLenAscii, VarLenUnicode,
};
use hdf5_metno::{Dataset, Group, LinkType, Location, LocationType};

use crate::{DType, FormatError, ReadLimits};

/// Most links one group may hold before the reader gives up on it.
pub(super) const MAX_MEMBERS: usize = 4096;
/// Longest text (attribute, JSON dataset, Velox metadata column) read, in bytes.
pub(super) const MAX_TEXT: usize = 16 << 20;
/// Largest chunk, in bytes, that a dataset may declare beyond its own size (libhdf5 allocates
/// a whole chunk to read any part of it).
const MAX_CHUNK_BYTES: u64 = 64 << 20;

/// A member of a group reached through a hard link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A group.
    Group,
    /// A dataset.
    Dataset,
}

/// The hard-linked members of `group` (groups and datasets), in the file's name order.
/// Soft and external links are left out.
pub(super) fn members(
    group: &Group,
    format: &'static str,
) -> Result<Vec<(String, Kind)>, FormatError> {
    let mut names = Vec::new();
    let mut too_many = false;
    let visited = group.iter_visit_default(|name, info| {
        if info.link_type == LinkType::Hard {
            if names.len() >= MAX_MEMBERS {
                too_many = true;
                return Err("too many members".into());
            }
            names.push(name.to_string());
        }
        Ok(())
    });
    if too_many {
        return Err(FormatError::unsupported(
            format,
            format!(
                "group '{}' with more than {MAX_MEMBERS} members",
                group.name()
            ),
            "split the file, or export the signals you need",
        ));
    }
    visited.map_err(|e| hdf5_error(format, &format!("listing group '{}'", group.name()), e))?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match group.loc_type_by_name(&name) {
            Ok(LocationType::Group) => out.push((name, Kind::Group)),
            Ok(LocationType::Dataset) => out.push((name, Kind::Dataset)),
            _ => {}
        }
    }
    Ok(out)
}

/// The member `name` of `group` if it is a hard link of the given kind.
fn member_is(group: &Group, name: &str, kind: Kind, format: &'static str) -> bool {
    members(group, format)
        .map(|m| m.iter().any(|(n, k)| n == name && *k == kind))
        .unwrap_or(false)
}

/// Opens the sub-group `name` of `group` if it is a hard-linked group.
pub(super) fn group(parent: &Group, name: &str, format: &'static str) -> Option<Group> {
    if member_is(parent, name, Kind::Group, format) {
        parent.group(name).ok()
    } else {
        None
    }
}

/// Opens the dataset `name` of `group` if it is a hard-linked dataset.
pub(super) fn dataset(parent: &Group, name: &str, format: &'static str) -> Option<Dataset> {
    if member_is(parent, name, Kind::Dataset, format) {
        parent.dataset(name).ok()
    } else {
        None
    }
}

/// Opens the group at `path` below `root`, every step a hard link.
pub(super) fn group_at(root: &Group, path: &[&str], format: &'static str) -> Option<Group> {
    let mut g = root.clone();
    for p in path {
        g = group(&g, p, format)?;
    }
    Some(g)
}

/// A short numeric vector (an axis's values) as `f64`, at most `max` values.
pub(super) fn small_vector(ds: &Dataset, max: usize) -> Option<Vec<f64>> {
    if ds.size() > max || dtype(ds).is_none() {
        return None;
    }
    check_storage(ds, "HDF5", "axis values").ok()?;
    ds.read_raw::<f64>().ok()
}

/// A [`FormatError::Corrupt`] for an error libhdf5 reported while doing `what`.
pub(super) fn hdf5_error(format: &'static str, what: &str, e: hdf5_metno::Error) -> FormatError {
    let msg = e.to_string();
    if msg.contains("truncated") || msg.contains("addr overflow") || msg.contains("eof") {
        FormatError::truncated(format, format!("{what}: {msg}"))
    } else {
        FormatError::corrupt(format, format!("{what}: {msg}"))
    }
}

/// The attribute `name` of `loc` as text: strings as stored, numbers and booleans written
/// out. `None` when absent or of another type.
pub(super) fn attr_string(loc: &Location, name: &str) -> Option<String> {
    if !loc.attr_names().ok()?.iter().any(|n| n == name) {
        return None;
    }
    let attr = loc.attr(name).ok()?;
    let td = attr.dtype().ok()?.to_descriptor().ok()?;
    let first = |v: Vec<String>| v.into_iter().next();
    let s = match td {
        TD::VarLenUnicode => first(
            attr.read_raw::<VarLenUnicode>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TD::VarLenAscii => first(
            attr.read_raw::<VarLenAscii>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TD::FixedAscii(_) => first(
            attr.read_raw::<FixedAscii<1024>>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TD::FixedUnicode(_) => first(
            attr.read_raw::<FixedUnicode<1024>>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TD::Integer(_) | TD::Unsigned(_) | TD::Float(_) | TD::Boolean => {
            attr_f64(loc, name).map(|v| format!("{v}"))
        }
        _ => None,
    }?;
    Some(s.trim_end_matches('\0').to_string())
}

/// The attribute `name` of `loc` as a number (integers, floats, booleans as 0/1, numeric
/// text). `None` when absent, not numeric, or not finite.
pub(super) fn attr_f64(loc: &Location, name: &str) -> Option<f64> {
    if !loc.attr_names().ok()?.iter().any(|n| n == name) {
        return None;
    }
    let attr = loc.attr(name).ok()?;
    let td = attr.dtype().ok()?.to_descriptor().ok()?;
    let v = match td {
        TD::Integer(_) => *attr.read_raw::<i64>().ok()?.first()? as f64,
        TD::Unsigned(_) => *attr.read_raw::<u64>().ok()?.first()? as f64,
        TD::Float(_) => *attr.read_raw::<f64>().ok()?.first()?,
        TD::Boolean => f64::from(u8::from(*attr.read_raw::<bool>().ok()?.first()?)),
        TD::VarLenUnicode | TD::VarLenAscii | TD::FixedAscii(_) | TD::FixedUnicode(_) => {
            attr_string(loc, name)?.trim().parse().ok()?
        }
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// The attribute `name` of `loc` as a boolean (HDF5/numpy booleans, integers, "true"/"false").
pub(super) fn attr_bool(loc: &Location, name: &str) -> Option<bool> {
    match attr_string(loc, name)?.trim() {
        "true" | "True" | "TRUE" | "1" => Some(true),
        "false" | "False" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

/// The text held by a one-element string dataset (Velox keeps its JSON documents so).
pub(super) fn string_dataset(ds: &Dataset) -> Option<String> {
    if ds.size() != 1 {
        return None;
    }
    let td = ds.dtype().ok()?.to_descriptor().ok()?;
    let s = match td {
        TD::VarLenUnicode => ds
            .read_raw::<VarLenUnicode>()
            .ok()?
            .first()?
            .as_str()
            .to_string(),
        TD::VarLenAscii => ds
            .read_raw::<VarLenAscii>()
            .ok()?
            .first()?
            .as_str()
            .to_string(),
        _ => return None,
    };
    (s.len() <= MAX_TEXT).then_some(s)
}

/// Column `col` of a 2-D `u8` dataset (Velox's per-frame metadata), up to its first NUL.
pub(super) fn byte_column(ds: &Dataset, col: usize, format: &'static str) -> Option<Vec<u8>> {
    let shape = ds.shape();
    let td = ds.dtype().ok()?.to_descriptor().ok()?;
    if shape.len() != 2 || col >= shape[1] || shape[0] > MAX_TEXT || td != TD::Unsigned(IntSize::U1)
    {
        return None;
    }
    check_storage(ds, format, "metadata").ok()?;
    let mut v = ds.read_slice_1d::<u8, _>((.., col)).ok()?.to_vec();
    if let Some(end) = v.iter().position(|&b| b == 0) {
        v.truncate(end);
    }
    Some(v)
}

/// The sample type of a numeric dataset, `None` for anything else (strings, compounds,
/// enums other than booleans, references).
pub(super) fn dtype(ds: &Dataset) -> Option<DType> {
    let td = ds.dtype().ok()?.to_descriptor().ok()?;
    Some(match td {
        TD::Boolean => DType::Bool,
        TD::Integer(IntSize::U1) => DType::I8,
        TD::Integer(IntSize::U2) => DType::I16,
        TD::Integer(IntSize::U4) => DType::I32,
        TD::Integer(IntSize::U8) => DType::I64,
        TD::Unsigned(IntSize::U1) => DType::U8,
        TD::Unsigned(IntSize::U2) => DType::U16,
        TD::Unsigned(IntSize::U4) => DType::U32,
        TD::Unsigned(IntSize::U8) => DType::U64,
        TD::Float(FloatSize::U2) => DType::F16,
        TD::Float(FloatSize::U4) => DType::F32,
        TD::Float(FloatSize::U8) => DType::F64,
        _ => return None,
    })
}

/// A short description of a dataset's HDF5 type, for messages.
pub(super) fn type_name(ds: &Dataset) -> String {
    match ds.dtype().and_then(|t| t.to_descriptor()) {
        Ok(td) => format!("{td}"),
        Err(_) => "an unreadable type".into(),
    }
}

/// Refuses datasets whose samples lie outside the file (virtual datasets, external raw
/// data), that need a filter plugin, or whose chunks are implausibly large.
pub(super) fn check_storage(
    ds: &Dataset,
    format: &'static str,
    what: &str,
) -> Result<(), FormatError> {
    let dcpl = ds
        .dcpl()
        .map_err(|e| hdf5_error(format, &format!("reading how {what} is stored"), e))?;
    if !matches!(
        dcpl.layout(),
        Layout::Compact | Layout::Contiguous | Layout::Chunked
    ) {
        return Err(FormatError::unsupported(
            format,
            format!("{what} stored as a virtual dataset (its samples live in other files)"),
            "re-save the data into one self-contained file",
        ));
    }
    if !dcpl.external().is_empty() {
        return Err(FormatError::unsupported(
            format,
            format!("{what} with its samples in external files"),
            "re-save the data into one self-contained file",
        ));
    }
    for f in dcpl.filters() {
        if let Filter::User(id, _) = f {
            return Err(FormatError::unsupported(
                format,
                format!(
                    "{what} compressed with HDF5 filter {id} (a plugin such as Blosc, LZF or \
                     bitshuffle)"
                ),
                "re-save it with gzip compression or none (e.g. h5repack -f GZIP=4)",
            ));
        }
    }
    if let Some(chunk) = dcpl.chunk() {
        let elem = ds.dtype().map(|t| t.size() as u64).unwrap_or(1).max(1);
        let chunk_bytes = chunk
            .iter()
            .try_fold(elem, |n, &d| n.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        let data_bytes = ds
            .shape()
            .iter()
            .try_fold(elem, |n, &d| n.checked_mul(d as u64))
            .unwrap_or(u64::MAX);
        if chunk_bytes > MAX_CHUNK_BYTES.max(data_bytes.saturating_mul(2)) {
            return Err(FormatError::corrupt(
                format,
                format!(
                    "{what} declares chunks of {chunk_bytes} bytes for {data_bytes} bytes of data"
                ),
            ));
        }
    }
    Ok(())
}

/// Reads a numeric dataset of `dtype` whose shape was already checked (`count` values) and
/// converts it to `f32`, row-major in the file's order.
pub(super) fn read_f32(
    ds: &Dataset,
    dtype: DType,
    count: usize,
    format: &'static str,
    what: &str,
) -> Result<Vec<f32>, FormatError> {
    check_storage(ds, format, what)?;
    let err = |e| hdf5_error(format, &format!("reading {what}"), e);
    let data: Vec<f32> = match dtype {
        DType::Bool => ds
            .read_raw::<bool>()
            .map_err(err)?
            .into_iter()
            .map(|v| f32::from(u8::from(v)))
            .collect(),
        // libhdf5 converts every integer and float type to single precision itself, in its
        // type-conversion buffer: one pass, and no intermediate array of the stored type
        // (for a 4096² u16 image that is faster than reading u16 and converting here).
        DType::U8
        | DType::I8
        | DType::U16
        | DType::I16
        | DType::U32
        | DType::I32
        | DType::U64
        | DType::I64
        | DType::F16
        | DType::F32
        | DType::F64 => ds.read_raw::<f32>().map_err(err)?,
        DType::Complex64 | DType::Complex128 | DType::Rgb8 => {
            return Err(FormatError::unsupported(
                format,
                format!("{what} of type {}", dtype.name()),
                "export it as real-valued data",
            ));
        }
    };
    if data.len() != count {
        return Err(FormatError::corrupt(
            format,
            format!("{what} held {} values, its shape says {count}", data.len()),
        ));
    }
    Ok(data)
}

/// Checks `shape` against `limits` (see [`crate::check_shape`]), then reads the dataset.
pub(super) fn read_checked(
    ds: &Dataset,
    dtype: DType,
    shape: &[usize],
    is_image: bool,
    limits: &ReadLimits,
    format: &'static str,
    what: &str,
) -> Result<Vec<f32>, FormatError> {
    let count = crate::check_shape(format, what, shape, is_image, limits)?;
    read_f32(ds, dtype, count, format, what)
}

/// Reverses the order of the axes of `data` (row-major over `shape`): the result is
/// row-major over the reversed shape. The sizes must multiply to `data.len()`.
pub(super) fn reverse_axes(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let n = shape.len();
    if n < 2 || data.is_empty() {
        return data.to_vec();
    }
    // Strides of the output (shape reversed), indexed by the input axis they belong to.
    let mut out_stride = vec![1usize; n];
    let mut s = 1usize;
    for k in 0..n {
        // Output axis n-1-k has input axis k; the output's last axis is input axis 0.
        out_stride[k] = s;
        s = s.saturating_mul(shape[k]);
    }
    let mut out = vec![0f32; data.len()];
    let mut idx = vec![0usize; n];
    let mut pos = 0usize;
    for &v in data {
        if let Some(o) = out.get_mut(pos) {
            *o = v;
        }
        // Advance the input multi-index (last axis fastest) and the output position.
        for k in (0..n).rev() {
            idx[k] += 1;
            pos += out_stride[k];
            if idx[k] < shape[k] {
                break;
            }
            pos -= out_stride[k] * shape[k];
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversing_axes_transposes() {
        // 2 × 3 → 3 × 2.
        let d = [0., 1., 2., 3., 4., 5.];
        assert_eq!(reverse_axes(&d, &[2, 3]), [0., 3., 1., 4., 2., 5.]);
        // 2 × 1 × 3: out[c][b][a] = in[a][b][c].
        let r = reverse_axes(&d, &[2, 1, 3]);
        assert_eq!(r, [0., 3., 1., 4., 2., 5.]);
        let d3: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let r3 = reverse_axes(&d3, &[2, 3, 4]);
        // out shape [4, 3, 2]; out[c][b][a] = in[a][b][c] = a*12 + b*4 + c.
        for c in 0..4 {
            for b in 0..3 {
                for a in 0..2 {
                    assert_eq!(r3[c * 6 + b * 2 + a], (a * 12 + b * 4 + c) as f32);
                }
            }
        }
    }
}
