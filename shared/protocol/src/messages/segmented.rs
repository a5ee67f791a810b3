//! [`Segmented`]: a frame's communities, clusterer → publisher, on `tessera.segmented.<run>`.
//!
//! # Where the label map travels
//! The painted per-pixel label map is 2 bytes per pixel (8 MiB for a 2048² frame), too big
//! for a message, so the clusterer, which paints it with the same `tessera_segment::finish_image`
//! as `tessera segment`, stores it in the object store and sends [`Segmented::labels`]. The
//! message itself carries each chip's community and vote weight with the grid (4–8 bytes a
//! chip) for consumers that want the chip-level result.

use serde::{Deserialize, Serialize};

use crate::{
    FrameClasses, FrameId, Limits, MessageKind, ObjectRef, ProtocolError, RunId, WireParams,
    le::{le_bytes_to_f32s, le_bytes_to_u32s},
    messages::{
        impl_message,
        work::{FrameMeta, GridWire},
    },
    validate::Check,
};

/// Most communities in one frame.
pub const MAX_COMMUNITIES: u32 = 65_536;

/// One community of a frame, as the results show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommunityWire {
    /// Its label; stable within a run (matched by centroid from frame to frame).
    pub id: u32,
    /// Its colour in the overlay, `#rrggbb`.
    pub color: String,
    /// Chips assigned to it.
    pub chips: u32,
    /// Fraction of the frame's pixels that carry its label, `0..=1`.
    pub area_fraction: f64,
    /// Mean pixel position `[x, y]` of its pixels.
    pub centroid_px: [f64; 2],
}

impl CommunityWire {
    pub(crate) fn check_in(&self, c: Check, at: &str) -> Result<(), ProtocolError> {
        c.color(&format!("{at}.color"), &self.color)?;
        c.within(&format!("{at}.area_fraction"), self.area_fraction, 0.0, 1.0)?;
        c.finite(&format!("{at}.centroid_px[0]"), self.centroid_px[0])?;
        c.finite(&format!("{at}.centroid_px[1]"), self.centroid_px[1])
    }
}

/// Checks a community list: valid entries, ids unique and below `n_labels`.
pub(crate) fn check_communities(
    c: Check,
    communities: &[CommunityWire],
    n_labels: u32,
) -> Result<(), ProtocolError> {
    if communities.len() > MAX_COMMUNITIES as usize {
        return Err(c.fail(
            "communities",
            format!("has {} entries, over {MAX_COMMUNITIES}", communities.len()),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, community) in communities.iter().enumerate() {
        let at = format!("communities[{i}]");
        community.check_in(c, &at)?;
        if community.id >= n_labels {
            return Err(c.fail(
                &format!("{at}.id"),
                format!("is {}, not below n_labels {n_labels}", community.id),
            ));
        }
        if !seen.insert(community.id) {
            return Err(c.fail(
                &format!("{at}.id"),
                format!("{} appears twice", community.id),
            ));
        }
    }
    Ok(())
}

/// A segmented frame (clusterer → publisher).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segmented {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// The frame's metadata.
    pub meta: FrameMeta,
    /// The chip grid the labels refer to.
    pub grid: GridWire,
    /// The resolved parameters.
    pub params: WireParams,
    /// The embedding model's name.
    pub model: String,
    /// The embedding model's digest.
    pub model_digest: String,
    /// One run-stable community label per chip, grid order, little-endian `u32`.
    #[serde(with = "serde_bytes")]
    pub chip_labels: Vec<u8>,
    /// One vote weight per chip, little-endian `f32`, when the parameters ask for confidence
    /// votes; `None`: every chip counts once.
    #[serde(default, with = "serde_bytes")]
    pub chip_weights: Option<Vec<u8>>,
    /// One more than the largest label (labels may skip values once ids are run-stable).
    pub n_labels: u32,
    /// The communities present in this frame.
    pub communities: Vec<CommunityWire>,
    /// Modularity of the partition, when computed.
    #[serde(default)]
    pub modularity: Option<f64>,
    /// Chips of the frame that came from the embedding cache.
    #[serde(default)]
    pub cache_hits: u32,
    /// Stage timings so far, `(stage, milliseconds)`.
    #[serde(default)]
    pub timings: Vec<(String, f64)>,
    /// The painted label map, if the clusterer stored one (`tessera_outputs`).
    #[serde(default)]
    pub labels: Option<ObjectRef>,
    /// The frame's few-shot classes, when the run names a classifier
    /// ([`WireParams::classifier`]).
    #[serde(default)]
    pub classes: Option<FrameClasses>,
}

impl Segmented {
    /// The frame's id.
    pub fn frame_id(&self) -> FrameId {
        FrameId::new(self.run.clone(), self.seq)
    }

    /// The chip labels, checked: whole `u32`s, each below `n_labels`.
    pub fn chip_labels_u32(&self) -> Result<Vec<u32>, ProtocolError> {
        let labels = le_bytes_to_u32s("chip labels", &self.chip_labels, None)?;
        if let Some(i) = labels.iter().position(|&l| l >= self.n_labels) {
            return Err(ProtocolError::Bytes {
                what: "chip labels",
                reason: format!(
                    "chip {i} has label {}, not below n_labels {}",
                    labels[i], self.n_labels
                ),
            });
        }
        Ok(labels)
    }

    /// The chip weights, checked: one finite, non-negative `f32` per chip; `None` if unset.
    pub fn chip_weights_f32(&self) -> Result<Option<Vec<f32>>, ProtocolError> {
        let Some(bytes) = &self.chip_weights else {
            return Ok(None);
        };
        let chips = (self.chip_labels.len() / 4) as u64;
        let weights = le_bytes_to_f32s("chip weights", bytes, Some(chips))?;
        if let Some(i) = weights.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(ProtocolError::Bytes {
                what: "chip weights",
                reason: format!("weight {i} is {}; weights are finite and >= 0", weights[i]),
            });
        }
        Ok(Some(weights))
    }

    fn check(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        self.meta.check_in(c)?;
        self.grid.check_in(limits, c)?;
        self.params.check_in(c, "params")?;
        c.text("model", &self.model, 128, false)?;
        c.text("model_digest", &self.model_digest, 128, false)?;
        c.int_within("n_labels", self.n_labels.into(), 1, MAX_COMMUNITIES.into())?;
        if self.chip_labels.is_empty() {
            return Err(c.fail("chip_labels", "is empty; every chip needs a label"));
        }
        self.chip_labels_u32()
            .map_err(|e| c.fail("chip_labels", e.to_string()))?;
        self.chip_weights_f32()
            .map_err(|e| c.fail("chip_weights", e.to_string()))?;
        check_communities(c, &self.communities, self.n_labels)?;
        if let Some(m) = self.modularity {
            c.finite("modularity", m)?;
        }
        c.timings("timings", &self.timings)?;
        if let Some(o) = &self.labels {
            o.check_in(c, "labels")?;
        }
        if let Some(classes) = &self.classes {
            classes.check_in(c, "classes")?;
        }
        Ok(())
    }
}
impl_message!(Segmented, MessageKind::Segmented);
