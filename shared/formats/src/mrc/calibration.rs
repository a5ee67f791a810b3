//! The calibration of the X, Y and Z axes: the pixel size from the cell and its sampling,
//! the offsets from ORIGIN or the start indices.

use crate::Axis;

use super::Layout;
use super::fei::FeiRecord;
use super::header::Header;

/// Pixel size and offset along X, Y and Z (index 0, 1, 2), in Å, where known.
pub(super) struct Calibration {
    scale: [Option<f64>; 3],
    offset: [f64; 3],
}

impl Calibration {
    /// The axis `name` of `size` samples along X, Y or Z (`i` = 0, 1, 2).
    pub(super) fn axis(&self, name: &str, i: usize, size: usize) -> Axis {
        match self.scale.get(i).copied().flatten() {
            Some(s) => {
                let offset = self.offset.get(i).copied().unwrap_or(0.0);
                Axis::calibrated(name, size, s, offset, "Å")
            }
            None => Axis::pixels(name, size),
        }
    }
}

/// Cell / M per axis, falling back to an FEI header's pixel size along X and Y.
pub(super) fn calibration(
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
    // Angles of zero are "not stated" (some writers leave them so), not a flat cell.
    let angles_stated = h.angles.iter().any(|&a| a != 0.0);
    if !planar && angles_stated && h.angles.iter().any(|a| (a - 90.0).abs() > 0.01) {
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
