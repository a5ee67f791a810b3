//! Turning grayscale chips in `[0, 1]` into the network's input tensor.
//!
//! A chip of side `chip` is resampled to the network side `side` once, as one plane, with a
//! separable triangle filter whose support widens when shrinking (so down-scaling averages
//! rather than aliases). The plane is then written into every input channel through the
//! manifest's per-channel affine normalisation, in NCHW or NHWC order. When `chip == side` the
//! resampling is skipped.

use crate::{Layout, ModelManifest};

/// One output sample's source taps along an axis.
#[derive(Debug, Clone)]
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// Precomputed resampling weights along one axis, from `from` samples to `to`.
fn axis_taps(from: usize, to: usize) -> Vec<Taps> {
    let scale = from as f32 / to as f32;
    let support = scale.max(1.0);
    (0..to)
        .map(|o| {
            let centre = (o as f32 + 0.5) * scale - 0.5;
            let lo = (centre - support).ceil().max(0.0) as usize;
            let hi = ((centre + support).floor() as usize).min(from - 1);
            let mut weights: Vec<f32> = (lo..=hi)
                .map(|i| (1.0 - (i as f32 - centre).abs() / support).max(0.0))
                .collect();
            let sum: f32 = weights.iter().sum();
            if sum > 0.0 {
                weights.iter_mut().for_each(|w| *w /= sum);
            } else {
                // Only reachable for degenerate sizes: take the nearest sample.
                weights = vec![1.0];
                return Taps {
                    start: (centre.round().max(0.0) as usize).min(from - 1),
                    weights,
                };
            }
            Taps { start: lo, weights }
        })
        .collect()
}

/// Packs chips into a network input buffer.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    chip: usize,
    side: usize,
    layout: Layout,
    affine: Vec<(f32, f32)>,
    taps: Option<Vec<Taps>>,
}

impl Preprocessor {
    /// A preprocessor from `chip`-sided chips to the network described by `manifest` at `side`.
    pub fn new(manifest: &ModelManifest, chip: usize, side: usize) -> Self {
        Preprocessor {
            chip,
            side,
            layout: manifest.layout,
            affine: manifest.affine(),
            taps: (chip != side).then(|| axis_taps(chip, side)),
        }
    }

    /// Number of `f32` values one chip occupies in the input tensor.
    pub fn input_len(&self) -> usize {
        self.affine.len() * self.side * self.side
    }

    /// The input tensor's shape for `n` chips.
    pub fn shape(&self, n: usize) -> [i64; 4] {
        let (c, s) = (self.affine.len() as i64, self.side as i64);
        match self.layout {
            Layout::Nchw => [n as i64, c, s, s],
            Layout::Nhwc => [n as i64, s, s, c],
        }
    }

    /// Writes `chips` (`n × chip × chip`, row-major) into `out` (`n × input_len()`).
    ///
    /// `plane` is scratch space, reused across calls to avoid allocation.
    pub fn fill(&self, chips: &[f32], out: &mut [f32], plane: &mut Vec<f32>) {
        let area = self.chip * self.chip;
        let per = self.input_len();
        for (chip, dst) in chips.chunks_exact(area).zip(out.chunks_exact_mut(per)) {
            let src: &[f32] = match &self.taps {
                None => chip,
                Some(taps) => {
                    self.resample(chip, taps, plane);
                    plane
                }
            };
            self.write_channels(src, dst);
        }
    }

    fn resample(&self, chip: &[f32], taps: &[Taps], plane: &mut Vec<f32>) {
        let (c, s) = (self.chip, self.side);
        // Horizontal pass: c rows of s samples, then the vertical pass into s × s.
        let mut rows = vec![0.0f32; c * s];
        for (src, dst) in chip.chunks_exact(c).zip(rows.chunks_exact_mut(s)) {
            for (d, t) in dst.iter_mut().zip(taps) {
                *d = t
                    .weights
                    .iter()
                    .zip(&src[t.start..])
                    .map(|(w, v)| w * v)
                    .sum();
            }
        }
        plane.clear();
        plane.resize(s * s, 0.0);
        for (dst, t) in plane.chunks_exact_mut(s).zip(taps) {
            for (k, w) in t.weights.iter().enumerate() {
                let src = &rows[(t.start + k) * s..(t.start + k + 1) * s];
                dst.iter_mut().zip(src).for_each(|(d, v)| *d += w * v);
            }
        }
    }

    fn write_channels(&self, plane: &[f32], dst: &mut [f32]) {
        let channels = self.affine.len();
        match self.layout {
            Layout::Nchw => {
                for (&(a, b), out) in self.affine.iter().zip(dst.chunks_exact_mut(plane.len())) {
                    out.iter_mut().zip(plane).for_each(|(o, v)| *o = v * a + b);
                }
            }
            Layout::Nhwc => {
                for (px, v) in dst.chunks_exact_mut(channels).zip(plane) {
                    px.iter_mut()
                        .zip(&self.affine)
                        .for_each(|(o, (a, b))| *o = v * a + b);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(layout: &str, channels: &str) -> ModelManifest {
        ModelManifest::from_toml(&format!(
            "name='t'\nfile='m.onnx'\ninput='input'\noutput='features'\nembedding_dim=4\n\
             layout='{layout}'\nchannels='{channels}'\ninput_size=4\n\
             [normalize]\nscale=255.0\nmean=[127.0]\nstd=[128.0]\n"
        ))
        .unwrap()
    }

    #[test]
    fn identity_size_only_normalises() {
        let p = Preprocessor::new(&manifest("NCHW", "RGB"), 2, 2);
        let chip = [0.0, 1.0, 0.5, 0.25];
        let mut out = vec![0.0; p.input_len()];
        p.fill(&chip, &mut out, &mut Vec::new());
        let want: Vec<f32> = chip.iter().map(|v| (v * 255.0 - 127.0) / 128.0).collect();
        for c in 0..3 {
            assert_eq!(&out[c * 4..c * 4 + 4], &want[..]);
        }
        assert_eq!(p.shape(5), [5, 3, 2, 2]);
    }

    #[test]
    fn nhwc_interleaves_channels() {
        let p = Preprocessor::new(&manifest("NHWC", "RGB"), 2, 2);
        let mut out = vec![0.0; p.input_len()];
        p.fill(&[1.0, 0.0, 0.0, 0.0], &mut out, &mut Vec::new());
        let one = 128.0 / 128.0;
        assert_eq!(&out[..3], &[one, one, one]);
        assert_eq!(p.shape(1), [1, 2, 2, 3]);
    }

    #[test]
    fn downscaling_averages_and_keeps_constants() {
        let p = Preprocessor::new(&manifest("NCHW", "GRAY"), 8, 4);
        let constant = vec![0.3f32; 64];
        let mut out = vec![0.0; p.input_len()];
        p.fill(&constant, &mut out, &mut Vec::new());
        let want = (0.3 * 255.0 - 127.0) / 128.0;
        assert!(out.iter().all(|v| (v - want).abs() < 1e-5), "{out:?}");
        // A checkerboard averages to grey when halved.
        let checker: Vec<f32> = (0..64).map(|i| ((i / 8 + i % 8) % 2) as f32).collect();
        p.fill(&checker, &mut out, &mut Vec::new());
        let grey = (0.5 * 255.0 - 127.0) / 128.0;
        assert!(out.iter().all(|v| (v - grey).abs() < 0.2), "{out:?}");
    }

    #[test]
    fn upscaling_interpolates_between_samples() {
        let p = Preprocessor::new(&manifest("NCHW", "GRAY"), 2, 4);
        let mut out = vec![0.0; p.input_len()];
        // Left column 0, right column 1: every output row must rise monotonically.
        p.fill(&[0.0, 1.0, 0.0, 1.0], &mut out, &mut Vec::new());
        for row in out.chunks_exact(4) {
            assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        }
    }
}
