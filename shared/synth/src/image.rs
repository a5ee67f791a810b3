//! [`SynthImage`], the output of every generator, and 16-bit conversion.

/// A grayscale image with its exact ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major intensities, roughly in `[0, 1]` (noise may step outside).
    pub pixels: Vec<f32>,
    /// Row-major region id per pixel (phase for scenes, texture index for mosaics).
    pub truth: Vec<u8>,
}

impl SynthImage {
    /// Number of region ids, i.e. the largest truth id plus one (0 for an empty image).
    pub fn classes(&self) -> usize {
        self.truth.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// Fraction of pixels carrying each truth id `0..classes()`.
    pub fn class_fractions(&self) -> Vec<f64> {
        let mut counts = [0u64; 256];
        for &t in &self.truth {
            counts[usize::from(t)] += 1;
        }
        let n = self.truth.len().max(1) as f64;
        counts[..self.classes()]
            .iter()
            .map(|&c| c as f64 / n)
            .collect()
    }

    /// The truth widened to `u32`, e.g. for code that wants one label type throughout.
    pub fn truth_u32(&self) -> Vec<u32> {
        self.truth.iter().map(|&t| u32::from(t)).collect()
    }
}

/// Converts intensities to 16-bit: clips to `[0, 1]` and scales to `0..=65535` (rounding).
/// NaN becomes 0.
pub fn to_u16(pixels: &[f32]) -> Vec<u16> {
    pixels
        .iter()
        .map(|&v| {
            let c = if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
            (c * 65535.0).round() as u16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_u16_clips_and_rounds() {
        let out = to_u16(&[-0.5, 0.0, 0.5, 1.0, 2.0, f32::NAN, f32::INFINITY]);
        assert_eq!(out, vec![0, 0, 32768, 65535, 65535, 0, 65535]);
    }

    #[test]
    fn fractions_sum_to_one() {
        let img = SynthImage {
            width: 2,
            height: 2,
            pixels: vec![0.0; 4],
            truth: vec![0, 2, 2, 2],
        };
        assert_eq!(img.classes(), 3);
        assert_eq!(img.class_fractions(), vec![0.25, 0.0, 0.75]);
    }
}
