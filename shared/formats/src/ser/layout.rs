//! The binary layout of a SER file: header, dimension arrays, offset arrays, element headers
//! and tags (see the module above for the source of these facts).

use crate::bytes::{Cursor, Endian};
use crate::{DType, FormatError};

pub(super) const F: &str = "SER";

/// Data elements are 1-D arrays (spectra).
const ELEMENTS_1D: u32 = 0x4120;
/// Data elements are 2-D arrays (images).
pub(super) const ELEMENTS_2D: u32 = 0x4122;
/// Tags hold the time only.
const TAG_TIME: u32 = 0x4152;
/// Tags hold the time and the beam's (x, y) position.
const TAG_TIME_XY: u32 = 0x4142;
/// More navigation dimensions than any scan TIA makes; a larger count is damage.
const MAX_DIMS: u32 = 8;
/// Longest dimension description or unit read (TIA writes a few characters).
const MAX_TEXT: u32 = 4096;

/// The header fields before the dimension arrays.
pub(super) struct Header {
    pub(super) version: u16,
    pub(super) wide: bool,
    pub(super) data_type_id: u32,
    pub(super) tag_type_id: u32,
    pub(super) total: u32,
    pub(super) valid: u32,
    pub(super) offset_array: u64,
    pub(super) ndim: u32,
}

/// One entry of the dimension array: a navigation axis of the series.
pub(super) struct Dim {
    pub(super) size: u32,
    pub(super) offset: f64,
    pub(super) delta: f64,
    pub(super) element: u32,
    pub(super) description: String,
    pub(super) units: String,
}

/// Calibration `value = offset + (index - element) × delta`.
#[derive(Clone, Copy, PartialEq)]
pub(super) struct Calibration {
    pub(super) offset: f64,
    pub(super) delta: f64,
    pub(super) element: u32,
}

impl Calibration {
    /// The value at index 0.
    pub(super) fn start(self) -> f64 {
        self.offset - f64::from(self.element) * self.delta
    }
}

/// The header of one data element.
#[derive(Clone, PartialEq)]
pub(super) struct ElementHeader {
    /// One calibration per axis, x first.
    pub(super) cal: Vec<Calibration>,
    pub(super) dtype: DType,
    /// Array sizes, x first.
    pub(super) sizes: Vec<u32>,
}

/// The number of valid elements the header states, or `None` if `bytes` is no SER header.
pub(super) fn valid_elements(bytes: &[u8]) -> Option<u32> {
    let mut c = Cursor::new(bytes, Endian::Little, F);
    c.seek(18).ok()?;
    c.u32().ok()
}

pub(super) fn header(c: &mut Cursor<'_>) -> Result<Header, FormatError> {
    let order = c.u16()?;
    if order != 0x4949 {
        return Err(FormatError::unsupported(
            F,
            format!("byte order 0x{order:04x}"),
            "TIA writes little-endian (0x4949) files only; re-export the series from TIA",
        ));
    }
    let id = c.u16()?;
    if id != 0x0197 {
        return Err(FormatError::corrupt(
            F,
            format!("series id 0x{id:04x}, not 0x0197"),
        ));
    }
    let version = c.u16()?;
    let wide = match version {
        0x0210 => false,
        0x0220 => true,
        v => {
            return Err(FormatError::unsupported(
                F,
                format!("version 0x{v:04x}"),
                "Tessera reads versions 0x0210 and 0x0220 (TIA 3 to 5); re-export from TIA",
            ));
        }
    };
    let data_type_id = c.u32()?;
    if data_type_id != ELEMENTS_1D && data_type_id != ELEMENTS_2D {
        return Err(FormatError::unsupported(
            F,
            format!("data type id 0x{data_type_id:04x}"),
            "Tessera reads series of 1-D (0x4120) and 2-D (0x4122) elements",
        ));
    }
    let tag_type_id = c.u32()?;
    let total = c.u32()?;
    let valid = c.u32()?;
    if valid > total {
        return Err(FormatError::corrupt(
            F,
            format!("{valid} valid elements of only {total}"),
        ));
    }
    if valid == 0 {
        return Err(FormatError::unsupported(
            F,
            "a series with no valid data elements",
            "the acquisition stopped before its first element was written (TIA keeps a \
             single spectrum in the EMI, which Tessera does not read); acquire it again",
        ));
    }
    let offset_array = if wide { c.u64()? } else { u64::from(c.u32()?) };
    let ndim = c.u32()?;
    if ndim > MAX_DIMS {
        return Err(FormatError::corrupt(
            F,
            format!("{ndim} navigation dimensions (at most {MAX_DIMS} are plausible)"),
        ));
    }
    Ok(Header {
        version,
        wide,
        data_type_id,
        tag_type_id,
        total,
        valid,
        offset_array,
        ndim,
    })
}

pub(super) fn dimension(c: &mut Cursor<'_>) -> Result<Dim, FormatError> {
    let size = c.u32()?;
    let offset = c.f64()?;
    let delta = c.f64()?;
    let element = c.u32()?;
    let description = text(c)?;
    let units = text(c)?;
    Ok(Dim {
        size,
        offset,
        delta,
        element,
        description,
        units,
    })
}

/// A length-prefixed string of the dimension array.
pub(super) fn text(c: &mut Cursor<'_>) -> Result<String, FormatError> {
    let n = c.u32()?;
    if n > MAX_TEXT {
        return Err(FormatError::corrupt(
            F,
            format!("a dimension text of {n} bytes (at most {MAX_TEXT} are plausible)"),
        ));
    }
    let b = c.take(u64::from(n))?;
    Ok(String::from_utf8_lossy(b)
        .trim_end_matches('\0')
        .trim()
        .to_string())
}

/// The data offsets of the `valid` elements. The whole offset array (a data offset and a tag
/// offset for each of the `total` elements) must lie in the file.
pub(super) fn offsets(c: &mut Cursor<'_>, h: &Header, width: u64) -> Result<Vec<u64>, FormatError> {
    c.seek(h.offset_array)?;
    let need = u64::from(h.total) * width * 2;
    if need > c.remaining() as u64 {
        return Err(FormatError::truncated(
            F,
            format!(
                "the offset arrays of {} elements need {need} bytes at offset {}, only {} left",
                h.total,
                h.offset_array,
                c.remaining()
            ),
        ));
    }
    (0..h.valid)
        .map(|_| {
            if width == 8 {
                c.u64()
            } else {
                c.u32().map(u64::from)
            }
        })
        .collect()
}

/// What the tags of the first two elements tell: the time of the first, and whether the
/// beam moved along y first (so that dimension 1 is not the fastest).
pub(super) struct Tags {
    pub(super) first_time: Option<u32>,
    pub(super) y_first: bool,
}

impl Tags {
    /// Reads the first two tags; a damaged tag only loses this information (noted).
    pub(super) fn read(
        c: &mut Cursor<'_>,
        h: &Header,
        width: u64,
        notes: &mut Vec<String>,
    ) -> Tags {
        let mut tags = Tags {
            first_time: None,
            y_first: false,
        };
        if h.tag_type_id != TAG_TIME && h.tag_type_id != TAG_TIME_XY {
            notes.push(format!(
                "tag type 0x{:04x} is not one TIA documents; the element tags were skipped",
                h.tag_type_id
            ));
            return tags;
        }
        let mut read_tag = |i: u64| -> Result<(u32, Option<(f64, f64)>), FormatError> {
            let at = h
                .offset_array
                .checked_add((u64::from(h.total) + i) * width)
                .ok_or_else(|| FormatError::corrupt(F, "tag offset overflows"))?;
            c.seek(at)?;
            let tag_at = if width == 8 {
                c.u64()?
            } else {
                u64::from(c.u32()?)
            };
            c.seek(tag_at)?;
            let _id = c.u16()?;
            let _reserved = c.u16()?;
            let time = c.u32()?;
            let xy = if h.tag_type_id == TAG_TIME_XY {
                Some((c.f64()?, c.f64()?))
            } else {
                None
            };
            Ok((time, xy))
        };
        match read_tag(0) {
            Ok((time, xy0)) => {
                tags.first_time = Some(time);
                if let (Some((x0, y0)), true) = (xy0, h.valid >= 2 && h.ndim >= 2) {
                    if let Ok((_, Some((x1, y1)))) = read_tag(1) {
                        tags.y_first = x0 == x1 && y0 != y1;
                    }
                }
            }
            Err(_) => notes.push("the first element's tag could not be read; skipped".into()),
        }
        tags
    }
}

pub(super) fn element_header(
    c: &mut Cursor<'_>,
    at: u64,
    data_type_id: u32,
) -> Result<ElementHeader, FormatError> {
    c.seek(at)?;
    let n_axes = if data_type_id == ELEMENTS_2D { 2 } else { 1 };
    let mut cal = Vec::with_capacity(n_axes);
    for _ in 0..n_axes {
        cal.push(Calibration {
            offset: c.f64()?,
            delta: c.f64()?,
            element: c.u32()?,
        });
    }
    let code = c.u16()?;
    let dtype = match code {
        1 => DType::U8,
        2 => DType::U16,
        3 => DType::U32,
        4 => DType::I8,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::F32,
        8 => DType::F64,
        9 => DType::Complex64,
        10 => DType::Complex128,
        other => {
            return Err(FormatError::unsupported(
                F,
                format!("data type {other}"),
                "TIA writes types 1 to 10 (integers, floats, complex); re-export from TIA",
            ));
        }
    };
    let sizes = (0..n_axes)
        .map(|_| c.u32())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ElementHeader { cal, dtype, sizes })
}
