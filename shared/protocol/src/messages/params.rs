//! [`WireParams`]: the segmentation parameters as they travel, every field optional.
//!
//! They mirror `tessera_segment::SegmentParams` without depending on it: `None` means "the
//! service's default", and the services convert. Downstream of ingest (chip batches onward)
//! the parameters are echoed *resolved*, with every field that decides the labels set.

use serde::{Deserialize, Serialize};

use crate::{MessageKind, ProtocolError, validate::Check};

/// Smallest chip side, in pixels.
pub const MIN_CHIP: u32 = 8;
/// Largest chip side, in pixels.
pub const MAX_CHIP: u32 = 1024;
/// Most neighbours per chip in a k-NN graph.
pub const MAX_K: u32 = 1000;
/// Most principal components.
pub const MAX_PCA: u32 = 4096;
/// Most communities a run may force.
pub const MAX_COMMUNITIES: u32 = 1000;
/// Largest weight of a feature block.
pub const MAX_WEIGHT: f32 = 100.0;

/// Which preset the other fields override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Tessera's defaults (`SegmentParams::default()`).
    Default,
    /// The published GraphEM method (`SegmentParams::graphem()`).
    Graphem,
}

/// How chips are joined into a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GraphWire {
    /// k-nearest neighbours ([`WireParams::k`] of them).
    Knn,
    /// GraphEM's similarity-threshold graph.
    Threshold,
}

/// Which community detection runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmWire {
    /// Leiden.
    Leiden,
    /// Louvain.
    Louvain,
}

/// How the number of communities is chosen (`tessera_segment::Split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitWire {
    /// One cut at [`WireParams::resolution`].
    Fixed,
    /// The finest spatially coherent cut of a resolution sweep.
    Coherent,
    /// The longest plateau of the community count.
    Plateau,
    /// The cut most like its neighbouring resolutions'.
    Neighbours,
    /// The cut most stable across seeds.
    Seeds,
}

/// Segmentation parameters; `None` everywhere means "the service's defaults".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WireParams {
    /// The preset the other fields override (`None`: [`Preset::Default`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Chip side in pixels, [`MIN_CHIP`]`..=`[`MAX_CHIP`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chip: Option<u32>,
    /// Distance between chip origins, `1..=chip` (`None`: chosen per image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stride: Option<u32>,
    /// Lower clipping percentile of the normalisation, `0..100`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low_percentile: Option<f32>,
    /// Upper clipping percentile of the normalisation, `0..=100`, above the lower one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high_percentile: Option<f32>,
    /// Subtract the mean embedding before comparing chips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center: Option<bool>,
    /// Principal components to project onto, `1..=`[`MAX_PCA`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pca: Option<u32>,
    /// The graph ("knn" or "threshold").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphWire>,
    /// Neighbours per chip of a k-NN graph, `1..=`[`MAX_K`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    /// The community detection ("leiden" or "louvain").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<AlgorithmWire>,
    /// Modularity resolution, positive, at most 1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<f64>,
    /// Seed of the community detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Communities with fewer chips are merged away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_community: Option<u32>,
    /// Communities whose centroids are at least this cosine-similar are merged, `-1..=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_similarity: Option<f32>,
    /// Weight each chip's pixel vote by its confidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence_vote: Option<bool>,
    /// How the number of communities is chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitWire>,
    /// Force this many communities, `1..=`[`MAX_COMMUNITIES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub communities: Option<u32>,
    /// With the coherent split: the share of grid neighbours each community keeps, `0..=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coherence: Option<f32>,
    /// Weight of the chip intensity statistics, `0..=`[`MAX_WEIGHT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intensity_weight: Option<f32>,
    /// Weight of each chip's neighbourhood mean, `0..=`[`MAX_WEIGHT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<f32>,
    /// How much brightness may overrule the chips along boundaries, `0..=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine: Option<f32>,
    /// Smoothing of the brightness the refinement compares, pixels, `0..=64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refine_sigma: Option<f32>,
    /// Flatten slow gradients over this fraction of the longer side, `0..=1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flatten: Option<f32>,
    /// The embedding model's name (as in its manifest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A named classifier (KV `tessera_classifiers`) that classifies every frame beside its
    /// communities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier: Option<String>,
}

impl WireParams {
    /// Checks every value that is set; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        self.check_in(Check::new(MessageKind::RunStart), "params")
    }

    pub(crate) fn check_in(&self, c: Check, at: &str) -> Result<(), ProtocolError> {
        let f = |name: &str| format!("{at}.{name}");
        if let Some(chip) = self.chip {
            c.int_within(&f("chip"), chip.into(), MIN_CHIP.into(), MAX_CHIP.into())?;
        }
        if let Some(stride) = self.stride {
            let max = self.chip.unwrap_or(MAX_CHIP);
            c.int_within(&f("stride"), stride.into(), 1, max.into())?;
        }
        if let Some(low) = self.low_percentile {
            c.within(&f("low_percentile"), low.into(), 0.0, 99.999)?;
        }
        if let Some(high) = self.high_percentile {
            c.within(&f("high_percentile"), high.into(), 0.001, 100.0)?;
        }
        if let (Some(low), Some(high)) = (self.low_percentile, self.high_percentile)
            && low >= high
        {
            return Err(c.fail(
                &f("low_percentile"),
                format!("{low} must be below high_percentile {high}"),
            ));
        }
        if let Some(pca) = self.pca {
            c.int_within(&f("pca"), pca.into(), 1, MAX_PCA.into())?;
        }
        if let Some(k) = self.k {
            c.int_within(&f("k"), k.into(), 1, MAX_K.into())?;
        }
        if let Some(r) = self.resolution {
            c.within(&f("resolution"), r, f64::MIN_POSITIVE, 1000.0)?;
        }
        if let Some(m) = self.min_community {
            c.int_within(&f("min_community"), m.into(), 0, 1_000_000)?;
        }
        if let Some(s) = self.merge_similarity {
            c.within(&f("merge_similarity"), s.into(), -1.0, 1.0)?;
        }
        if let Some(n) = self.communities {
            c.int_within(&f("communities"), n.into(), 1, MAX_COMMUNITIES.into())?;
        }
        for (name, value, max) in [
            ("coherence", self.coherence, 1.0),
            ("intensity_weight", self.intensity_weight, MAX_WEIGHT),
            ("context", self.context, MAX_WEIGHT),
            ("refine", self.refine, 1.0),
            ("refine_sigma", self.refine_sigma, 64.0),
            ("flatten", self.flatten, 1.0),
        ] {
            if let Some(v) = value {
                c.within(&f(name), v.into(), 0.0, max.into())?;
            }
        }
        if let Some(model) = &self.model {
            c.text(&f("model"), model, 128, false)?;
        }
        if let Some(name) = &self.classifier {
            c.token(&f("classifier"), name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_params_are_valid_and_small() {
        let p = WireParams::default();
        p.validate().unwrap();
        let bytes = rmp_serde::to_vec_named(&p).unwrap();
        assert_eq!(bytes, [0x80], "an empty map");
        let back: WireParams = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn ranges_are_named() {
        let cases = [
            (
                WireParams {
                    chip: Some(4),
                    ..Default::default()
                },
                "params.chip",
            ),
            (
                WireParams {
                    chip: Some(2048),
                    ..Default::default()
                },
                "params.chip",
            ),
            (
                WireParams {
                    chip: Some(32),
                    stride: Some(64),
                    ..Default::default()
                },
                "params.stride",
            ),
            (
                WireParams {
                    stride: Some(0),
                    ..Default::default()
                },
                "params.stride",
            ),
            (
                WireParams {
                    k: Some(0),
                    ..Default::default()
                },
                "params.k",
            ),
            (
                WireParams {
                    resolution: Some(0.0),
                    ..Default::default()
                },
                "params.resolution",
            ),
            (
                WireParams {
                    resolution: Some(f64::NAN),
                    ..Default::default()
                },
                "params.resolution",
            ),
            (
                WireParams {
                    pca: Some(0),
                    ..Default::default()
                },
                "params.pca",
            ),
            (
                WireParams {
                    merge_similarity: Some(1.5),
                    ..Default::default()
                },
                "params.merge_similarity",
            ),
            (
                WireParams {
                    low_percentile: Some(60.0),
                    high_percentile: Some(40.0),
                    ..Default::default()
                },
                "params.low_percentile",
            ),
            (
                WireParams {
                    model: Some(String::new()),
                    ..Default::default()
                },
                "params.model",
            ),
        ];
        for (p, field) in cases {
            let e = p.validate().unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        let ok = WireParams {
            preset: Some(Preset::Graphem),
            chip: Some(64),
            stride: Some(32),
            graph: Some(GraphWire::Threshold),
            algorithm: Some(AlgorithmWire::Louvain),
            ..Default::default()
        };
        ok.validate().unwrap();
    }
}
