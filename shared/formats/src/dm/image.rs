//! One entry of `ImageList` into a [`Signal`]: its sample type, dimensions, calibration,
//! kind and data.

use std::collections::BTreeMap;

use crate::bytes::{Endian, sample_size, samples_to_f32};
use crate::{Axis, DType, FormatError, ReadLimits, Signal, SignalKind, check_shape};

use super::meta::{Flags, text_at};
use super::tags::{Group, Tree, within};

/// Most dimensions of one image accepted.
const MAX_DIMS: usize = 8;

/// The sample type of DM's `ImageData.DataType`, or why it is not read.
///
/// Codes (Gatan's image data types, as listed by RosettaSciIO's reader and Gwyddion's): 1 i16,
/// 2 f32, 3 complex64, 6 u8, 7 i32, 8 and 23 RGB(A) 8-bit packed in 4 bytes, 9 i8, 10 u16,
/// 11 u32, 12 f64, 13 complex128, 14 bool (1 byte); 39 and 40 are the signed and unsigned
/// 64-bit integers of newer DM versions (undocumented values, as a GMS plug-in built on
/// Gatan's SDK names them). 4 is obsolete; 5, 27 and 28 are packed (FFT) complex.
pub(super) fn dtype(code: u64) -> Result<DType, String> {
    Ok(match code {
        1 => DType::I16,
        2 => DType::F32,
        3 => DType::Complex64,
        6 => DType::U8,
        7 => DType::I32,
        8 | 23 => DType::Rgb8,
        9 => DType::I8,
        10 => DType::U16,
        11 => DType::U32,
        12 => DType::F64,
        13 => DType::Complex128,
        14 => DType::Bool,
        39 => DType::I64,
        40 => DType::U64,
        5 | 27 | 28 => {
            return Err(format!(
                "packed complex (FFT) data, DataType {code}; convert it to complex in \
                 DigitalMicrograph and save again"
            ));
        }
        c => {
            return Err(format!(
                "image DataType {c}; save the image as a real or integer type"
            ));
        }
    })
}

/// One calibrated dimension, in DM's order (fastest first).
#[derive(Debug, Clone, PartialEq)]
struct Dim {
    size: usize,
    scale: f64,
    /// Physical value of pixel 0: `-Origin × Scale` (DM's Origin is in pixels).
    offset: f64,
    unit: String,
}

/// Reads entry `index` of `ImageList`. `name` is the name to use when the image has none.
pub(super) fn read(
    tree: &Tree<'_>,
    image: &Group,
    index: usize,
    fallback_name: &str,
    limits: &ReadLimits,
) -> Result<Signal, FormatError> {
    let fmt = tree.format;
    let at = |e: FormatError| within(e, &format!("ImageList/#{index}/ImageData"));
    let data = image.group("ImageData").ok_or_else(|| {
        FormatError::corrupt(fmt, format!("ImageList entry {index} has no ImageData"))
    })?;
    let code = data
        .value_at(&["DataType"])
        .and_then(|v| tree.num(v))
        .ok_or_else(|| at(FormatError::corrupt(fmt, "no DataType")))?;
    let dtype = dtype(code as u64)
        .map_err(|what| FormatError::unsupported(fmt, what, "or export it as TIFF"))?;
    let dims = dims(tree, data).map_err(at)?;

    let tags = image.group("ImageTags");
    let flags = tags.map(|t| Flags::of(tree, t)).unwrap_or_default();
    let layout = layout(&dims, &flags);
    let shape: Vec<usize> = layout.axes.iter().map(|a| a.size).collect();
    let name = text_at(tree, image, &["Name"])
        .or_else(|| text_at(tree, data, &["Name"]))
        .unwrap_or_else(|| fallback_name.to_string());
    let count = check_shape(
        fmt,
        &format!("image '{name}'"),
        &shape,
        matches!(layout.kind, SignalKind::Image | SignalKind::ImageStack),
        limits,
    )?;

    let value = data
        .value_at(&["Data"])
        .ok_or_else(|| at(FormatError::corrupt(fmt, "no Data")))?;
    let (_, _, raw) = tree.array(value).ok_or_else(|| {
        at(FormatError::corrupt(
            fmt,
            "Data is not an array of numbers".to_string(),
        ))
    })?;
    let need = count
        .checked_mul(sample_size(dtype))
        .ok_or_else(|| FormatError::corrupt(fmt, "image size overflows"))?;
    if raw.len() != need {
        return Err(at(FormatError::corrupt(
            fmt,
            format!(
                "Data holds {} bytes, but {} {} values of {} make {need}",
                raw.len(),
                shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(" × "),
                dtype.name(),
                sample_size(dtype)
            ),
        )));
    }
    let mut values = if dtype == DType::Rgb8 {
        rgb_luma(raw, tree.endian)
    } else {
        samples_to_f32(raw, dtype, tree.endian, count, fmt)?
    };
    if let Some((rows, cols)) = layout.transpose {
        values = transpose(&values, rows, cols);
    }

    let mut metadata = BTreeMap::new();
    metadata.insert("dm_data_type".to_string(), (code as u64).to_string());
    if let Some(s) = &flags.signal {
        metadata.insert("signal_type".into(), s.clone());
    }
    if let Some(s) = &flags.format {
        metadata.insert("dm_format".into(), s.clone());
    }
    intensity(tree, data, &mut metadata);
    Ok(Signal {
        name,
        kind: layout.kind,
        dtype,
        axes: layout.axes,
        data: values,
        metadata,
    })
}

/// `ImageData.Dimensions` (fastest first) with `ImageData.Calibrations.Dimension`; missing
/// calibrations are uncalibrated (scale 1, offset 0, no unit).
fn dims(tree: &Tree<'_>, data: &Group) -> Result<Vec<Dim>, FormatError> {
    let fmt = tree.format;
    let sizes = data
        .group("Dimensions")
        .ok_or_else(|| FormatError::corrupt(fmt, "no Dimensions"))?;
    let cal: Vec<&Group> = data
        .group_at(&["Calibrations", "Dimension"])
        .map(|g| g.groups().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, v) in sizes.values().enumerate() {
        if i >= MAX_DIMS {
            return Err(FormatError::unsupported(
                fmt,
                format!("an image of more than {MAX_DIMS} dimensions"),
                "export a part of it",
            ));
        }
        let size = match v {
            super::tags::Value::Num(n) => n.as_u64(),
            _ => None,
        }
        .and_then(|s| usize::try_from(s).ok())
        .filter(|&s| s > 0)
        .ok_or_else(|| {
            FormatError::corrupt(fmt, format!("dimension {i} is not a positive integer"))
        })?;
        let c = cal.get(i);
        let num = |k: &str| {
            c.and_then(|g| g.value_at(&[k]))
                .and_then(|v| tree.num(v))
                .filter(|x| x.is_finite())
        };
        let scale = num("Scale").filter(|&s| s != 0.0).unwrap_or(1.0);
        let origin = num("Origin").unwrap_or(0.0);
        let unit = c
            .and_then(|g| text_at(tree, g, &["Units"]))
            .unwrap_or_default();
        // Origin is the pixel index of physical zero; +0.0 turns -0.0 into 0.0.
        let offset = -origin * scale + 0.0;
        out.push(Dim {
            size,
            scale,
            offset,
            unit,
        });
    }
    if out.is_empty() {
        return Err(FormatError::corrupt(fmt, "Dimensions is empty"));
    }
    Ok(out)
}

/// How the values are laid out for the model.
#[derive(Debug)]
struct Layout {
    kind: SignalKind,
    /// Outermost first.
    axes: Vec<Axis>,
    /// The file's values, seen as `rows × cols`, are to be transposed (the spectrum axis is
    /// DM's slowest and must become the fastest).
    transpose: Option<(usize, usize)>,
}

/// Energy units: a spectrum axis.
fn is_energy(unit: &str) -> bool {
    matches!(unit.trim(), "eV" | "keV" | "meV" | "MeV")
}

/// Decides the kind and the axis order. DM lists dimensions fastest first; the values in the
/// file are row-major over the reversed list (the slowest outermost).
///
/// - 1-D: a spectrum when its unit is an energy or DM's `Meta Data` calls it a spectrum or
///   names an EELS, EDS or CL signal; else a profile (`Other`).
/// - 2-D: an image, unless `Meta Data.Format` says spectrum (image) or exactly one axis is an
///   energy: then spectra along a line, `[position, channel]`.
/// - 3-D: a spectrum image when `Meta Data.Format` is "Spectrum image", there is an Orsay
///   `spim` group, or the slowest or fastest axis is an energy. DM stores a spectrum image
///   with the spectrum as its slowest (last) dimension, e.g. `Dimensions` 2, 2, 2048 with eV
///   on the third (RosettaSciIO turns that axis into the signal axis), so the values are
///   transposed to `[y, x, channel]`. Otherwise a stack `[frame, y, x]`.
/// - 4-D and more: `Other`, axes in the file's order.
fn layout(dims: &[Dim], flags: &Flags) -> Layout {
    let n = dims.len();
    let energy: Vec<bool> = dims.iter().map(|d| is_energy(&d.unit)).collect();
    let axis = |i: usize, name: &str| {
        let d = &dims[i];
        Axis::calibrated(name, d.size, d.scale, d.offset, &d.unit)
    };
    let spectral_name = |i: usize| {
        if energy[i] {
            "energy"
        } else if flags.is_cl() && dims[i].unit.trim() == "nm" {
            "wavelength"
        } else {
            "channel"
        }
    };
    let plain = |kind: SignalKind, names: &[&str]| Layout {
        kind,
        axes: (0..n).rev().zip(names).map(|(i, nm)| axis(i, nm)).collect(),
        transpose: None,
    };
    // A spectrum axis `c` that is DM's slowest (n - 1) or fastest (0) dimension.
    let spectra = |c: usize, nav: &[&str]| {
        let rest: Vec<usize> = (0..n).rev().filter(|&i| i != c).collect();
        let mut axes: Vec<Axis> = rest.iter().zip(nav).map(|(&i, nm)| axis(i, nm)).collect();
        axes.push(axis(c, spectral_name(c)));
        let transpose = (c == n - 1).then(|| {
            let cols = rest.iter().map(|&i| dims[i].size).product();
            (dims[c].size, cols)
        });
        Layout {
            kind: SignalKind::SpectrumImage,
            axes,
            transpose,
        }
    };
    match n {
        1 => {
            let spectrum = energy[0] || flags.says_spectrum() || flags.is_spectroscopy();
            if spectrum {
                Layout {
                    kind: SignalKind::Spectrum,
                    axes: vec![axis(0, spectral_name(0))],
                    transpose: None,
                }
            } else {
                plain(SignalKind::Other, &["x"])
            }
        }
        2 => {
            if energy[0] != energy[1] {
                spectra(if energy[1] { 1 } else { 0 }, &["position"])
            } else if flags.says_spectrum() {
                // RosettaSciIO reads a 2-D spectrum (image) with the fastest axis as the signal.
                spectra(0, &["position"])
            } else {
                plain(SignalKind::Image, &["y", "x"])
            }
        }
        3 => {
            let flagged = flags.says_spectrum_image();
            if energy[2] && !energy[0] {
                spectra(2, &["y", "x"])
            } else if energy[0] && !energy[2] {
                spectra(0, &["y", "x"])
            } else if flagged {
                spectra(2, &["y", "x"])
            } else {
                plain(SignalKind::ImageStack, &["frame", "y", "x"])
            }
        }
        _ => {
            let names: Vec<String> = (0..n).rev().map(|i| format!("axis {i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            plain(SignalKind::Other, &refs)
        }
    }
}

/// DM's RGB types store one pixel as a 32-bit value `0xAARRGGBB` in the file's byte order
/// (bytes B, G, R, A in a little-endian file); to Rec. 709 luminance.
fn rgb_luma(raw: &[u8], endian: Endian) -> Vec<f32> {
    let [wr, wg, wb] = tessera_imaging::LUMA_709;
    raw.chunks_exact(4)
        .map(|c| {
            let v = match endian {
                Endian::Little => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                Endian::Big => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            };
            let ch = |s: u32| ((v >> s) & 0xff) as f32;
            wr * ch(16) + wg * ch(8) + wb * ch(0)
        })
        .collect()
}

/// Transposes `rows × cols` row-major values to `cols × rows`, in cache-friendly blocks.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const B: usize = 32;
    let mut out = vec![0.0f32; v.len()];
    if rows.checked_mul(cols) != Some(v.len()) {
        return v.to_vec();
    }
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    out[c * rows + r] = v[r * cols + c];
                }
            }
        }
    }
    out
}

/// The intensity calibration (`Calibrations.Brightness`: value = (raw − Origin) × Scale)
/// where it is not the identity.
fn intensity(tree: &Tree<'_>, data: &Group, md: &mut BTreeMap<String, String>) {
    let Some(b) = data.group_at(&["Calibrations", "Brightness"]) else {
        return;
    };
    let num = |k: &str| b.value_at(&[k]).and_then(|v| tree.num(v));
    let scale = num("Scale").unwrap_or(1.0);
    let origin = num("Origin").unwrap_or(0.0);
    let unit = text_at(tree, b, &["Units"]);
    if scale != 1.0 || origin != 0.0 || unit.is_some() {
        md.insert("intensity_scale".into(), scale.to_string());
        md.insert(
            "intensity_offset".into(),
            (-origin * scale + 0.0).to_string(),
        );
        if let Some(u) = unit {
            md.insert("intensity_unit".into(), u);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(size: usize, unit: &str) -> Dim {
        Dim {
            size,
            scale: 1.0,
            offset: 0.0,
            unit: unit.into(),
        }
    }

    #[test]
    fn spectrum_images_move_the_spectrum_axis_last() {
        let l = layout(
            &[dim(3, "µm"), dim(2, "µm"), dim(5, "eV")],
            &Flags::default(),
        );
        assert_eq!(l.kind, SignalKind::SpectrumImage);
        let shape: Vec<usize> = l.axes.iter().map(|a| a.size).collect();
        assert_eq!(shape, [2, 3, 5]);
        assert_eq!(l.transpose, Some((5, 6)));
        let l = layout(
            &[dim(5, "eV"), dim(3, "nm"), dim(2, "nm")],
            &Flags::default(),
        );
        assert_eq!(l.kind, SignalKind::SpectrumImage);
        assert_eq!(l.transpose, None);
        let l = layout(&[dim(4, "nm"), dim(4, "nm"), dim(3, "")], &Flags::default());
        assert_eq!(l.kind, SignalKind::ImageStack);
        assert_eq!(l.axes[0].name, "frame");
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(transpose(&v, 2, 3), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn rgb_is_read_as_argb_words() {
        // Little-endian bytes B, G, R, A of pure red.
        let v = rgb_luma(&[0, 0, 255, 0], Endian::Little);
        assert!((v[0] - 255.0 * tessera_imaging::LUMA_709[0]).abs() < 1e-3);
    }
}
