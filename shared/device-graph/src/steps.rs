//! [`DeviceSteps`]: the graphs run in tiles, their outputs turned into a [`Knn`] and margins.

use ort::{
    session::{Session, builder::SessionBuilder},
    value::TensorRef,
};
use tessera_embedding::{EmbeddingError, ExecutionProvider, Runtime, session_builder};
use tessera_graph::{GraphError, Knn, check_matrix, knn_k};
use tessera_segment::{DenseSteps, SegmentError, confidence::margin};

use crate::graphs;

/// Cosines per k-NN tile (query rows × all rows): 32 Mi floats, 128 MiB. A tile is one run of
/// the graph; the fewer, the less the features travel to the device.
const TILE_ELEMENTS: usize = 1 << 25;

/// What can go wrong on the device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceGraphError {
    /// The provider would not give a session.
    #[error("cannot run the chip graph on {provider}: {source}")]
    Provider {
        /// The provider asked for.
        provider: String,
        /// Why not.
        #[source]
        source: EmbeddingError,
    },
    /// ONNX Runtime refused a graph (a runtime without the Model Editor API, or a bug here).
    #[error(
        "ONNX Runtime could not build the {graph} graph: {reason}; the dense steps need ONNX \
         Runtime {ort} (its Model Editor API). Run them on the host instead (--graph-on host)",
        ort = tessera_embedding::ORT_VERSION
    )]
    Build {
        /// `knn` or `margins`.
        graph: &'static str,
        /// ONNX Runtime's words.
        reason: String,
    },
    /// A run failed (out of device memory, say).
    #[error(
        "running the {graph} graph failed: {reason}. Run the dense steps on the host instead (--graph-on host)"
    )]
    Run {
        /// `knn` or `margins`.
        graph: &'static str,
        /// ONNX Runtime's words.
        reason: String,
    },
    /// The input is not what the host steps would take either.
    #[error(transparent)]
    Input(#[from] GraphError),
    /// Labels and features or centroids disagree.
    #[error("{0}")]
    Shape(String),
}

/// The dense steps on an execution provider (see the crate docs).
pub struct DeviceSteps {
    provider: String,
    knn: Session,
    margins: Session,
    tile_elements: usize,
}

impl std::fmt::Debug for DeviceSteps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSteps")
            .field("provider", &self.provider)
            .field("tile_elements", &self.tile_elements)
            .finish()
    }
}

impl DeviceSteps {
    /// Builds both graphs on `provider` (TensorRT runs them through its CUDA provider), with
    /// `threads` intra-op threads for the CPU's part (0: one per core).
    pub fn new(
        runtime: &Runtime,
        provider: &ExecutionProvider,
        threads: usize,
    ) -> Result<DeviceSteps, DeviceGraphError> {
        let builder = || -> Result<SessionBuilder, DeviceGraphError> {
            session_builder(runtime, provider, threads).map_err(|source| {
                DeviceGraphError::Provider {
                    provider: provider.to_string(),
                    source,
                }
            })
        };
        let build = |graph: &'static str, e: ort::Error| DeviceGraphError::Build {
            graph,
            reason: e.to_string(),
        };
        Ok(DeviceSteps {
            provider: provider.to_string(),
            knn: graphs::knn(&builder()?).map_err(|e| build("knn", e))?,
            margins: graphs::margins(&builder()?).map_err(|e| build("margins", e))?,
            tile_elements: TILE_ELEMENTS,
        })
    }

    /// Caps the cosines computed per run (query rows × all rows) at `elements` (at least one
    /// row per run): a smaller tile for a device short of memory, or to test the tiling.
    pub fn with_tile_elements(mut self, elements: usize) -> DeviceSteps {
        self.tile_elements = elements.max(1);
        self
    }

    /// The exact `k` nearest neighbours of every row (unit-length, `n × dim`) by cosine,
    /// excluding the row itself, as `tessera_graph::knn_cosine` defines them.
    pub fn knn_cosine(
        &mut self,
        data: &[f32],
        n: usize,
        dim: usize,
        k: usize,
    ) -> Result<Knn, DeviceGraphError> {
        let k = knn_k(data, n, dim, k)?;
        let mut out = Knn {
            k,
            indices: Vec::with_capacity(n * k),
            similarities: Vec::with_capacity(n * k),
        };
        if k == 0 {
            return Ok(out);
        }
        // One more than wanted: the row itself is among its own nearest, and is dropped.
        let wanted = k + 1;
        let tile_rows = (self.tile_elements / n).clamp(1, n);
        let run = |e: ort::Error| DeviceGraphError::Run {
            graph: "knn",
            reason: e.to_string(),
        };
        let k_input = [wanted as i64];
        for start in (0..n).step_by(tile_rows) {
            let rows = tile_rows.min(n - start);
            let queries = &data[start * dim..(start + rows) * dim];
            let outputs = self
                .knn
                .run(ort::inputs![
                    "queries" => TensorRef::from_array_view(([rows, dim], queries)).map_err(run)?,
                    // A fresh view per run: cloning a tensor value copies it (through a
                    // session of its own).
                    "base" => TensorRef::from_array_view(([n, dim], data)).map_err(run)?,
                    "k" => TensorRef::from_array_view(([1usize], &k_input[..])).map_err(run)?,
                ])
                .map_err(run)?;
            let (_, values) = outputs["values"].try_extract_tensor::<f32>().map_err(run)?;
            let (_, indices) = outputs["indices"]
                .try_extract_tensor::<i64>()
                .map_err(run)?;
            for r in 0..rows {
                let row = start + r;
                let (sims, idx) = (
                    &values[r * wanted..(r + 1) * wanted],
                    &indices[r * wanted..(r + 1) * wanted],
                );
                // Drop the row itself; where exact duplicates crowd it out, the last entry.
                let skip = idx.iter().position(|&j| j as usize == row).unwrap_or(k);
                for (i, (&s, &j)) in sims.iter().zip(idx).enumerate() {
                    if i != skip {
                        out.similarities.push(s);
                        out.indices.push(j as u32);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Each chip's confidence margin, as `tessera_segment::confidence::chip_confidence`
    /// defines it.
    pub fn margins(
        &mut self,
        features: &[f32],
        dim: usize,
        labels: &[u32],
        centroids: &[f32],
    ) -> Result<Vec<f32>, DeviceGraphError> {
        let n = labels.len();
        check_matrix(features, n, dim)?;
        let c = centroids.len() / dim;
        if c * dim != centroids.len() || c == 0 {
            return Err(DeviceGraphError::Shape(format!(
                "{} centroid values do not make rows of {dim}",
                centroids.len()
            )));
        }
        if let Some(&l) = labels.iter().find(|&&l| l as usize >= c) {
            return Err(DeviceGraphError::Shape(format!(
                "label {l} has no centroid (there are {c}); pass one centroid per community"
            )));
        }
        let run = |e: ort::Error| DeviceGraphError::Run {
            graph: "margins",
            reason: e.to_string(),
        };
        let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        let outputs = self
            .margins
            .run(ort::inputs![
                "features" => TensorRef::from_array_view(([n, dim], features)).map_err(run)?,
                "centroids" => TensorRef::from_array_view(([c, dim], centroids)).map_err(run)?,
                "labels" => TensorRef::from_array_view(([n, 1], &labels[..])).map_err(run)?,
            ])
            .map_err(run)?;
        let (_, own) = outputs["own"].try_extract_tensor::<f32>().map_err(run)?;
        let (_, other) = outputs["other"].try_extract_tensor::<f32>().map_err(run)?;
        Ok(own.iter().zip(other).map(|(&o, &x)| margin(o, x)).collect())
    }
}

impl DeviceSteps {
    /// `e` as the pipeline reports it: input the host would refuse, with the host's error.
    fn segment_error(&self, e: DeviceGraphError) -> SegmentError {
        match e {
            DeviceGraphError::Input(e) => SegmentError::Graph(e),
            other => SegmentError::DenseSteps {
                runner: self.name(),
                reason: other.to_string(),
            },
        }
    }
}

impl DenseSteps for DeviceSteps {
    fn name(&self) -> String {
        format!("device:{}", self.provider)
    }

    fn knn(
        &mut self,
        features: &[f32],
        n: usize,
        dim: usize,
        k: usize,
    ) -> Result<Knn, SegmentError> {
        self.knn_cosine(features, n, dim, k)
            .map_err(|e| self.segment_error(e))
    }

    fn margins(
        &mut self,
        features: &[f32],
        dim: usize,
        labels: &[u32],
        centroids: &[f32],
    ) -> Result<Vec<f32>, SegmentError> {
        DeviceSteps::margins(self, features, dim, labels, centroids)
            .map_err(|e| self.segment_error(e))
    }
}
