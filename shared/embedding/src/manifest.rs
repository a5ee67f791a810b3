//! The model manifest: what an ONNX image encoder expects and what it returns.
//!
//! A manifest is a small TOML file beside the model:
//!
//! ```toml
//! name = "efficientnet-lite0"
//! file = "model.onnx"
//! input = "input"
//! output = "features"
//! embedding_dim = 1280
//! layout = "NCHW"          # NCHW | NHWC
//! channels = "RGB"         # RGB | BGR | GRAY (gray chips are replicated for RGB and BGR)
//! input_size = 224         # the side the network was trained at
//! dynamic_size = true      # the network accepts other sides (fully convolutional)
//! precision = "fp32"       # optional: the number format of the stored weights (fp32 | fp16 | int8)
//! [normalize]              # x = (v * scale - mean[c]) / std[c], with v in [0, 1]
//! scale = 255.0
//! mean = [127.0, 127.0, 127.0]
//! std = [128.0, 128.0, 128.0]
//! [extra_outputs]          # optional named outputs and their widths, e.g. class logits
//! logits = 1000
//! [raw_input]              # optional: the graph preprocesses itself (see below)
//! dtype = "uint8"          # uint8 (v * 255, rounded) | float32 (v in [0, 1])
//! chip = 64                # the chip side the graph takes
//! ```
//!
//! With `[raw_input]`, the model's input is the chips as they are, `[N, 1, chip, chip]`: the
//! resampling and normalisation were prepended to the graph at provisioning
//! (`scripts/tessera_provision/raw_input.py`), so they run where the model runs (on the GPU
//! there) and the upload is `chip²` bytes a chip instead of `3 × side²` floats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Precision;

/// Memory layout of the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Batch, channel, height, width.
    #[serde(rename = "NCHW")]
    Nchw,
    /// Batch, height, width, channel.
    #[serde(rename = "NHWC")]
    Nhwc,
}

/// Channel order of the network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelOrder {
    /// Three channels, red first.
    #[serde(rename = "RGB")]
    Rgb,
    /// Three channels, blue first.
    #[serde(rename = "BGR")]
    Bgr,
    /// One channel.
    #[serde(rename = "GRAY")]
    Gray,
}

impl ChannelOrder {
    /// Number of input channels.
    pub fn count(self) -> usize {
        match self {
            ChannelOrder::Gray => 1,
            ChannelOrder::Rgb | ChannelOrder::Bgr => 3,
        }
    }
}

/// Per-channel input normalisation: `x = (v * scale - mean[c]) / std[c]` for `v` in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    /// Multiplier from `[0, 1]` to the network's pixel range (255 for 8-bit-trained networks).
    pub scale: f32,
    /// Per-channel mean, in the scaled range; one value or one per channel.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation, in the scaled range; one value or one per channel.
    pub std: Vec<f32>,
}

/// The element type of a raw-chip input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawDtype {
    /// 8-bit: `round(v × 255)`.
    Uint8,
    /// 32-bit floats in `[0, 1]`.
    Float32,
}

/// A model whose graph resamples and normalises the chips itself (`[raw_input]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// What one chip value is sent as.
    pub dtype: RawDtype,
    /// The chip side the graph was built for.
    pub chip: usize,
}

/// Everything Tessera needs to know about an ONNX image encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelManifest {
    /// A short name for reports and cache keys.
    pub name: String,
    /// The ONNX file, relative to the manifest's directory.
    pub file: String,
    /// Name of the image input.
    pub input: String,
    /// Name of the embedding output, of shape `[N, embedding_dim]`.
    pub output: String,
    /// Width of the embedding output.
    pub embedding_dim: usize,
    /// Input layout.
    pub layout: Layout,
    /// Input channel order.
    pub channels: ChannelOrder,
    /// The input side the network was trained at, in pixels.
    pub input_size: usize,
    /// Whether the network accepts input sides other than `input_size`.
    #[serde(default)]
    pub dynamic_size: bool,
    /// Input normalisation.
    pub normalize: Normalize,
    /// Other outputs, by name, with their widths (for example class logits).
    #[serde(default)]
    pub extra_outputs: BTreeMap<String, usize>,
    /// Set when the graph takes the chips as they are and preprocesses them itself.
    #[serde(default)]
    pub raw_input: Option<RawInput>,
    /// The number format the model was stored in: `int8` for a quantised (Q/DQ) graph. What
    /// `--precision` reports on the CPU and CUDA providers, which run a model as stored.
    #[serde(default)]
    pub precision: Precision,
}

impl ModelManifest {
    /// The network input side for chips of side `chip`: `requested` if given, else the chip
    /// side itself when the network takes any size, else the network's own size. Every
    /// caller uses this, so `tessera segment` and the embedders embed alike.
    pub fn input_side(&self, requested: Option<usize>, chip: usize) -> usize {
        requested
            .or(self.dynamic_size.then_some(chip))
            .unwrap_or(self.input_size)
    }

    /// Parses and validates a manifest from TOML text. The error is a sentence that names the
    /// field at fault.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let m: ModelManifest = toml::from_str(text).map_err(|e| e.to_string())?;
        m.validate()?;
        Ok(m)
    }

    /// Checks the manifest for values no network can have.
    pub fn validate(&self) -> Result<(), String> {
        let c = self.channels.count();
        if self.embedding_dim == 0 {
            return Err("embedding_dim must be at least 1".into());
        }
        if self.input_size == 0 || self.input_size > 4096 {
            return Err(format!("input_size {} is not in 1..=4096", self.input_size));
        }
        for (what, v) in [("mean", &self.normalize.mean), ("std", &self.normalize.std)] {
            if v.len() != 1 && v.len() != c {
                return Err(format!(
                    "normalize.{what} has {} values; give 1, or one per channel ({c})",
                    v.len()
                ));
            }
        }
        if self
            .normalize
            .std
            .iter()
            .any(|s| !s.is_finite() || *s == 0.0)
        {
            return Err("normalize.std must be finite and non-zero".into());
        }
        if !self.normalize.scale.is_finite() || self.normalize.scale == 0.0 {
            return Err("normalize.scale must be finite and non-zero".into());
        }
        if let Some(raw) = self.raw_input {
            if raw.chip == 0 || raw.chip > 4096 {
                return Err(format!("raw_input.chip {} is not in 1..=4096", raw.chip));
            }
            if self.dynamic_size {
                return Err(
                    "raw_input needs dynamic_size = false: the graph resamples to input_size"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// The per-channel affine map `x = v * a[c] + b[c]` that the normalisation amounts to.
    pub fn affine(&self) -> Vec<(f32, f32)> {
        let n = &self.normalize;
        (0..self.channels.count())
            .map(|c| {
                let mean = n.mean[c.min(n.mean.len() - 1)];
                let std = n.std[c.min(n.std.len() - 1)];
                (n.scale / std, -mean / std)
            })
            .collect()
    }

    /// For a GPU: advice to take the in-graph preprocessing variant of the model `name` when
    /// preparing `chip`-pixel chips on the host at `side` would upload at least four times the
    /// bytes of the chips themselves as 32-bit floats; `None` when there is little to gain or
    /// the model already prepares its chips.
    pub fn upload_advice(&self, name: &str, side: usize, chip: usize) -> Option<String> {
        if self.raw_input.is_some() || name.contains('@') {
            return None;
        }
        let host = 4 * self.channels.count() * side * side;
        let raw = 4 * chip * chip;
        (host >= 4 * raw).then(|| {
            format!(
                "model {name} takes {side}×{side}×{c} float32 input prepared on the host, so \
                 {host} bytes a chip go to the device; the model {name}@f32x{chip} takes the \
                 chips as they are ({raw} bytes, the same embeddings) and {name}@u8x{chip} as \
                 bytes ({bytes} bytes), resampled and normalised on the device",
                c = self.channels.count(),
                bytes = chip * chip,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EFFNET: &str = r#"
name = "efficientnet-lite0"
file = "model.onnx"
input = "input"
output = "features"
embedding_dim = 1280
layout = "NCHW"
channels = "RGB"
input_size = 224
dynamic_size = true
[normalize]
scale = 255.0
mean = [127.0, 127.0, 127.0]
std = [128.0, 128.0, 128.0]
[extra_outputs]
logits = 1000
"#;

    #[test]
    fn parses_the_default_manifest() {
        let m = ModelManifest::from_toml(EFFNET).unwrap();
        assert_eq!(m.embedding_dim, 1280);
        assert_eq!(m.extra_outputs["logits"], 1000);
        let (a, b) = m.affine()[0];
        assert!((0.0 * a + b - (-127.0 / 128.0)).abs() < 1e-6);
        assert!((1.0 * a + b - (128.0 / 128.0)).abs() < 1e-6);
    }

    #[test]
    fn large_host_prepared_inputs_get_advice_to_prepare_on_the_device() {
        let m = ModelManifest::from_toml(EFFNET).unwrap();
        let advice = m.upload_advice("resnet50", 224, 64).unwrap();
        for part in [
            "602112 bytes",
            "resnet50@f32x64",
            "16384 bytes",
            "resnet50@u8x64",
        ] {
            assert!(advice.contains(part), "{part:?} is not in: {advice}");
        }
        // At the chip's own side the host input is only 3× the chips: no advice.
        assert_eq!(m.upload_advice("efficientnet-lite0", 64, 64), None);
        // Nor for a variant that already prepares its chips.
        assert_eq!(m.upload_advice("resnet50@u8x64", 224, 64), None);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        let typo = EFFNET.replace("embedding_dim", "embeding_dim");
        assert!(
            ModelManifest::from_toml(&typo)
                .unwrap_err()
                .contains("embeding_dim")
        );
        let zero_std = EFFNET.replace("std = [128.0, 128.0, 128.0]", "std = [0.0]");
        assert!(
            ModelManifest::from_toml(&zero_std)
                .unwrap_err()
                .contains("std")
        );
        let raw = EFFNET.replace(
            "[extra_outputs]",
            "[raw_input]\ndtype = \"uint8\"\nchip = 0\n[extra_outputs]",
        );
        assert!(
            ModelManifest::from_toml(&raw)
                .unwrap_err()
                .contains("raw_input.chip")
        );
        let raw = raw.replace("chip = 0", "chip = 64");
        assert!(
            ModelManifest::from_toml(&raw)
                .unwrap_err()
                .contains("dynamic_size")
        );
        let raw = raw.replace("dynamic_size = true", "dynamic_size = false");
        assert_eq!(
            ModelManifest::from_toml(&raw).unwrap().raw_input,
            Some(RawInput {
                dtype: RawDtype::Uint8,
                chip: 64
            })
        );
        let two_means = EFFNET.replace("mean = [127.0, 127.0, 127.0]", "mean = [1.0, 2.0]");
        assert!(
            ModelManifest::from_toml(&two_means)
                .unwrap_err()
                .contains("mean")
        );
    }
}
