//! MRC/CCP4 (MRC2014) maps, images and stacks, also gzip-compressed (the crate decompresses
//! those before they get here).
//!
//! Layout facts (the MRC2014 specification, Cheng et al., J. Struct. Biol. 192 (2015) and
//! ccpem.ac.uk/mrc_format/mrc2014.php; mrcfile's `dtypes.py` and `utils.py` for the
//! header's field offsets; IMOD's `mrc_format.txt` for IMOD's stamp and flags):
//! - A 1024-byte main header of 4-byte words ([`header`]): NX, NY, NZ (columns, rows,
//!   sections), MODE, NXSTART.. (first column, row, section), MX, MY, MZ (sampling along
//!   X, Y, Z), the cell in Å and its angles, MAPC/MAPR/MAPS (the axis along columns, rows
//!   and sections), DMIN/DMAX/DMEAN, ISPG, NSYMBT (extended header bytes), EXTTYP at byte
//!   104, NVERSION at 108, IMOD's stamp and flags at 152 and 156, ORIGIN (Å) at 196,
//!   "MAP " at 208, the machine stamp at 212 (0x44 0x44: little-endian, 0x11 0x11: big),
//!   RMS at 216, NLABL at 220 and ten 80-byte labels from 224.
//! - NSYMBT bytes of extended header follow; its type is EXTTYP. FEI1/FEI2 headers (Thermo
//!   Fisher) give the microscope's settings ([`fei`]); the others are noted and skipped.
//! - Then the data, NX × NY × NZ samples of MODE ([`data`]), columns fastest.
//! - The pixel size along each axis is the cell length over its sampling (cell / M), in Å;
//!   a zero cell means uncalibrated (then an FEI header's pixel size is used, if any).
//! - What the data is (MRC2014's ISPG rule): ISPG 0 is an image (NZ = 1) or a stack of
//!   images (NZ > 1, MZ = 1); ISPG 1–230 one volume; ISPG 401–630 a stack of volumes of MZ
//!   sections each. Two conventions older than the rule are followed: ISPG 0 with MZ > 1
//!   is read as a volume (tomograms written that way), unless the name ends in `.mrcs`,
//!   `.st`, `.ali` or `.preali` (RELION's and IMOD's stack names), which are stacks.
//! - A volume with a non-standard axis order is reordered into `[z, y, x]`; an image or
//!   stack with one is refused.
//! - Axis offsets follow ChimeraX: ORIGIN (Å) where it is non-zero, else the start index
//!   × the pixel size.
//!
//! # Layout
//! - `mod.rs`: [`read`], and what the data block holds (image, stack, volume).
//! - `header.rs`: the main header. `fei.rs`: the FEI1/FEI2 extended header.
//! - `data.rs`: the sample types and the axis reordering.
//! - `calibration.rs`: the axes' scale and offset. `metadata.rs`: the metadata and notes.
//! - `tests.rs`: unit tests on synthetic files.

mod calibration;
mod data;
mod fei;
mod header;
mod metadata;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::bytes::{sample_size, samples_to_f32};
use crate::{
    Acquisition, Axis, Companions, DType, FileFormat, FormatError, ReadLimits, Signal, SignalKind,
    check_shape,
};

use calibration::{Calibration, calibration};
use fei::FeiRecord;
use header::{HEADER_LEN, Header};

/// The format's name in errors.
const FORMAT: &str = "MRC";

/// What the data block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One image, `[y, x]`.
    Image,
    /// A stack of images, `[frame, y, x]`.
    Stack,
    /// One volume, `[z, y, x]`.
    Volume,
    /// `count` volumes of `sections` sections each.
    VolumeStack { count: usize, sections: usize },
}

/// Reads an MRC file: one signal (image, stack or volume), or one per volume of a volume
/// stack.
pub(crate) fn read(
    bytes: &[u8],
    file_name: &str,
    _companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let h = header::parse(bytes)?;
    let mut notes: Vec<String> = h.endian_guess.iter().cloned().collect();
    if !h.has_map_stamp {
        notes.push(
            "there is no \"MAP \" stamp at byte 208 (a header older than MRC2000); it was read \
             with the MRC2014 layout"
                .into(),
        );
    }
    if h.map_defaulted {
        notes.push(
            "MAPC, MAPR and MAPS are zero; the standard order (columns X, rows Y, sections Z) \
             was assumed"
                .into(),
        );
    }
    let (dtype, mode_note) = data::dtype(&h)?;
    notes.extend(mode_note);
    let layout = layout(&h, file_name, &mut notes)?;
    let standard = h.map_crs == [1, 2, 3];
    if !standard && matches!(layout, Layout::Image | Layout::Stack) {
        return Err(FormatError::unsupported(
            FORMAT,
            format!(
                "an image or image stack with axis order MAPC, MAPR, MAPS = {}, {}, {}",
                h.map_crs[0], h.map_crs[1], h.map_crs[2]
            ),
            "only volumes are reordered; re-save it with the standard order 1, 2, 3",
        ));
    }

    let [nx, ny, nz] = h.n;
    let count = check_shape(FORMAT, "data block", &[nz, ny, nx], true, limits)?;
    let need = count.checked_mul(sample_size(dtype)).ok_or_else(|| {
        FormatError::corrupt(FORMAT, format!("{nx} × {ny} × {nz} samples overflow"))
    })?;
    let offset = HEADER_LEN + h.nsymbt;
    let avail = bytes.len() - offset;
    if avail < need {
        return Err(FormatError::truncated(
            FORMAT,
            format!(
                "the data of {nx} × {ny} × {nz} {} samples needs {need} bytes after the \
                 headers (offset {offset}), the file has {avail}",
                dtype.name()
            ),
        ));
    }
    if avail > need {
        notes.push(format!(
            "{} bytes after the data block were ignored",
            avail - need
        ));
    }
    let values = samples_to_f32(
        &bytes[offset..offset + need],
        dtype,
        h.endian,
        count,
        FORMAT,
    )?;

    let fei = read_fei(bytes, &h, &mut notes);
    notes.extend(metadata::extended_header_note(&h, fei.is_some()));
    let cal = calibration(&h, fei.as_ref(), layout, &mut notes);
    let name = fei
        .as_ref()
        .and_then(|f| f.camera.clone())
        .unwrap_or_else(|| {
            match layout {
                Layout::Image => "image",
                Layout::Stack => "stack",
                Layout::Volume | Layout::VolumeStack { .. } => "volume",
            }
            .to_string()
        });
    let signals = match layout {
        Layout::Image => {
            let axes = vec![cal.axis("y", 1, ny), cal.axis("x", 0, nx)];
            vec![signal(name, SignalKind::Image, dtype, axes, values)]
        }
        Layout::Stack => {
            let axes = vec![
                Axis::pixels("frame", nz),
                cal.axis("y", 1, ny),
                cal.axis("x", 0, nx),
            ];
            vec![signal(name, SignalKind::ImageStack, dtype, axes, values)]
        }
        Layout::Volume | Layout::VolumeStack { .. } => {
            if !standard {
                notes.push(format!(
                    "the volume is stored with columns, rows and sections along axes {}, {}, \
                     {} (1 = X); it was reordered into [z, y, x]",
                    h.map_crs[0], h.map_crs[1], h.map_crs[2]
                ));
            }
            volumes(values, &h, layout, &cal, &name, dtype, limits)?
        }
    };
    Ok(Acquisition {
        format: FileFormat::Mrc,
        signals,
        metadata: metadata::metadata(&h, dtype, fei.as_ref()),
        notes,
    })
}

/// A signal with no per-signal metadata.
fn signal(name: String, kind: SignalKind, dtype: DType, axes: Vec<Axis>, data: Vec<f32>) -> Signal {
    Signal {
        name,
        kind,
        dtype,
        axes,
        data,
        metadata: BTreeMap::new(),
    }
}

/// The volume, or each volume of a volume stack (named "`name` 1", "`name` 2", ...), in
/// `[z, y, x]` order.
fn volumes(
    values: Vec<f32>,
    h: &Header,
    layout: Layout,
    cal: &Calibration,
    name: &str,
    dtype: DType,
    limits: &ReadLimits,
) -> Result<Vec<Signal>, FormatError> {
    let [nx, ny, nz] = h.n;
    let (count, sections) = match layout {
        Layout::VolumeStack { count, sections } => (count, sections),
        _ => (1, nz),
    };
    let stored = [nx, ny, sections];
    let [sx, sy, sz] = data::xyz_sizes(stored, h.map_crs);
    check_shape(FORMAT, "volume", &[sz, sy, sx], true, limits)?;
    let axes = vec![
        cal.axis("z", 2, sz),
        cal.axis("y", 1, sy),
        cal.axis("x", 0, sx),
    ];
    let standard = h.map_crs == [1, 2, 3];
    if count == 1 && standard {
        return Ok(vec![signal(
            name.to_string(),
            SignalKind::Volume,
            dtype,
            axes,
            values,
        )]);
    }
    let per = nx * ny * sections;
    Ok(values
        .chunks_exact(per.max(1))
        .enumerate()
        .map(|(k, chunk)| {
            let data = if standard {
                chunk.to_vec()
            } else {
                data::reorder_volume(chunk, stored, h.map_crs)
            };
            let name = if count > 1 {
                format!("{name} {}", k + 1)
            } else {
                name.to_string()
            };
            signal(name, SignalKind::Volume, dtype, axes.clone(), data)
        })
        .collect())
}

/// What the data block holds, by the rule in the module docs.
fn layout(h: &Header, file_name: &str, notes: &mut Vec<String>) -> Result<Layout, FormatError> {
    let [_, _, nz] = h.n;
    if nz == 1 {
        return Ok(Layout::Image);
    }
    let lower = file_name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    let stack_name = lower.contains('.') && matches!(ext, "mrcs" | "st" | "ali" | "preali");
    Ok(match h.ispg {
        0 if stack_name => {
            if h.m[2] > 1 {
                notes.push(format!(
                    "read as an image stack because of its .{ext} name, although MZ = {} > 1",
                    h.m[2]
                ));
            }
            Layout::Stack
        }
        0 if h.m[2] > 1 => {
            notes.push(format!(
                "ISPG is 0 (images) but MZ = {} > 1: read as a volume, as older tomography \
                 software wrote volumes (a .mrcs, .st or .ali name would make it a stack)",
                h.m[2]
            ));
            Layout::Volume
        }
        0 => Layout::Stack,
        1..=230 => Layout::Volume,
        401..=630 => {
            let sections = usize::try_from(h.m[2]).unwrap_or(0);
            if sections == 0 || nz % sections != 0 {
                return Err(FormatError::corrupt(
                    FORMAT,
                    format!(
                        "ISPG {} marks a stack of volumes of MZ sections each, but NZ = {nz} \
                         is not a multiple of MZ = {}",
                        h.ispg, h.m[2]
                    ),
                ));
            }
            match nz / sections {
                1 => Layout::Volume,
                count => Layout::VolumeStack { count, sections },
            }
        }
        other => {
            notes.push(format!(
                "ISPG {other} is outside MRC2014's ranges (0, 1–230, 401–630); the data was \
                 read as one volume"
            ));
            Layout::Volume
        }
    })
}

/// The FEI1/FEI2 extended header's first record, where there is one.
fn read_fei(bytes: &[u8], h: &Header, notes: &mut Vec<String>) -> Option<FeiRecord> {
    if !matches!(h.exttyp.as_str(), "FEI1" | "FEI2") || h.nsymbt == 0 {
        return None;
    }
    let ext = bytes.get(HEADER_LEN..HEADER_LEN + h.nsymbt)?;
    match fei::first_record(ext, h.endian) {
        Ok(r) => Some(r),
        Err(why) => {
            notes.push(format!("{why}; its metadata was not read"));
            None
        }
    }
}
