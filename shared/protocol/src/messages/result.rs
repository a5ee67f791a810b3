//! [`FrameResult`]: what dashboards get, on `tessera.results.<instrument>.<run>`; the latest
//! per run is also kept in KV `tessera_latest`.

use serde::{Deserialize, Serialize};

use crate::{
    FrameClasses, FrameId, GridWire, InstrumentId, Limits, MessageKind, ObjectRef, ProtocolError,
    RunId, WireParams,
    le::{le_bytes_to_f32s, le_bytes_to_u32s},
    messages::{impl_message, segmented::CommunityWire, segmented::check_communities},
    validate::Check,
};

/// A segmented frame, as published to dashboards (publisher → anyone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameResult {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The instrument.
    pub instrument: InstrumentId,
    /// The frame's sequence number.
    pub seq: u64,
    /// Acquisition time of the frame, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The frame's dose, if sent (for fraction-against-dose series).
    #[serde(default)]
    pub dose: Option<f64>,
    /// Pixel size in nanometres, if calibrated.
    #[serde(default)]
    pub pixel_size_nm: Option<f64>,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Chips the frame was cut into.
    #[serde(default)]
    pub chips: u32,
    /// One more than the largest label in the label map.
    pub n_labels: u32,
    /// The communities, with run-stable ids and colours.
    pub communities: Vec<CommunityWire>,
    /// The normalised frame (`tessera_frames`) as 8-bit gray, `width × height` bytes.
    #[serde(default)]
    pub source: Option<ObjectRef>,
    /// The label map (`tessera_outputs`): a 16-bit gray TIFF, 65535 = no label
    /// (`tessera_imaging::encode_labels_tiff`).
    #[serde(default)]
    pub labels: Option<ObjectRef>,
    /// The overlay (`tessera_outputs`): a PNG of the frame with coloured communities.
    #[serde(default)]
    pub overlay: Option<ObjectRef>,
    /// Stage timings, `(stage, milliseconds)`, including end-to-end latency
    /// (`"publish_to_result"`) when the publisher can measure it.
    #[serde(default)]
    pub timings: Vec<(String, f64)>,
    /// Chips whose embeddings came from the cache.
    #[serde(default)]
    pub cache_hits: u32,
    /// The embedding model's name.
    pub model: String,
    /// The embedding model's digest.
    pub model_digest: String,
    /// The resolved parameters the frame was segmented with.
    pub params: WireParams,
    /// The frame's few-shot classes, when the run names a classifier.
    #[serde(default)]
    pub classes: Option<FrameClasses>,
    /// Each chip's community and confidence on the chip grid (what region-of-interest
    /// proposals and confidence rules work from).
    #[serde(default)]
    pub chip_map: Option<ChipMap>,
}

/// A frame's chips: where they sit, their run-stable community, and how sure each is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipMap {
    /// The chip grid.
    pub grid: GridWire,
    /// One community id per chip, grid order (row-major), little-endian `u32`.
    #[serde(with = "serde_bytes")]
    pub labels: Vec<u8>,
    /// One confidence per chip (the margin to the nearest other community's centroid, ≥ 0),
    /// little-endian `f32`, when the parameters computed it.
    #[serde(default, with = "serde_bytes")]
    pub confidence: Option<Vec<u8>>,
}

impl ChipMap {
    /// The chip labels, checked: whole `u32`s, one per chip of the grid.
    pub fn labels_u32(&self) -> Result<Vec<u32>, ProtocolError> {
        le_bytes_to_u32s("chip map labels", &self.labels, Some(self.chips()))
    }

    /// The confidences, checked: one finite `f32` ≥ 0 per chip; `None` if not sent.
    pub fn confidence_f32(&self) -> Result<Option<Vec<f32>>, ProtocolError> {
        let Some(bytes) = &self.confidence else {
            return Ok(None);
        };
        let values = le_bytes_to_f32s("chip map confidence", bytes, Some(self.chips()))?;
        if let Some(i) = values.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(ProtocolError::Bytes {
                what: "chip map confidence",
                reason: format!(
                    "value {i} is {}; confidences are finite and >= 0",
                    values[i]
                ),
            });
        }
        Ok(Some(values))
    }

    /// Chips on the grid (columns × rows, the last flush with the edge as the pipeline cuts
    /// them), or 0 for a grid that cannot hold one.
    pub fn chips(&self) -> u64 {
        let g = &self.grid;
        let along = |side: u32| -> u64 {
            if g.chip == 0 || g.stride == 0 || side < g.chip {
                return 0;
            }
            let steps = u64::from((side - g.chip) / g.stride);
            steps + 1 + u64::from((side - g.chip) % g.stride != 0)
        };
        along(g.width) * along(g.height)
    }
}

impl FrameResult {
    /// The frame's id.
    pub fn frame_id(&self) -> FrameId {
        FrameId::new(self.run.clone(), self.seq)
    }

    /// The frame's classes, when it was classified (not when its classifier could not be
    /// used: then `classes.error` says why).
    pub fn applied_classes(&self) -> Option<&FrameClasses> {
        self.classes.as_ref().filter(|k| k.error.is_none())
    }

    fn check(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if v == 0 {
                return Err(c.fail(name, "is 0"));
            }
        }
        let pixels = u64::from(self.width) * u64::from(self.height);
        if pixels > limits.max_frame_pixels {
            return Err(c.fail(
                "width",
                format!(
                    "× height is {pixels} pixels, over the limit of {}",
                    limits.max_frame_pixels
                ),
            ));
        }
        if let Some(d) = self.dose {
            c.within("dose", d, 0.0, f64::MAX)?;
        }
        if let Some(p) = self.pixel_size_nm
            && !(p.is_finite() && p > 0.0)
        {
            return Err(c.fail("pixel_size_nm", format!("is {p}; send a positive size")));
        }
        check_communities(c, &self.communities, self.n_labels)?;
        for (name, o) in [
            ("source", &self.source),
            ("labels", &self.labels),
            ("overlay", &self.overlay),
        ] {
            if let Some(o) = o {
                o.check_in(c, name)?;
            }
        }
        c.timings("timings", &self.timings)?;
        c.text("model", &self.model, 128, false)?;
        c.text("model_digest", &self.model_digest, 128, false)?;
        if let Some(classes) = &self.classes {
            classes.check_in(c, "classes")?;
        }
        if let Some(map) = &self.chip_map {
            map.grid.check_in(limits, c)?;
            if (map.grid.width, map.grid.height) != (self.width, self.height) {
                return Err(c.fail(
                    "chip_map.grid",
                    format!(
                        "is {}×{}, not the frame's {}×{}",
                        map.grid.width, map.grid.height, self.width, self.height
                    ),
                ));
            }
            map.labels_u32()
                .map_err(|e| c.fail("chip_map.labels", e.to_string()))?;
            map.confidence_f32()
                .map_err(|e| c.fail("chip_map.confidence", e.to_string()))?;
        }
        self.params.check_in(c, "params")
    }
}
impl_message!(FrameResult, MessageKind::FrameResult);
