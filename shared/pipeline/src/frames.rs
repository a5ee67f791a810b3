//! A frame's raw samples (inline, or fetched from the object store) to a raster.

use tessera_imaging::Raster;
use tessera_protocol::{Frame, samples_to_f32};

use crate::PipelineError;

/// The raster of `frame`, whose raw samples are `samples` (the inline bytes, or the object the
/// frame refers to). The length must match the frame's shape and dtype exactly.
pub fn frame_raster(frame: &Frame, samples: &[u8]) -> Result<Raster, PipelineError> {
    let values = samples_to_f32(frame.dtype, frame.width, frame.height, samples)?;
    Ok(Raster::new(
        frame.width as usize,
        frame.height as usize,
        values,
    )?)
}

/// The 8-bit preview of a normalised frame: `round(255 · v)` of each value in `[0, 1]`
/// (NaN as 0). Overlays drawn from it differ from ones drawn from the `f32` values by at most
/// one gray level in blended pixels; the label map does not depend on it.
pub fn gray8(normalized: &[f32]) -> Vec<u8> {
    normalized
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0
            } else {
                (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tessera_protocol::{Dtype, Pixels, RunId};

    use super::*;

    fn frame(width: u32, height: u32, bytes: Vec<u8>) -> Frame {
        Frame {
            version: tessera_protocol::PROTOCOL_VERSION,
            run: RunId::new("r").unwrap(),
            seq: 0,
            timestamp_ms: 0,
            width,
            height,
            dtype: Dtype::U16,
            pixel_size_nm: None,
            dose: None,
            scalars: BTreeMap::new(),
            pixels: Pixels::Inline(bytes),
        }
    }

    #[test]
    fn u16_samples_become_their_values() {
        let bytes: Vec<u8> = [1u16, 2, 300, 65535]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = frame(2, 2, bytes.clone());
        let r = frame_raster(&f, &bytes).unwrap();
        assert_eq!(r.pixels, [1.0, 2.0, 300.0, 65535.0]);
    }

    #[test]
    fn gray8_rounds_and_clamps() {
        assert_eq!(
            gray8(&[0.0, 0.5, 1.0, 1.5, -1.0, f32::NAN, 0.001_9]),
            [0, 128, 255, 255, 0, 0, 0]
        );
    }

    #[test]
    fn short_samples_are_an_error_naming_the_length() {
        let f = frame(2, 2, vec![0; 8]);
        let err = frame_raster(&f, &[0; 6]).unwrap_err().to_string();
        assert!(err.contains('6'), "{err}");
    }
}
