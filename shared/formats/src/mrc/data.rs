//! The data block: the MODE's sample type, the conversion to `f32`, and the reordering of
//! a volume stored with a non-standard axis order into `[z, y, x]`.

use crate::{DType, FormatError};

use super::FORMAT;
use super::header::Header;

/// IMOD flag (byte 156, with IMOD's stamp): bytes are signed.
const IMOD_SIGNED_BYTES: i32 = 1;
/// IMOD flag: bytes hold two 4-bit values.
const IMOD_4BIT_BYTES: i32 = 16;

/// The stored sample type of `h`'s MODE, and a note where the reading is a choice.
///
/// Mode 0 is signed (MRC2014), except in files IMOD stamped without its "signed bytes"
/// flag: IMOD wrote unsigned bytes until version 4.2.23 and says so with that flag, so
/// those are read as `u8`. Mode 4 is complex `f32`, read as its modulus; modes 3 (complex
/// `i16`) and 101 (4-bit) are refused.
pub(super) fn dtype(h: &Header) -> Result<(DType, Option<String>), FormatError> {
    let imod = h.imod_flags;
    Ok(match h.mode {
        0 if imod.is_some_and(|f| f & IMOD_4BIT_BYTES != 0) => {
            return Err(four_bit(
                "mode 0 with IMOD's 4-bit flag (two values to a byte)",
            ));
        }
        0 => match imod {
            Some(f) if f & IMOD_SIGNED_BYTES == 0 => (
                DType::U8,
                Some(
                    "mode 0 read as unsigned bytes: the file carries IMOD's stamp without \
                     its signed-bytes flag (IMOD's convention before MRC2014)"
                        .to_string(),
                ),
            ),
            _ => (DType::I8, None),
        },
        1 => (DType::I16, None),
        2 => (DType::F32, None),
        3 => {
            return Err(FormatError::unsupported(
                FORMAT,
                "mode 3 (complex 16-bit integers)",
                "convert it to mode 4 (complex 32-bit floats) or to real amplitudes in mode 2, \
                 e.g. with IMOD's clip or newstack",
            ));
        }
        4 => (
            DType::Complex64,
            Some(
                "mode 4 holds complex values (usually a Fourier transform); each is read as \
                 its modulus"
                    .to_string(),
            ),
        ),
        6 => (DType::U16, None),
        12 => (DType::F16, None),
        101 => return Err(four_bit("mode 101 (4-bit values packed two to a byte)")),
        other => {
            return Err(FormatError::unsupported(
                FORMAT,
                format!("mode {other}"),
                "MRC2014 defines modes 0, 1, 2, 3, 4, 6, 12 and 101; re-save the file in one \
                 of 0, 1, 2, 6 or 12",
            ));
        }
    })
}

fn four_bit(what: &str) -> FormatError {
    FormatError::unsupported(
        FORMAT,
        what,
        "convert it to 8-bit (mode 0) first, e.g. with IMOD's `newstack -mode 0`",
    )
}

/// Sizes along X, Y and Z of a block of `n` = (columns, rows, sections) samples whose
/// columns, rows and sections run along the axes `map_crs` (1 = X, 2 = Y, 3 = Z).
pub(super) fn xyz_sizes(n: [usize; 3], map_crs: [usize; 3]) -> [usize; 3] {
    let mut size_xyz = [1usize; 3];
    for (j, &axis) in map_crs.iter().enumerate() {
        if let Some(s) = size_xyz.get_mut(axis.wrapping_sub(1)) {
            *s = n[j];
        }
    }
    size_xyz
}

/// Reorders one volume stored as `[section][row][column]` (`n` = columns, rows, sections,
/// along the axes `map_crs`) into `[z][y][x]`.
pub(super) fn reorder_volume(stored: &[f32], n: [usize; 3], map_crs: [usize; 3]) -> Vec<f32> {
    let size_xyz = xyz_sizes(n, map_crs);
    let stride_xyz = [1, size_xyz[0], size_xyz[0] * size_xyz[1]];
    let stride = |j: usize| stride_xyz.get(map_crs[j].wrapping_sub(1)).copied();
    let (Some(sc), Some(sr), Some(ss)) = (stride(0), stride(1), stride(2)) else {
        return stored.to_vec();
    };
    let mut out = vec![0f32; stored.len()];
    let (nc, nr) = (n[0].max(1), n[1].max(1));
    for (s, section) in stored.chunks_exact(nc * nr).enumerate() {
        for (r, row) in section.chunks_exact(nc).enumerate() {
            let base = s * ss + r * sr;
            for (c, &v) in row.iter().enumerate() {
                if let Some(o) = out.get_mut(base + c * sc) {
                    *o = v;
                }
            }
        }
    }
    out
}
