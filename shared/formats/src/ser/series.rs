//! One SER file decoded into one signal: the elements' values in a row-major array, on the
//! navigation axes of the dimension arrays and the elements' own calibrated axes.

use crate::bytes::{Cursor, Endian, sample_size, samples_to_f32};
use crate::{Axis, DType, FormatError, ReadLimits, SignalKind, check_shape};

use super::layout::{
    Calibration, Dim, ELEMENTS_2D, ElementHeader, F, Header, Tags, dimension, element_header,
    header, offsets,
};

/// One SER file's series, decoded.
#[derive(Debug)]
pub(super) struct Series {
    /// Image, stack, spectrum or spectrum image.
    pub(super) kind: SignalKind,
    /// The stored sample type.
    pub(super) dtype: DType,
    /// Navigation axes (outermost first), then the element's own axes.
    pub(super) axes: Vec<Axis>,
    /// Row-major over `axes`.
    pub(super) data: Vec<f32>,
    /// 0x0210 (32-bit offsets) or 0x0220 (64-bit offsets).
    pub(super) version: u16,
    /// The first element's time tag, seconds since 1970-01-01 UTC.
    pub(super) first_time: Option<u32>,
    /// What was assumed or skipped.
    pub(super) notes: Vec<String>,
}

/// Decodes a SER file. `image_unit` is the unit of the images' axes where the EMI tells it
/// ("m" or "1/m"); without it the unit is told from the calibration's size.
pub(super) fn parse(
    bytes: &[u8],
    image_unit: Option<&str>,
    limits: &ReadLimits,
) -> Result<Series, FormatError> {
    let mut c = Cursor::new(bytes, Endian::Little, F);
    let h = header(&mut c)?;
    let mut notes = Vec::new();
    let dims = (0..h.ndim)
        .map(|_| dimension(&mut c))
        .collect::<Result<Vec<_>, _>>()?;

    let width: u64 = if h.wide { 8 } else { 4 };
    let data_offsets = offsets(&mut c, &h, width)?;
    let tags = Tags::read(&mut c, &h, width, &mut notes);

    // The first element decides the element shape and type; every other must match it.
    let first_offset = data_offsets.first().copied().unwrap_or(0);
    let first = element_header(&mut c, first_offset, h.data_type_id)?;
    let element_len = first
        .sizes
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s as usize))
        .ok_or_else(|| FormatError::corrupt(F, "a data element's size overflows"))?;
    if element_len == 0 {
        return Err(FormatError::corrupt(F, "the first data element is empty"));
    }

    let (nav, stored, fill) = navigation(&h, &dims, &tags, &first, &mut notes);
    let mut axes = nav;
    axes.extend(element_axes(&first, image_unit, &mut notes));
    let is_image = h.data_type_id == ELEMENTS_2D;
    let shape: Vec<usize> = axes.iter().map(|a| a.size).collect();
    let total = check_shape(F, "series", &shape, is_image, limits)?;
    if total != stored.saturating_add(fill).saturating_mul(element_len) {
        return Err(FormatError::corrupt(
            F,
            "the dimension array does not agree with the number of elements",
        ));
    }

    // Elements lie one after another: each starts after the previous one's data, so the
    // values read are bounded by the file's size (checked before allocating).
    let element_bytes = element_len
        .checked_mul(sample_size(first.dtype))
        .ok_or_else(|| FormatError::corrupt(F, "a data element's size overflows"))?;
    let stored_bytes = element_bytes.saturating_mul(stored);
    if stored_bytes > bytes.len() {
        return Err(FormatError::truncated(
            F,
            format!(
                "{stored} elements of {element_bytes} bytes cannot fit in {} bytes",
                bytes.len()
            ),
        ));
    }
    let mut data: Vec<f32> = Vec::new();
    if stored > 1 || fill > 0 {
        data.reserve_exact(total);
    }
    let row = first.sizes.first().map_or(1, |&x| x as usize);
    let mut next_free = 0u64;
    for (i, &offset) in data_offsets.iter().take(stored).enumerate() {
        if offset < next_free {
            return Err(FormatError::corrupt(
                F,
                format!("element {i} at offset {offset} overlaps the element before it"),
            ));
        }
        let eh = element_header(&mut c, offset, h.data_type_id)?;
        if eh.dtype != first.dtype || eh.sizes != first.sizes {
            return Err(FormatError::unsupported(
                F,
                format!("a series whose elements differ in size or type (element {i})"),
                "export the elements separately from TIA",
            ));
        }
        let raw = c.take(element_bytes as u64)?;
        next_free = c.pos() as u64;
        let mut values = samples_to_f32(raw, eh.dtype, Endian::Little, element_len, F)?;
        if is_image {
            flip_rows(&mut values, row);
        }
        if data.capacity() == 0 {
            data = values;
        } else {
            data.extend_from_slice(&values);
        }
    }
    data.resize(total, f32::NAN);

    let kind = match (is_image, axes.len()) {
        (true, 2) => SignalKind::Image,
        (true, _) => SignalKind::ImageStack,
        (false, 1) => SignalKind::Spectrum,
        (false, _) => SignalKind::SpectrumImage,
    };
    Ok(Series {
        kind,
        dtype: first.dtype,
        axes,
        data,
        version: h.version,
        first_time: tags.first_time,
        notes,
    })
}

/// The navigation axes (outermost first), the number of elements to read and the number of
/// missing elements to fill with NaN.
fn navigation(
    h: &Header,
    dims: &[Dim],
    tags: &Tags,
    first: &ElementHeader,
    notes: &mut Vec<String>,
) -> (Vec<Axis>, usize, usize) {
    let valid = h.valid as usize;
    let product = dims
        .iter()
        .try_fold(1u64, |n, d| n.checked_mul(u64::from(d.size)));
    let consistent = !dims.is_empty() && product == Some(u64::from(h.total));
    if !consistent {
        if !dims.is_empty() {
            notes.push(format!(
                "the dimension array ({}) does not multiply to the {} elements; they were \
                 read as a plain series",
                dims.iter()
                    .map(|d| d.size.to_string())
                    .collect::<Vec<_>>()
                    .join(" × "),
                h.total
            ));
        }
        let axes = if valid > 1 {
            vec![Axis::pixels("element", valid)]
        } else {
            Vec::new()
        };
        return (axes, valid, 0);
    }
    let images = first.sizes.len() == 2;
    if dims.len() == 1 {
        if h.valid < h.total {
            notes.push(format!(
                "the acquisition stopped after {} of {} elements; the {} written were read",
                h.valid, h.total, h.valid
            ));
        }
        let axes = match dims.first() {
            Some(d) if valid > 1 => vec![nav_axis(d, valid, nav_name(d, None, images))],
            _ => Vec::new(),
        };
        return (axes, valid, 0);
    }
    // Several dimensions: dimension 1 varies fastest unless the beam positions say otherwise.
    let mut order: Vec<&Dim> = dims.iter().collect();
    if !tags.y_first {
        order.reverse();
    }
    let n = order.len();
    let axes = order
        .iter()
        .enumerate()
        .filter(|(_, d)| d.size > 1)
        .map(|(i, d)| {
            let role = match n - i {
                1 => Some("x"),
                2 => Some("y"),
                _ => None,
            };
            nav_axis(d, d.size as usize, nav_name(d, role, images))
        })
        .collect();
    let total = h.total as usize;
    if valid < total {
        notes.push(format!(
            "the acquisition stopped after {valid} of {total} elements; the missing ones \
             are NaN"
        ));
    }
    (axes, valid, total - valid)
}

fn nav_name(d: &Dim, role: Option<&str>, images: bool) -> String {
    match (d.description.as_str(), role) {
        ("Number", _) => "frame".into(),
        (_, Some(r)) if images => format!("scan_{r}"),
        (_, Some(r)) => r.into(),
        ("Position", None) => "position".into(),
        ("", None) => "element".into(),
        (other, None) => other.to_lowercase(),
    }
}

fn nav_axis(d: &Dim, size: usize, name: String) -> Axis {
    let cal = Calibration {
        offset: d.offset,
        delta: d.delta,
        element: d.element,
    };
    Axis::calibrated(&name, size, d.delta, cal.start(), unit_name(&d.units))
}

/// TIA's SI unit names in the short form the rest of Tessera uses.
fn unit_name(units: &str) -> &str {
    match units {
        "meters" => "m",
        "1/meters" => "1/m",
        other => other,
    }
}

/// The element's own axes: `[channel]` for 1-D elements, `[y, x]` for 2-D.
fn element_axes(
    first: &ElementHeader,
    image_unit: Option<&str>,
    notes: &mut Vec<String>,
) -> Vec<Axis> {
    match (first.cal.as_slice(), first.sizes.as_slice()) {
        ([cx, cy], [nx, ny]) => {
            let unit = match image_unit {
                _ if cx.delta == 1.0 && cx.offset == 0.0 => "",
                Some(u) => u,
                None => {
                    let u = if cx.delta.abs() < 1.0 { "m" } else { "1/m" };
                    notes.push(format!(
                        "the image unit is taken to be {u} from the size of its step (the SER \
                         stores none, and no EMI said)"
                    ));
                    u
                }
            };
            vec![
                Axis::calibrated("y", *ny as usize, cy.delta, cy.start(), unit),
                Axis::calibrated("x", *nx as usize, cx.delta, cx.start(), unit),
            ]
        }
        ([c], [n]) => {
            notes.push(
                "the spectrum's energy axis is in eV, TIA's convention (the SER stores no unit)"
                    .into(),
            );
            vec![Axis::calibrated(
                "energy",
                *n as usize,
                c.delta,
                c.start(),
                "eV",
            )]
        }
        _ => Vec::new(),
    }
}

/// Reverses the order of the rows of one image in place: TIA stores the bottom row first.
fn flip_rows(values: &mut [f32], row: usize) {
    if row == 0 {
        return;
    }
    let rows = values.len() / row;
    for r in 0..rows / 2 {
        let (top, bottom) = values.split_at_mut((rows - 1 - r) * row);
        if let (Some(a), Some(b)) = (top.get_mut(r * row..(r + 1) * row), bottom.get_mut(..row)) {
            a.swap_with_slice(b);
        }
    }
}
