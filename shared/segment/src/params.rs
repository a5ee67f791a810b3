//! The parameters of a segmentation, their defaults and the GraphEM parity preset.

use serde::{Deserialize, Serialize};

use crate::{SegmentError, selection::Split};

/// The automatic stride halves (down to a quarter chip) until an image has this many chips.
pub const AUTO_STRIDE_MIN_CHIPS: usize = 500;

/// How chips are joined into a graph.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GraphKind {
    /// Exact cosine k-nearest neighbours, symmetrised, weighted by similarity.
    Knn {
        /// Neighbours per chip.
        k: usize,
    },
    /// GraphEM's unweighted graph: an edge wherever cosine similarity exceeds the mode of a
    /// 100-bin histogram of all pairwise similarities.
    Threshold,
}

/// Which community detection runs on the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Leiden (modularity with a resolution), which guarantees connected communities.
    Leiden,
    /// Louvain, as GraphEM runs it.
    Louvain,
}

/// Everything that decides the labels of a segmentation. Equal parameters, image and model
/// give identical labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentParams {
    /// Chip side in pixels.
    pub chip: usize,
    /// Distance between chip origins; smaller than `chip` makes chips overlap. `None` chooses
    /// per image (see [`SegmentParams::stride_for`]).
    pub stride: Option<usize>,
    /// Lower clipping percentile of the intensity normalisation.
    pub low_percentile: f32,
    /// Upper clipping percentile of the intensity normalisation.
    pub high_percentile: f32,
    /// Flatten slow illumination or charging gradients before normalising: subtract the image
    /// blurred over this fraction of its longer side (0: off).
    pub flatten: f32,
    /// Subtract the image's mean embedding before comparing chips. CNN features after ReLU
    /// are all positive, so raw cosines crowd near 1; centring spreads them.
    pub center: bool,
    /// Project embeddings onto this many principal components first (`None`: no projection).
    pub pca: Option<usize>,
    /// The graph.
    pub graph: GraphKind,
    /// The community detection.
    pub algorithm: Algorithm,
    /// Modularity resolution: lower finds fewer, larger communities. Used as is when `split`
    /// is `fixed`.
    pub resolution: f64,
    /// How the number of communities is decided (see [`crate::selection`]).
    pub split: Split,
    /// The range of [`crate::selection::RESOLUTIONS`] a per-image split sweeps.
    pub sweep: (f64, f64),
    /// Force this many communities (`None`: decided by `split`).
    pub communities: Option<usize>,
    /// With `split = coherent`: the share of its chips' grid neighbours every community must
    /// keep.
    pub coherence: f32,
    /// Seed of the community detection.
    pub seed: u64,
    /// Communities with fewer chips are merged into their most similar neighbour.
    pub min_community: usize,
    /// Communities whose centroids are at least this cosine-similar are merged (`None`: never).
    pub merge_similarity: Option<f32>,
    /// With `split = coherent`, when no cut of the sweep is coherent: the least cosine
    /// distance between two communities' mean CNN embeddings for the most coherent cut to
    /// stand; under it the image is one community (one phase, cut into speckle by noise).
    /// See [`crate::selection::least_distinct`].
    pub min_distinct: f32,
    /// With `split = coherent`: a cut finer than the coherent one stands when its least
    /// distinct pair of communities is at least this share of the coherent cut's (0: never;
    /// see [`crate::selection::finer_distinct`]).
    pub finer_ratio: f32,
    /// ... and every one of its communities keeps this share of chips with half their grid
    /// neighbours inside it ([`crate::selection::chip_coherence`]) ...
    pub finer_coherence: f32,
    /// ... and that least distinct pair is at least this cosine distance apart.
    pub finer_floor: f32,
    /// Weight each chip's pixel vote by its confidence (see [`crate::confidence`]) rather
    /// than counting every chip once.
    pub confidence_vote: bool,
    /// Weight of the chip intensity statistics against the CNN embedding (0: not used; see
    /// [`crate::features`]).
    pub intensity_weight: f32,
    /// Weight of each chip's context: the mean feature of the chips within one chip side of
    /// it (0: not used; see [`crate::features::context_mean`]).
    pub context: f32,
    /// How much local brightness may overrule the chip votes at pixels where the covering
    /// chips disagree, `0..=1` (0: no per-pixel refinement; see [`crate::pixels`]).
    pub refine: f32,
    /// Smoothing of the brightness the refinement compares, in pixels.
    pub refine_sigma: f32,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            chip: 64,
            stride: None,
            low_percentile: 0.5,
            high_percentile: 99.5,
            flatten: 0.0,
            center: true,
            pca: None,
            graph: GraphKind::Knn { k: 30 },
            algorithm: Algorithm::Leiden,
            resolution: 0.1,
            split: Split::Coherent,
            communities: None,
            sweep: (0.02, 1.5),
            coherence: 0.8,
            seed: 42,
            min_community: 3,
            merge_similarity: None,
            min_distinct: 0.12,
            finer_ratio: 0.7,
            finer_coherence: 0.85,
            finer_floor: 0.1,
            confidence_vote: true,
            intensity_weight: 0.5,
            context: 0.0,
            refine: 0.5,
            refine_sigma: 2.0,
        }
    }
}

impl SegmentParams {
    /// The published method as PNNL's GraphEM runs it: non-overlapping chips, the dense
    /// threshold graph, Louvain at resolution 1, communities under 3 chips merged away.
    pub fn graphem() -> Self {
        SegmentParams {
            stride: Some(64),
            graph: GraphKind::Threshold,
            algorithm: Algorithm::Louvain,
            resolution: 1.0,
            center: false,
            confidence_vote: false,
            pca: None,
            merge_similarity: None,
            intensity_weight: 0.0,
            context: 0.0,
            refine: 0.0,
            flatten: 0.0,
            split: Split::Fixed,
            communities: None,
            ..SegmentParams::default()
        }
    }

    /// Whether the clustering needs the normalised image besides the embeddings.
    pub fn needs_image(&self) -> bool {
        self.intensity_weight > 0.0 || self.refine > 0.0
    }

    /// The stride for a `width × height` image: the one set, or else the largest of `chip`,
    /// `chip / 2` and `chip / 4` (at least 8 px) that lays at least [`AUTO_STRIDE_MIN_CHIPS`]
    /// chips, so that small images still give the graph enough nodes and large ones are not
    /// embedded four times over.
    pub fn stride_for(&self, width: usize, height: usize) -> usize {
        if let Some(s) = self.stride {
            return s;
        }
        let count = |stride: usize| {
            let along = |size: usize| {
                if size < self.chip {
                    0
                } else {
                    (size - self.chip).div_ceil(stride) + 1
                }
            };
            along(width) * along(height)
        };
        let mut stride = self.chip;
        while count(stride) < AUTO_STRIDE_MIN_CHIPS && stride / 2 >= 8 && stride * 4 > self.chip {
            stride /= 2;
        }
        stride
    }

    /// Checks for values that cannot work, with a message that says which and why.
    pub fn validate(&self) -> Result<(), SegmentError> {
        let bad = |m: String| Err(SegmentError::Params(m));
        if self.chip < 8 {
            return bad(format!(
                "chip size {} is below the minimum of 8 pixels",
                self.chip
            ));
        }
        if let Some(stride) = self.stride
            && (stride == 0 || stride > self.chip)
        {
            return bad(format!(
                "stride {stride} must be between 1 and the chip size {}",
                self.chip
            ));
        }
        if !(0.0..100.0).contains(&self.low_percentile)
            || !(0.0..=100.0).contains(&self.high_percentile)
            || self.low_percentile >= self.high_percentile
        {
            return bad(format!(
                "percentiles {}/{} must satisfy 0 <= low < high <= 100",
                self.low_percentile, self.high_percentile
            ));
        }
        if let GraphKind::Knn { k } = self.graph
            && k == 0
        {
            return bad("k must be at least 1".into());
        }
        if !(self.resolution.is_finite() && self.resolution > 0.0) {
            return bad(format!("resolution {} must be positive", self.resolution));
        }
        if !(0.0..=1.0).contains(&self.flatten) {
            return bad(format!("flatten {} must be in 0..=1", self.flatten));
        }
        if !(0.0..=1.0).contains(&self.refine) {
            return bad(format!("refine {} must be in 0..=1", self.refine));
        }
        if !(self.refine_sigma.is_finite() && self.refine_sigma >= 0.0) {
            return bad(format!("refine_sigma {} must be >= 0", self.refine_sigma));
        }
        if self.communities == Some(0) {
            return bad("communities must be at least 1 (or leave it unset)".into());
        }
        if self.pca == Some(0) {
            return bad("pca components must be at least 1 (or leave PCA off)".into());
        }
        for (name, w) in [
            ("intensity_weight", self.intensity_weight),
            ("context", self.context),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return bad(format!("{name} {w} must be a finite weight >= 0"));
            }
        }
        if !(self.min_distinct.is_finite() && (0.0..=2.0).contains(&self.min_distinct)) {
            return bad(format!(
                "min_distinct {} must be a cosine distance in [0, 2] (0: keep every split)",
                self.min_distinct
            ));
        }
        for (name, v, max) in [
            ("finer_ratio", self.finer_ratio, f32::INFINITY),
            ("finer_coherence", self.finer_coherence, 1.0),
            ("finer_floor", self.finer_floor, 2.0),
        ] {
            if !(v.is_finite() && (0.0..=max).contains(&v)) {
                return bad(format!("{name} {v} must be in 0..={max}"));
            }
        }
        if let Some(s) = self.merge_similarity
            && !(-1.0..=1.0).contains(&s)
        {
            return bad(format!("merge similarity {s} must be a cosine in [-1, 1]"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_graphem_are_valid() {
        SegmentParams::default().validate().unwrap();
        SegmentParams::graphem().validate().unwrap();
    }

    #[test]
    fn bad_values_are_named() {
        let p = SegmentParams {
            stride: Some(100),
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("stride 100"));
        let p = SegmentParams {
            resolution: 0.0,
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("resolution"));
        let p = SegmentParams {
            graph: GraphKind::Knn { k: 0 },
            ..Default::default()
        };
        assert!(p.validate().unwrap_err().to_string().contains("k must"));
    }

    #[test]
    fn auto_stride_overlaps_small_images_only() {
        let p = SegmentParams::default();
        assert_eq!(p.stride_for(2048, 2048), 64, "1024 chips are plenty");
        assert_eq!(p.stride_for(1024, 1024), 32, "256 chips at 64 → 961 at 32");
        assert_eq!(p.stride_for(400, 380), 16, "never below a quarter chip");
        let fixed = SegmentParams {
            stride: Some(48),
            ..p
        };
        assert_eq!(fixed.stride_for(400, 380), 48);
    }

    #[test]
    fn params_round_trip_through_json() {
        let p = SegmentParams::graphem();
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<SegmentParams>(&text).unwrap(), p);
    }
}
