//! The parameters of a segmentation, their defaults and the GraphEM parity preset.

use serde::{Deserialize, Serialize};

use crate::SegmentError;

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
    /// Subtract the image's mean embedding before comparing chips. CNN features after ReLU
    /// are all positive, so raw cosines crowd near 1; centring spreads them.
    pub center: bool,
    /// Project embeddings onto this many principal components first (`None`: no projection).
    pub pca: Option<usize>,
    /// The graph.
    pub graph: GraphKind,
    /// The community detection.
    pub algorithm: Algorithm,
    /// Modularity resolution: lower finds fewer, larger communities.
    pub resolution: f64,
    /// Seed of the community detection.
    pub seed: u64,
    /// Communities with fewer chips are merged into their most similar neighbour.
    pub min_community: usize,
    /// Communities whose centroids are at least this cosine-similar are merged (`None`: never).
    pub merge_similarity: Option<f32>,
    /// Weight each chip's pixel vote by its confidence (see [`crate::confidence`]) rather
    /// than counting every chip once.
    pub confidence_vote: bool,
}

impl Default for SegmentParams {
    fn default() -> Self {
        SegmentParams {
            chip: 64,
            stride: None,
            low_percentile: 0.5,
            high_percentile: 99.5,
            center: true,
            pca: None,
            graph: GraphKind::Knn { k: 30 },
            algorithm: Algorithm::Leiden,
            resolution: 0.1,
            seed: 42,
            min_community: 3,
            merge_similarity: None,
            confidence_vote: true,
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
            ..SegmentParams::default()
        }
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
        if self.pca == Some(0) {
            return bad("pca components must be at least 1 (or leave PCA off)".into());
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
