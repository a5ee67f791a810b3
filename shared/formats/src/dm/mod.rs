//! Gatan DigitalMicrograph DM3 and DM4: every image of the file's `ImageList` except the
//! thumbnail, with its sample type, calibration and instrument metadata.
//!
//! # Layout facts relied on
//! Gatan does not publish the format. The facts come from Chris Boothroyd's and Greg
//! Jefferis' descriptions of DM3/DM4, and from the public readers RosettaSciIO
//! (`digitalmicrograph/_api.py`), openNCEM (`ncempy/io/dm.py`) and Gwyddion (`dm3file.c`),
//! checked against real files written by GMS 2 and 3:
//! - Header, big-endian: version (u32: 3 or 4), length of the tag tree (u32 in DM3, u64 in
//!   DM4), byte order of tag data (u32: 1 little-endian, 0 big-endian). Then the root group.
//! - Group: sorted (u8), open (u8), number of entries (u32 / u64). Entry: kind (u8: 20 group,
//!   21 data), name length (u16 BE), name; in DM4 the entry's byte size (u64). Data tag:
//!   `%%%%`, the length of its type definition and the definition (u32 / u64 BE values), then
//!   the data in the header's byte order. Types: 2 i16, 3 i32, 4 u16, 5 u32, 6 f32, 7 f64,
//!   8 bool, 9 i8, 10 u8, 11 i64, 12 u64, 15 struct, 18 string, 20 array (`tags.rs` holds the tree, `parse.rs` reads it).
//! - `ImageList` holds one group per image: `Name` (UTF-16 text), `ImageData` with `Data`
//!   (an array of the samples), `DataType` (the sample type, see [`image::dtype`]),
//!   `Dimensions` (fastest axis first: x, y, then frames or the spectrum) and
//!   `Calibrations.Dimension[i]` {`Scale`, `Origin`, `Units`}, where `Origin` is the pixel
//!   index of physical zero, so the physical value of pixel 0 is `-Origin × Scale`
//!   (RosettaSciIO's `offsets`); and `ImageTags` with the instrument metadata (`meta.rs`).
//! - The thumbnail: the root group `Thumbnails` lists `ImageIndex` entries, the `ImageList`
//!   entries that are display thumbnails (an RGB image, `DataType` 23, written first). These
//!   are skipped. A file without `Thumbnails` has its first entry skipped only when it is a
//!   2-D RGB image and other entries follow.
//!
//! Axes are reversed into the model's outermost-first order; spectrum images are reordered
//! to `[y, x, channel]` (see `image.rs` for how the kind is decided). Image data is never
//! copied into the tag tree: the tree keeps its offset, and the samples are converted to
//! `f32` in one pass.

mod image;
mod meta;
mod parse;
mod tags;

use crate::{Acquisition, Companions, FileFormat, FormatError, ReadLimits, Signal, SignalKind};

use tags::{Group, Tree};

/// Reads a DM3 or DM4 file.
pub(crate) fn read(
    bytes: &[u8],
    file_name: &str,
    _companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let tree = Tree::parse(bytes)?;
    let format = if tree.format == "DM4" {
        FileFormat::Dm4
    } else {
        FileFormat::Dm3
    };
    let list = tree.root.group("ImageList").ok_or_else(|| {
        FormatError::corrupt(
            tree.format,
            "the tag tree has no ImageList, so the file holds no image",
        )
    })?;
    let entries: Vec<&Group> = list.groups().collect();
    let thumbs = thumbnails(&tree, &entries);
    let mut notes = Vec::new();
    let kept: Vec<(usize, &Group)> = entries
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| !thumbs.contains(i))
        .collect();
    for &i in &thumbs {
        notes.push(format!(
            "ImageList entry {i} is the display thumbnail and was skipped"
        ));
    }
    let stem = stem(file_name);
    let mut signals: Vec<(Signal, Option<&Group>)> = Vec::new();
    let mut unsupported = None;
    for &(i, entry) in &kept {
        let fallback = if kept.len() == 1 && !stem.is_empty() {
            stem.to_string()
        } else {
            format!("image {i}")
        };
        match image::read(&tree, entry, i, &fallback, limits) {
            Ok(s) => signals.push((s, entry.group("ImageTags"))),
            Err(e @ FormatError::Unsupported { .. }) => {
                notes.push(format!("ImageList entry {i} was skipped: {e}"));
                unsupported.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if signals.is_empty() {
        return Err(unsupported.unwrap_or_else(|| {
            FormatError::corrupt(
                tree.format,
                "ImageList holds no image besides the thumbnail",
            )
        }));
    }

    // The acquisition's metadata: the first image's (an image is what Tessera segments),
    // else the first signal's that has any.
    let per_signal: Vec<crate::Metadata> = signals
        .iter()
        .map(|(_, t)| t.map(|t| meta::metadata(&tree, t)).unwrap_or_default())
        .collect();
    let chosen = signals
        .iter()
        .zip(&per_signal)
        .find(|((s, _), m)| s.is_image() && **m != crate::Metadata::default())
        .or_else(|| {
            signals
                .iter()
                .zip(&per_signal)
                .find(|(_, m)| **m != crate::Metadata::default())
        })
        .map(|(_, m)| m.clone())
        .unwrap_or_default();

    let mut out: Vec<Signal> = Vec::with_capacity(signals.len());
    for ((mut s, _), m) in signals.into_iter().zip(per_signal) {
        if let Some(d) = m.extra.get("detector") {
            s.metadata.insert("detector".into(), d.clone());
        }
        if let Some(a) = m.acquired {
            s.metadata.insert("acquired".into(), a);
        }
        s.name = unique_name(&out, &s.name);
        if matches!(s.kind, SignalKind::Other) && s.axes.len() > 3 {
            notes.push(format!(
                "'{}' has {} dimensions and is read as Other, axes in the file's order",
                s.name,
                s.axes.len()
            ));
        }
        out.push(s);
    }
    Ok(Acquisition {
        format,
        signals: out,
        metadata: chosen,
        notes,
    })
}

/// The `ImageList` indices that are thumbnails: those the root `Thumbnails` group lists
/// (each entry's `ImageIndex`); without that group, the first entry when it is a 2-D RGB
/// image (DataType 8 or 23) and others follow.
fn thumbnails(tree: &Tree<'_>, entries: &[&Group]) -> Vec<usize> {
    if let Some(t) = tree.root.group("Thumbnails") {
        let mut out: Vec<usize> = t
            .groups()
            .filter_map(|g| g.value_at(&["ImageIndex"]))
            .filter_map(|v| tree.num(v))
            .filter(|&i| i >= 0.0 && i.fract() == 0.0 && (i as usize) < entries.len())
            .map(|i| i as usize)
            .collect();
        out.sort_unstable();
        out.dedup();
        // Never skip everything: a file whose only image is listed is read.
        if out.len() < entries.len() {
            return out;
        }
        return Vec::new();
    }
    let first_is_rgb = entries.first().is_some_and(|g| {
        let data = g.group("ImageData");
        let code = data
            .and_then(|d| d.value_at(&["DataType"]))
            .and_then(|v| tree.num(v));
        let dims = data
            .and_then(|d| d.group("Dimensions"))
            .map_or(0, |d| d.values().count());
        matches!(code, Some(c) if c == 8.0 || c == 23.0) && dims == 2
    });
    if first_is_rgb && entries.len() > 1 {
        vec![0]
    } else {
        Vec::new()
    }
}

/// The file name without folders and extension.
fn stem(file_name: &str) -> &str {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => base,
    }
}

/// `name`, or `name (2)`, `name (3)`, ... when a signal already has it.
fn unique_name(signals: &[Signal], name: &str) -> String {
    let taken = |n: &str| signals.iter().any(|s| s.name == n);
    if !taken(name) {
        return name.to_string();
    }
    (2..)
        .map(|k| format!("{name} ({k})"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests;
