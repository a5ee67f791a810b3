//! The 1024-byte MRC2014 main header: its fields, the byte order from the machine stamp,
//! and the checks that make the rest of the reader safe (positive sizes, a valid axis
//! order, an extended header that fits in the file).

use crate::FormatError;
use crate::bytes::{Cursor, Endian};

use super::FORMAT;

/// Bytes in the main header.
pub(super) const HEADER_LEN: usize = 1024;

/// IMOD's stamp at byte 152 ("IMOD" little-endian); its flags follow at byte 156.
const IMOD_STAMP: i32 = 1_146_047_817;

/// The fields of the main header that the reader uses, in the file's own terms: `n`,
/// `start` and `map_crs` are per column, row and section; `m`, `cell`, `angles` and
/// `origin` per X, Y and Z.
#[derive(Debug, Clone)]
pub(super) struct Header {
    /// Byte order of the header, the extended header's numbers and the data.
    pub(super) endian: Endian,
    /// How the byte order was decided, when the machine stamp did not say.
    pub(super) endian_guess: Option<String>,
    /// NX, NY, NZ: columns, rows and sections (each at least 1).
    pub(super) n: [usize; 3],
    /// MODE: the sample type.
    pub(super) mode: i32,
    /// NXSTART, NYSTART, NZSTART: the index of the first column, row and section.
    pub(super) start: [i32; 3],
    /// MX, MY, MZ: sampling intervals along X, Y and Z.
    pub(super) m: [i32; 3],
    /// Cell dimensions along X, Y and Z, in Å.
    pub(super) cell: [f32; 3],
    /// Cell angles α, β, γ, in degrees.
    pub(super) angles: [f32; 3],
    /// MAPC, MAPR, MAPS: the axis (1 = X, 2 = Y, 3 = Z) along columns, rows and sections;
    /// always a permutation of 1, 2, 3 here.
    pub(super) map_crs: [usize; 3],
    /// Whether MAPC/MAPR/MAPS were all zero (old files) and taken as 1, 2, 3.
    pub(super) map_defaulted: bool,
    /// DMIN, DMAX, DMEAN.
    pub(super) dmin: f32,
    /// Maximum value, as the header states it.
    pub(super) dmax: f32,
    /// Mean value, as the header states it.
    pub(super) dmean: f32,
    /// ISPG: 0 for images and image stacks, 1–230 for a volume, 401–630 for a volume stack.
    pub(super) ispg: i32,
    /// NSYMBT: bytes of extended header after the main header.
    pub(super) nsymbt: usize,
    /// EXTTYP: the extended header's type ("FEI1", "CCP4", ...), empty when not stated.
    pub(super) exttyp: String,
    /// NVERSION: 20140 for MRC2014.
    pub(super) nversion: i32,
    /// IMOD's flags (byte 156) when IMOD's stamp is present.
    pub(super) imod_flags: Option<i32>,
    /// ORIGIN, in Å along X, Y and Z.
    pub(super) origin: [f32; 3],
    /// Whether the "MAP " stamp is at byte 208.
    pub(super) has_map_stamp: bool,
    /// RMS deviation from the mean (negative when not computed).
    pub(super) rms: f32,
    /// The non-empty labels, with their 1-based slot.
    pub(super) labels: Vec<(usize, String)>,
}

/// Modes MRC2014 defines (and 3 and 101, which it lists).
const KNOWN_MODES: [i32; 8] = [0, 1, 2, 3, 4, 6, 12, 101];

/// Parses the main header of `bytes` and checks that the extended header fits in the file.
pub(super) fn parse(bytes: &[u8]) -> Result<Header, FormatError> {
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::truncated(
            FORMAT,
            format!(
                "the main header needs {HEADER_LEN} bytes, the file has {}",
                bytes.len()
            ),
        ));
    }
    let machst: [u8; 4] = [bytes[212], bytes[213], bytes[214], bytes[215]];
    let (endian, endian_guess) = byte_order(bytes, machst)?;
    let mut c = Cursor::new(bytes, endian, FORMAT);
    let n_raw = i32x3(&mut c)?;
    let mode = c.i32()?;
    let start = i32x3(&mut c)?;
    let m = i32x3(&mut c)?;
    let cell = f32x3(&mut c)?;
    let angles = f32x3(&mut c)?;
    let map_raw = i32x3(&mut c)?;
    let [dmin, dmax, dmean] = f32x3(&mut c)?;
    let ispg = c.i32()?;
    let nsymbt_raw = c.i32()?;
    c.seek(104)?;
    let exttyp = ascii(c.take(4)?);
    let nversion = c.i32()?;
    c.seek(152)?;
    let imod_stamp = c.i32()?;
    let imod_flags = c.i32()?;
    c.seek(196)?;
    let origin = f32x3(&mut c)?;
    let has_map_stamp = c.take(4)? == b"MAP ";
    c.skip(4)?;
    let rms = c.f32()?;
    c.skip(4)?; // NLABL: the non-empty label slots are kept, whatever it says.
    let mut labels = Vec::new();
    for slot in 1..=10 {
        let text = ascii(c.take(80)?);
        if !text.is_empty() {
            labels.push((slot, text));
        }
    }

    if n_raw.iter().any(|&v| v < 1) {
        return Err(FormatError::corrupt(
            FORMAT,
            format!(
                "NX, NY, NZ = {}, {}, {}: each must be at least 1",
                n_raw[0], n_raw[1], n_raw[2]
            ),
        ));
    }
    let n = n_raw.map(|v| v as usize);
    let (map_crs, map_defaulted) = axis_order(map_raw)?;
    let nsymbt = usize::try_from(nsymbt_raw).map_err(|_| {
        FormatError::corrupt(
            FORMAT,
            format!("NSYMBT (extended header length) is negative ({nsymbt_raw})"),
        )
    })?;
    if nsymbt > bytes.len() - HEADER_LEN {
        return Err(FormatError::truncated(
            FORMAT,
            format!(
                "the extended header of {nsymbt} bytes (NSYMBT) runs past the end of the \
                 {}-byte file",
                bytes.len()
            ),
        ));
    }
    Ok(Header {
        endian,
        endian_guess,
        n,
        mode,
        start,
        m,
        cell,
        angles,
        map_crs,
        map_defaulted,
        dmin,
        dmax,
        dmean,
        ispg,
        nsymbt,
        exttyp,
        nversion,
        imod_flags: (imod_stamp == IMOD_STAMP).then_some(imod_flags),
        origin,
        has_map_stamp,
        rms,
        labels,
    })
}

fn i32x3(c: &mut Cursor<'_>) -> Result<[i32; 3], FormatError> {
    Ok([c.i32()?, c.i32()?, c.i32()?])
}

fn f32x3(c: &mut Cursor<'_>) -> Result<[f32; 3], FormatError> {
    Ok([c.f32()?, c.f32()?, c.f32()?])
}

/// The byte order: 0x44 0x44 (or 0x44 0x41) is little-endian and 0x11 0x11 big-endian
/// (MRC2014); only the first byte is looked at, as some writers fill the rest with spaces.
/// Without a known stamp (files older than MRC2000 have none), the order that gives
/// plausible sizes and a known mode is taken, little-endian first.
fn byte_order(bytes: &[u8], machst: [u8; 4]) -> Result<(Endian, Option<String>), FormatError> {
    match machst[0] {
        0x44 => return Ok((Endian::Little, None)),
        0x11 => return Ok((Endian::Big, None)),
        _ => {}
    }
    let stamp = machst.map(|b| format!("{b:02x}")).join(" ");
    for (endian, name) in [(Endian::Little, "little"), (Endian::Big, "big")] {
        let mut c = Cursor::new(bytes, endian, FORMAT);
        let words = [c.i32()?, c.i32()?, c.i32()?, c.i32()?];
        let sizes_ok = words[..3].iter().all(|&v| (1..=1 << 24).contains(&v));
        if sizes_ok && KNOWN_MODES.contains(&words[3]) {
            return Ok((
                endian,
                Some(format!(
                    "the machine stamp ({stamp}) does not give the byte order; {name}-endian \
                     was taken because it gives plausible sizes and a known mode"
                )),
            ));
        }
    }
    Err(FormatError::corrupt(
        FORMAT,
        format!(
            "the machine stamp ({stamp}) is not one MRC2014 defines and neither byte order \
             gives plausible sizes and a known mode"
        ),
    ))
}

/// MAPC/MAPR/MAPS as 1-based axes: a permutation of 1, 2, 3, or all zero (taken as 1, 2, 3).
fn axis_order(raw: [i32; 3]) -> Result<([usize; 3], bool), FormatError> {
    if raw == [0, 0, 0] {
        return Ok(([1, 2, 3], true));
    }
    let mut sorted = raw;
    sorted.sort_unstable();
    if sorted != [1, 2, 3] {
        return Err(FormatError::corrupt(
            FORMAT,
            format!(
                "MAPC, MAPR, MAPS = {}, {}, {} is not an axis order (a permutation of 1, 2, 3)",
                raw[0], raw[1], raw[2]
            ),
        ));
    }
    Ok((raw.map(|v| v as usize), false))
}

/// Printable ASCII up to the first NUL, trimmed.
fn ascii(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b[..end]
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Text of at most `len` bytes from `b` at `at`: printable ASCII up to the first NUL.
pub(super) fn text_at(b: &[u8], at: usize, len: usize) -> Option<String> {
    let s = ascii(b.get(at..at.checked_add(len)?)?);
    (!s.is_empty()).then_some(s)
}
