//! HDF5 files: Thermo Fisher Velox EMD, Berkeley (NCEM) EMD and HyperSpy's own HDF5
//! (`.hspy`/`.hdf5`), told apart by their structure.
//!
//! The bytes are opened where they lie, through libhdf5's file-image API (`file_image.rs`,
//! the crate's only `unsafe`): neither written to disk nor copied. Only hard links inside the file are
//! followed, datasets stored outside the file or behind filter plugins are refused, and
//! every shape is checked against the limits before its samples are read (`h5.rs`).
//!
//! - `velox/`: Velox images (frame stacks as `[frame, y, x]`), spectra, and EDS spectrum
//!   images decoded from their event stream, with the microscope's metadata from the
//!   per-frame JSON.
//! - `berkeley.rs`: groups with `emd_group_type = 1`, calibrated from their `dimN` vectors.
//! - `hyperspy.rs`: `/Experiments/<title>/data` with its `axis-<i>` groups.
//!
//! libhdf5 itself parses the file's structure (superblock, object headers, B-trees, chunk
//! filters); how it copes with a maliciously crafted file is libhdf5's, not this crate's.

mod berkeley;
mod file_image;
mod h5;
mod hyperspy;
mod velox;

use crate::{Acquisition, Axis, Companions, FormatError, ReadLimits, SignalKind};

/// The format's name in messages about the container itself.
const FMT: &str = "HDF5";

/// Reads a Velox, Berkeley or HyperSpy HDF5 file from its bytes.
pub(crate) fn read(
    bytes: &[u8],
    file_name: &str,
    _companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let file = file_image::open(bytes).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("truncated") || msg.contains("eof") {
            FormatError::truncated(FMT, format!("libhdf5 cannot open it: {msg}"))
        } else {
            FormatError::corrupt(FMT, format!("libhdf5 cannot open it: {msg}"))
        }
    })?;
    let root = file.root();
    if velox::is_velox(root) {
        return velox::read(root, limits);
    }
    if hyperspy::is_hyperspy(root) {
        return hyperspy::read(root, file_name, limits);
    }
    let groups = berkeley::data_groups(root)?;
    if !groups.is_empty() {
        return berkeley::read(root, groups, file_name, limits);
    }
    let top: Vec<String> = h5::members(root, FMT)?
        .into_iter()
        .take(12)
        .map(|(n, _)| n)
        .collect();
    Err(FormatError::unsupported(
        FMT,
        format!(
            "file layout (top level: {})",
            if top.is_empty() {
                "empty".to_string()
            } else {
                top.join(", ")
            }
        ),
        "Tessera reads three HDF5 layouts and found none: Velox EMD (a /Version dataset \
         naming the Velox format, data under /Data/Image, /Data/Spectrum or \
         /Data/SpectrumStream), Berkeley EMD (a group with the attribute emd_group_type = 1 \
         holding a 'data' dataset and dim1..dimN) and HyperSpy (root attribute file_format = \
         'HyperSpy', signals under /Experiments/<title>/data); export the data from its \
         software as one of these, or as TIFF",
    ))
}

/// The name of a signal stored under `group` (an HDF5 group name) in `file_name`: the group
/// name, or the file's stem where HyperSpy wrote `__unnamed__`.
fn signal_name(group: &str, file_name: &str) -> String {
    let g = group.trim();
    if !g.is_empty() && g != "__unnamed__" {
        return g.to_string();
    }
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    if stem.is_empty() {
        "signal".to_string()
    } else {
        stem.to_string()
    }
}

/// Names the axes the file left unnamed (`unnamed[i]`) after the signal's kind: `y`, `x` for
/// the planes of images, `frame` for a stack's outer axis, `energy`/`channel` for a spectrum's
/// last axis, `axis i` otherwise.
fn name_axes(kind: SignalKind, axes: &mut [Axis], unnamed: &[bool]) {
    let n = axes.len();
    for (i, axis) in axes.iter_mut().enumerate() {
        if !unnamed.get(i).copied().unwrap_or(false) {
            continue;
        }
        let from_end = n - i;
        axis.name = match (kind, from_end) {
            (SignalKind::Image | SignalKind::ImageStack | SignalKind::Volume, 1) => "x".into(),
            (SignalKind::Image | SignalKind::ImageStack | SignalKind::Volume, 2) => "y".into(),
            (SignalKind::ImageStack, 3) => "frame".into(),
            (SignalKind::Volume, 3) => "z".into(),
            (SignalKind::Spectrum | SignalKind::SpectrumImage, 1) => {
                if axis.unit.is_empty() {
                    "channel".into()
                } else {
                    "energy".into()
                }
            }
            (SignalKind::SpectrumImage, 2) => "x".into(),
            (SignalKind::SpectrumImage, 3) => "y".into(),
            _ => format!("axis {i}"),
        };
    }
}

#[cfg(test)]
mod tests;
