//! A frame's [`EmbeddingBatch`]es back into one `total_chips × dim` matrix.
//!
//! Batches arrive in any order, from any embedder, and possibly more than once (a redelivery
//! after a crash); a repeat is recognised and ignored. Every batch must agree with the first
//! on the frame's shape, parameters and model digest: embeddings of two different models
//! cannot share a graph.

use std::collections::BTreeMap;

use tessera_protocol::{EmbeddingBatch, FrameMeta, GridWire, RunId, WireParams};

use crate::PipelineError;

/// What [`FrameAssembly::add`] made of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A batch not seen before.
    New,
    /// A batch already in the assembly (a redelivery); nothing changed.
    Repeat,
}

/// One frame being assembled.
#[derive(Debug, Clone)]
pub struct FrameAssembly {
    /// The run.
    pub run: RunId,
    /// The frame's sequence number.
    pub seq: u64,
    /// The frame's metadata.
    pub meta: FrameMeta,
    /// The chip grid.
    pub grid: GridWire,
    /// The resolved parameters.
    pub params: WireParams,
    /// The model's name.
    pub model: String,
    /// The model's digest.
    pub model_digest: String,
    /// Width of an embedding row.
    pub dim: usize,
    /// Chips of the frame.
    pub total_chips: usize,
    /// Batches of the frame.
    pub batches: u32,
    received: Vec<bool>,
    n_received: u32,
    embeddings: Vec<f32>,
    /// Rows that came from the embedding cache.
    pub cache_hits: u32,
    /// Milliseconds the embedders spent in the model, summed over batches.
    pub embed_ms: f64,
    /// Milliseconds the embedders spent on cache lookups and write-backs, summed.
    pub cache_ms: f64,
    /// Batches done by each embedder instance.
    pub workers: BTreeMap<String, u32>,
}

impl FrameAssembly {
    /// Starts assembling the frame of `first` (which is not added yet: call [`Self::add`]).
    pub fn new(first: &EmbeddingBatch) -> Result<Self, PipelineError> {
        let dim = first.dim as usize;
        let total = first.total_chips as usize;
        let len = total.checked_mul(dim).ok_or_else(|| {
            PipelineError::Inconsistent(format!(
                "{total} chips × {dim} dimensions overflow; the batch is corrupt"
            ))
        })?;
        Ok(FrameAssembly {
            run: first.run.clone(),
            seq: first.seq,
            meta: first.meta.clone(),
            grid: first.grid,
            params: first.params.clone(),
            model: first.model.clone(),
            model_digest: first.model_digest.clone(),
            dim,
            total_chips: total,
            batches: first.batches,
            received: vec![false; first.batches as usize],
            n_received: 0,
            embeddings: vec![0.0; len],
            cache_hits: 0,
            embed_ms: 0.0,
            cache_ms: 0.0,
            workers: BTreeMap::new(),
        })
    }

    /// Adds one batch (decoding its values). A batch that disagrees with the frame is an
    /// error and changes nothing.
    pub fn add(&mut self, b: &EmbeddingBatch) -> Result<Added, PipelineError> {
        self.check_fits(b)?;
        let i = b.batch as usize;
        if self.received[i] {
            return Ok(Added::Repeat);
        }
        let values = b.values_f32()?;
        let start = b.first_chip as usize * self.dim;
        self.embeddings[start..start + values.len()].copy_from_slice(&values);
        self.received[i] = true;
        self.n_received += 1;
        self.cache_hits += b.cache_hits;
        self.embed_ms += b.embed_ms;
        self.cache_ms += b.cache_ms;
        *self.workers.entry(b.worker.clone()).or_default() += 1;
        Ok(Added::New)
    }

    fn check_fits(&self, b: &EmbeddingBatch) -> Result<(), PipelineError> {
        let frame = format!("frame {} of run {}", self.seq, self.run);
        let differs = |what: &str, ours: String, theirs: String| {
            Err(PipelineError::Inconsistent(format!(
                "batch {} of {frame} says {what} is {theirs}, but earlier batches said {ours}; \
                 every batch of a frame must come from one ingest and one model",
                b.batch
            )))
        };
        if b.run != self.run || b.seq != self.seq {
            return differs("the frame", frame.clone(), format!("{}/{}", b.run, b.seq));
        }
        if b.grid != self.grid {
            return differs(
                "the grid",
                format!("{:?}", self.grid),
                format!("{:?}", b.grid),
            );
        }
        if b.batches != self.batches || b.total_chips as usize != self.total_chips {
            return differs(
                "the batch count",
                format!("{} batches of {} chips", self.batches, self.total_chips),
                format!("{} batches of {} chips", b.batches, b.total_chips),
            );
        }
        if b.dim as usize != self.dim || b.model_digest != self.model_digest {
            return differs(
                "the model",
                format!("{} ({}, dim {})", self.model, self.model_digest, self.dim),
                format!("{} ({}, dim {})", b.model, b.model_digest, b.dim),
            );
        }
        if b.params != self.params {
            return differs(
                "the parameters",
                format!("{:?}", self.params),
                format!("{:?}", b.params),
            );
        }
        if b.batch >= self.batches || (b.first_chip as usize + b.n as usize) > self.total_chips {
            return Err(PipelineError::Inconsistent(format!(
                "batch {} (chips {}..{}) of {frame} does not fit its {} batches of {} chips",
                b.batch,
                b.first_chip,
                b.first_chip as u64 + u64::from(b.n),
                self.batches,
                self.total_chips
            )));
        }
        Ok(())
    }

    /// Distinct batches received.
    pub fn received(&self) -> u32 {
        self.n_received
    }

    /// Whether every batch is in.
    pub fn is_complete(&self) -> bool {
        self.n_received == self.batches
    }

    /// The assembled `total_chips × dim` embeddings (rows of missing batches are zero).
    pub fn embeddings(&self) -> &[f32] {
        &self.embeddings
    }
}

#[cfg(test)]
mod tests {
    use tessera_protocol::{InstrumentId, PROTOCOL_VERSION, f32s_to_le_bytes};

    use super::*;

    fn batch(b: u32, first: u32, n: u32, digest: &str) -> EmbeddingBatch {
        let dim = 2;
        let values: Vec<f32> = (0..n * dim).map(|i| (first * dim + i) as f32).collect();
        EmbeddingBatch {
            version: PROTOCOL_VERSION,
            run: RunId::new("r").unwrap(),
            seq: 1,
            meta: FrameMeta {
                instrument: InstrumentId::new("tem").unwrap(),
                timestamp_ms: 0,
                dose: None,
                pixel_size_nm: None,
                normalized: None,
            },
            grid: GridWire {
                width: 64,
                height: 64,
                chip: 16,
                stride: 16,
            },
            params: WireParams::default(),
            batch: b,
            batches: 3,
            first_chip: first,
            n,
            total_chips: 16,
            dim,
            model: "tiny".into(),
            model_digest: digest.into(),
            values: f32s_to_le_bytes(&values),
            cache_hits: 1,
            embed_ms: 2.0,
            worker: format!("w{}", b % 2),
            cache_ms: 1.0,
        }
    }

    #[test]
    fn batches_in_any_order_with_repeats() {
        let parts = [
            batch(2, 12, 4, "d"),
            batch(0, 0, 6, "d"),
            batch(1, 6, 6, "d"),
        ];
        let mut a = FrameAssembly::new(&parts[0]).unwrap();
        assert_eq!(a.add(&parts[0]).unwrap(), Added::New);
        assert_eq!(a.add(&parts[0]).unwrap(), Added::Repeat);
        assert!(!a.is_complete());
        a.add(&parts[1]).unwrap();
        a.add(&parts[2]).unwrap();
        assert!(a.is_complete());
        let expected: Vec<f32> = (0..32).map(|i| i as f32).collect();
        assert_eq!(a.embeddings(), expected.as_slice());
        assert_eq!(a.cache_hits, 3);
        assert_eq!(a.workers.values().sum::<u32>(), 3);
    }

    #[test]
    fn another_model_is_refused_by_name() {
        let mut a = FrameAssembly::new(&batch(0, 0, 6, "d1")).unwrap();
        let err = a.add(&batch(1, 6, 6, "d2")).unwrap_err().to_string();
        assert!(err.contains("model") && err.contains("d2"), "{err}");
        assert_eq!(a.received(), 0);
    }
}
