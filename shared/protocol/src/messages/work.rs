//! The internal hops of one frame: [`ChipBatch`] (ingest → embedders, `tessera.work.<run>`)
//! and [`EmbeddingBatch`] (embedders → clusterer, `tessera.embedded.<run>`).
//!
//! A frame's chips are split into `batches` consecutive batches. Every batch carries what the
//! next hops need ([`FrameMeta`], [`GridWire`], the resolved [`WireParams`]), so no service
//! has to look the run up before it can work.

use serde::{Deserialize, Serialize};

use crate::{
    FrameId, InstrumentId, Limits, MessageKind, ObjectRef, ProtocolError, RunId, WireParams,
    le::{check_len, le_bytes_to_f32s},
    messages::{
        impl_message,
        params::{MAX_CHIP, MIN_CHIP},
    },
    validate::Check,
};

/// Widest embedding accepted.
pub const MAX_EMBEDDING_DIM: u32 = 65_536;

/// What travels with every chip of a frame, for the clusterer and the publisher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameMeta {
    /// The instrument (for the results subject).
    pub instrument: InstrumentId,
    /// Acquisition time of the frame, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The frame's dose, if the instrument sent one.
    #[serde(default)]
    pub dose: Option<f64>,
    /// The frame's pixel size in nanometres, if calibrated.
    #[serde(default)]
    pub pixel_size_nm: Option<f64>,
    /// The normalised frame as ingest stored it (bucket `tessera_frames`), as 8-bit gray:
    /// `width × height` bytes, `round(255 · v)` of each normalised value `v` — what overlays
    /// and dashboards draw. `None`: no overlay can be rendered.
    #[serde(default)]
    pub normalized: Option<ObjectRef>,
}

impl FrameMeta {
    pub(crate) fn check_in(&self, c: Check) -> Result<(), ProtocolError> {
        if let Some(d) = self.dose {
            c.within("meta.dose", d, 0.0, f64::MAX)?;
        }
        if let Some(p) = self.pixel_size_nm
            && !(p.is_finite() && p > 0.0)
        {
            return Err(c.fail(
                "meta.pixel_size_nm",
                format!("is {p}; send a positive size"),
            ));
        }
        if let Some(o) = &self.normalized {
            o.check_in(c, "meta.normalized")?;
        }
        Ok(())
    }
}

/// The chip grid of a frame: `chip × chip` chips every `stride` pixels, row-major, laid by
/// `tessera_imaging::ChipGrid` (its edge rule adds a flush chip at the right and bottom).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridWire {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Chip side in pixels.
    pub chip: u32,
    /// Distance between chip origins (resolved, never automatic here).
    pub stride: u32,
}

impl GridWire {
    pub(crate) fn check_in(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.int_within(
            "grid.chip",
            self.chip.into(),
            MIN_CHIP.into(),
            MAX_CHIP.into(),
        )?;
        c.int_within("grid.stride", self.stride.into(), 1, self.chip.into())?;
        c.int_within(
            "grid.width",
            self.width.into(),
            self.chip.into(),
            u32::MAX.into(),
        )?;
        c.int_within(
            "grid.height",
            self.height.into(),
            self.chip.into(),
            u32::MAX.into(),
        )?;
        let pixels = u64::from(self.width) * u64::from(self.height);
        if pixels > limits.max_frame_pixels {
            return Err(c.fail(
                "grid.width",
                format!(
                    "{} × height {} is over the limit of {} pixels",
                    self.width, self.height, limits.max_frame_pixels
                ),
            ));
        }
        Ok(())
    }
}

/// Checks a batch's place among the frame's batches and chips.
fn check_span(
    c: Check,
    batch: u32,
    batches: u32,
    first_chip: u32,
    n: u32,
    total_chips: u32,
) -> Result<(), ProtocolError> {
    if batches == 0 || batch >= batches {
        return Err(c.fail(
            "batch",
            format!(
                "is {batch} of {batches} batches; batches count from 0 and there is at least one"
            ),
        ));
    }
    if n == 0 {
        return Err(c.fail("n", "is 0; a batch holds at least one chip"));
    }
    if u64::from(first_chip) + u64::from(n) > u64::from(total_chips) {
        return Err(c.fail(
            "n",
            format!(
                "chips {first_chip}..{} run past the frame's {total_chips} chips",
                u64::from(first_chip) + u64::from(n)
            ),
        ));
    }
    Ok(())
}

/// Maps a length error on a byte field into a validation error on that field.
fn bytes_field(
    c: Check,
    field: &'static str,
    len: usize,
    expected: u64,
) -> Result<(), ProtocolError> {
    check_len(field, len, 4, Some(expected)).map_err(|e| c.fail(field, e.to_string()))
}

/// A batch of chips to embed (ingest → embedders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipBatch {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// The frame's metadata, passed on to the clusterer.
    pub meta: FrameMeta,
    /// The frame's chip grid.
    pub grid: GridWire,
    /// The run's parameters, resolved (every field that decides the labels is set).
    pub params: WireParams,
    /// This batch's index, from 0.
    pub batch: u32,
    /// Batches of the frame.
    pub batches: u32,
    /// Grid index of the first chip in this batch.
    pub first_chip: u32,
    /// Chips in this batch.
    pub n: u32,
    /// Chips in the whole frame.
    pub total_chips: u32,
    /// The embedding model's name.
    pub model: String,
    /// `n × chip × chip` little-endian `f32` in `[0, 1]`, chip after chip, row-major.
    #[serde(with = "serde_bytes")]
    pub chips: Vec<u8>,
}

impl ChipBatch {
    /// The frame's id.
    pub fn frame_id(&self) -> FrameId {
        FrameId::new(self.run.clone(), self.seq)
    }

    /// Values per chip (`chip × chip`).
    pub fn chip_len(&self) -> u64 {
        u64::from(self.grid.chip) * u64::from(self.grid.chip)
    }

    /// The chips as `f32`, checked: the length must be `n × chip × chip` values, each in
    /// `[0, 1]`.
    pub fn chips_f32(&self) -> Result<Vec<f32>, ProtocolError> {
        let values = le_bytes_to_f32s(
            "chip batch chips",
            &self.chips,
            Some(u64::from(self.n).saturating_mul(self.chip_len())),
        )?;
        if let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(ProtocolError::Bytes {
                what: "chip batch chips",
                reason: format!(
                    "value {i} is {}, outside [0, 1]; chips must be normalised before batching",
                    values[i]
                ),
            });
        }
        Ok(values)
    }

    fn check(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        self.meta.check_in(c)?;
        self.grid.check_in(limits, c)?;
        self.params.check_in(c, "params")?;
        check_span(
            c,
            self.batch,
            self.batches,
            self.first_chip,
            self.n,
            self.total_chips,
        )?;
        c.text("model", &self.model, 128, false)?;
        bytes_field(
            c,
            "chips",
            self.chips.len(),
            u64::from(self.n).saturating_mul(self.chip_len()),
        )
    }
}
impl_message!(ChipBatch, MessageKind::ChipBatch);

/// The embeddings of one [`ChipBatch`] (embedders → clusterer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingBatch {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// The frame's metadata, copied from the chip batch.
    pub meta: FrameMeta,
    /// The frame's chip grid, copied from the chip batch.
    pub grid: GridWire,
    /// The resolved parameters, copied from the chip batch.
    pub params: WireParams,
    /// This batch's index, from 0.
    pub batch: u32,
    /// Batches of the frame.
    pub batches: u32,
    /// Grid index of the first chip in this batch.
    pub first_chip: u32,
    /// Chips (rows) in this batch.
    pub n: u32,
    /// Chips in the whole frame.
    pub total_chips: u32,
    /// Width of an embedding row.
    pub dim: u32,
    /// The embedding model's name.
    pub model: String,
    /// The model's digest: equal digests give equal embeddings.
    pub model_digest: String,
    /// `n × dim` little-endian `f32`, row after row.
    #[serde(with = "serde_bytes")]
    pub values: Vec<u8>,
    /// Rows that came from the cache rather than the model.
    pub cache_hits: u32,
    /// Milliseconds spent embedding the misses.
    pub embed_ms: f64,
    /// Which embedder instance did the work (for load-sharing checks; may be empty).
    #[serde(default)]
    pub worker: String,
    /// Milliseconds this batch's share of the cache lookups and write-backs took.
    #[serde(default)]
    pub cache_ms: f64,
}

impl EmbeddingBatch {
    /// The frame's id.
    pub fn frame_id(&self) -> FrameId {
        FrameId::new(self.run.clone(), self.seq)
    }

    /// The embeddings as `f32`, checked: exactly `n × dim` finite values.
    pub fn values_f32(&self) -> Result<Vec<f32>, ProtocolError> {
        let values = le_bytes_to_f32s(
            "embedding values",
            &self.values,
            Some(u64::from(self.n) * u64::from(self.dim)),
        )?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(ProtocolError::Bytes {
                what: "embedding values",
                reason: format!(
                    "value {i} (row {}) is not finite; the model produced NaN or infinity",
                    i / self.dim.max(1) as usize
                ),
            });
        }
        Ok(values)
    }

    fn check(&self, limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        self.meta.check_in(c)?;
        self.grid.check_in(limits, c)?;
        self.params.check_in(c, "params")?;
        check_span(
            c,
            self.batch,
            self.batches,
            self.first_chip,
            self.n,
            self.total_chips,
        )?;
        c.int_within("dim", self.dim.into(), 1, MAX_EMBEDDING_DIM.into())?;
        c.text("model", &self.model, 128, false)?;
        c.text("model_digest", &self.model_digest, 128, false)?;
        c.text("worker", &self.worker, 128, true)?;
        if self.cache_hits > self.n {
            return Err(c.fail(
                "cache_hits",
                format!(
                    "is {}, more than the batch's {} chips",
                    self.cache_hits, self.n
                ),
            ));
        }
        c.within("embed_ms", self.embed_ms, 0.0, f64::MAX)?;
        c.within("cache_ms", self.cache_ms, 0.0, f64::MAX)?;
        bytes_field(
            c,
            "values",
            self.values.len(),
            u64::from(self.n) * u64::from(self.dim),
        )
    }
}
impl_message!(EmbeddingBatch, MessageKind::EmbeddingBatch);
