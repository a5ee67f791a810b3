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
//! - `header.rs`: the main header. `fei.rs`: the FEI1/FEI2 extended header. `data.rs`: the
//!   sample types and the axis reordering. `tests.rs`: unit tests on synthetic files.

mod data;
mod fei;
mod header;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::bytes::{sample_size, samples_to_f32};
use crate::{
    Acquisition, Axis, Companions, DType, FileFormat, FormatError, Metadata, ReadLimits, Signal,
    SignalKind, check_shape,
};

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
    notes.extend(extended_header_note(&h, fei.is_some()));
    let cal = calibration(&h, fei.as_ref(), layout, &mut notes);
    let base_name = fei
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
    let signal = |name: String, kind: SignalKind, axes: Vec<Axis>, data: Vec<f32>| Signal {
        name,
        kind,
        dtype,
        axes,
        data,
        metadata: BTreeMap::new(),
    };
    let signals = match layout {
        Layout::Image => vec![signal(
            base_name,
            SignalKind::Image,
            vec![cal.axis("y", 1, ny), cal.axis("x", 0, nx)],
            values,
        )],
        Layout::Stack => vec![signal(
            base_name,
            SignalKind::ImageStack,
            vec![
                Axis::pixels("frame", nz),
                cal.axis("y", 1, ny),
                cal.axis("x", 0, nx),
            ],
            values,
        )],
        Layout::Volume | Layout::VolumeStack { .. } => {
            let (count, sections) = match layout {
                Layout::VolumeStack { count, sections } => (count, sections),
                _ => (1, nz),
            };
            let per = nx * ny * sections;
            let mut out = Vec::with_capacity(count);
            for (k, chunk) in values.chunks_exact(per.max(1)).enumerate() {
                let (data, [sx, sy, sz]) = if standard {
                    (chunk.to_vec(), [nx, ny, sections])
                } else {
                    data::reorder_volume(chunk, [nx, ny, sections], h.map_crs)
                };
                check_shape(FORMAT, "volume", &[sz, sy, sx], true, limits)?;
                let name = if count > 1 {
                    format!("{base_name} {}", k + 1)
                } else {
                    base_name.clone()
                };
                let axes = vec![
                    cal.axis("z", 2, sz),
                    cal.axis("y", 1, sy),
                    cal.axis("x", 0, sx),
                ];
                out.push(signal(name, SignalKind::Volume, axes, data));
            }
            if !standard {
                notes.push(format!(
                    "the volume is stored with columns, rows and sections along axes {}, {}, \
                     {} (1 = X); it was reordered into [z, y, x]",
                    h.map_crs[0], h.map_crs[1], h.map_crs[2]
                ));
            }
            out
        }
    };
    Ok(Acquisition {
        format: FileFormat::Mrc,
        signals,
        metadata: metadata(&h, dtype, fei.as_ref()),
        notes,
    })
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

/// One sentence on the extended header, if there is one.
fn extended_header_note(h: &Header, fei_read: bool) -> Option<String> {
    if h.nsymbt == 0 {
        return None;
    }
    let what = match h.exttyp.as_str() {
        "FEI1" | "FEI2" => "Thermo Fisher per-section metadata",
        "CCP4" => "CCP4 symmetry records",
        "MRCO" => "MRC-format records",
        "SERI" => "SerialEM per-section metadata",
        "AGAR" => "Agard per-section metadata",
        "" if h.ispg > 0 => "type not stated; symmetry records by the CCP4 convention",
        "" => "type not stated",
        _ => "a type this reader does not know",
    };
    let typ = if h.exttyp.is_empty() {
        String::new()
    } else {
        format!("\"{}\", ", h.exttyp)
    };
    let done = if fei_read {
        "the first section's microscope settings were read, the rest skipped"
    } else {
        "skipped"
    };
    Some(format!(
        "extended header of {} bytes ({typ}{what}): {done}",
        h.nsymbt
    ))
}

/// Pixel size and offset along X, Y and Z (index 0, 1, 2), in Å, where known.
struct Calibration {
    scale: [Option<f64>; 3],
    offset: [f64; 3],
}

impl Calibration {
    /// The axis `name` of `size` samples along X, Y or Z (`i` = 0, 1, 2).
    fn axis(&self, name: &str, i: usize, size: usize) -> Axis {
        match self.scale.get(i).copied().flatten() {
            Some(s) => Axis::calibrated(name, size, s, self.offset[i], "Å"),
            None => Axis::pixels(name, size),
        }
    }
}

/// Cell / M per axis, falling back to an FEI header's pixel size along X and Y.
fn calibration(
    h: &Header,
    fei: Option<&FeiRecord>,
    layout: Layout,
    notes: &mut Vec<String>,
) -> Calibration {
    let mut scale = [None; 3];
    for (i, s) in scale.iter_mut().enumerate() {
        let (cell, m) = (f64::from(h.cell[i]), h.m[i]);
        let v = cell / f64::from(m);
        if cell.is_finite() && cell > 0.0 && m > 0 && v.is_finite() {
            *s = Some(v);
        }
    }
    let fei_px = fei
        .and_then(|f| f.pixel_m)
        .map(|(x, y)| [x * 1e10, y * 1e10]);
    if let Some(px) = fei_px {
        for i in 0..2 {
            match scale[i] {
                None => {
                    scale[i] = Some(px[i]);
                    notes.push(format!(
                        "the cell along {} is zero; the pixel size ({:.6} Å) was taken from the \
                         FEI extended header",
                        ["X", "Y"][i],
                        px[i]
                    ));
                }
                Some(s) if (s - px[i]).abs() > 0.01 * s => notes.push(format!(
                    "the FEI extended header gives {:.6} Å along {}, the main header {s:.6} Å; \
                     the main header's is used",
                    px[i],
                    ["X", "Y"][i]
                )),
                Some(_) => {}
            }
        }
    }
    let planar = matches!(layout, Layout::Image | Layout::Stack);
    let used = if planar { 2 } else { 3 };
    if scale[..used].iter().any(Option::is_none) {
        notes.push(
            "the cell dimensions (or sampling) are zero along some axes, which are left \
             uncalibrated (pixels)"
                .into(),
        );
    }
    if !planar && h.angles.iter().any(|a| (a - 90.0).abs() > 0.01) {
        notes.push(format!(
            "the cell angles are {}°, {}°, {}°: the axes are not orthogonal, and each scale \
             is along its cell edge",
            h.angles[0], h.angles[1], h.angles[2]
        ));
    }
    // ChimeraX's rule: ORIGIN where it is set (not for transforms, whose ORIGIN is a phase
    // origin in pixels), else the start index × the pixel size. NXSTART.. are per column,
    // row and section; map them to X, Y, Z.
    let use_origin = !matches!(h.mode, 3 | 4)
        && h.origin.iter().all(|v| v.is_finite())
        && h.origin.iter().any(|&v| v != 0.0);
    let mut start_xyz = [0i32; 3];
    for (j, &axis) in h.map_crs.iter().enumerate() {
        if let Some(s) = start_xyz.get_mut(axis.wrapping_sub(1)) {
            *s = h.start[j];
        }
    }
    let mut offset = [0.0; 3];
    for i in 0..3 {
        if let Some(s) = scale[i] {
            offset[i] = if use_origin {
                f64::from(h.origin[i])
            } else {
                f64::from(start_xyz[i]) * s
            };
        }
    }
    Calibration { scale, offset }
}

/// The acquisition's metadata: the FEI record's settings and the header's own values.
fn metadata(h: &Header, dtype: DType, fei: Option<&FeiRecord>) -> Metadata {
    let mut m = Metadata::default();
    let mut put = |k: &str, v: String| {
        m.extra.insert(k.to_string(), v);
    };
    let triple = |v: [f32; 3]| format!("{} {} {}", v[0], v[1], v[2]);
    put("mode", format!("{} ({})", h.mode, dtype.name()));
    put("space_group", h.ispg.to_string());
    if h.nversion != 0 {
        put("mrc_version", h.nversion.to_string());
    }
    put(
        "byte_order",
        match h.endian {
            crate::bytes::Endian::Little => "little-endian",
            crate::bytes::Endian::Big => "big-endian",
        }
        .into(),
    );
    if h.nsymbt > 0 {
        let typ = if h.exttyp.is_empty() {
            "type not stated"
        } else {
            &h.exttyp
        };
        put("extended_header", format!("{typ}, {} bytes", h.nsymbt));
    }
    put("cell_angstrom", triple(h.cell));
    put("cell_angles_deg", triple(h.angles));
    put("sampling_mxyz", format!("{} {} {}", h.m[0], h.m[1], h.m[2]));
    put(
        "start_crs",
        format!("{} {} {}", h.start[0], h.start[1], h.start[2]),
    );
    put(
        "axis_order_crs",
        format!("{} {} {}", h.map_crs[0], h.map_crs[1], h.map_crs[2]),
    );
    put("origin_angstrom", triple(h.origin));
    put("dmin", h.dmin.to_string());
    put("dmax", h.dmax.to_string());
    put("dmean", h.dmean.to_string());
    put("rms", h.rms.to_string());
    for (slot, text) in &h.labels {
        put(&format!("label_{slot}"), text.clone());
    }
    if let Some(f) = fei {
        put("fei_metadata_version", f.version.to_string());
        if let Some(c) = &f.camera {
            put("detector", c.clone());
        }
        if let Some(a) = &f.application {
            let v = f.application_version.as_deref().unwrap_or("");
            put("application", format!("{a} {v}").trim().to_string());
        }
        if let Some(d) = &f.d_number {
            put("d_number", d.clone());
        }
        if let Some(d) = f.dose_e_per_m2 {
            put("dose_e_per_m2", format!("{d:e}"));
        }
        if let Some(d) = f.defocus_m {
            put("defocus_m", format!("{d:e}"));
        }
        if let Some((x, y)) = f.pixel_m {
            put("pixel_size_m", format!("{x:e} {y:e}"));
        }
        if let Some(t) = f.timestamp_days {
            put("fei_timestamp_days", t.to_string());
        }
        m.microscope = f.microscope.clone();
        m.voltage_kv = f.ht_v.map(|v| v / 1e3);
        m.magnification = f.magnification;
        m.exposure_s = f.integration_s;
    }
    m
}
