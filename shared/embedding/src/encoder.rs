//! The batched encoder: chips in, one embedding row per chip out.

use std::path::{Path, PathBuf};

use ort::{
    session::{Session, builder::GraphOptimizationLevel},
    value::TensorRef,
};
use sha2::{Digest, Sha256};

use crate::{
    EmbeddingError, ExecutionProvider, ModelManifest, preprocess::Preprocessor, runtime::Runtime,
};

/// How an encoder runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderOptions {
    /// The execution provider; a provider that does not load is an error.
    pub provider: ExecutionProvider,
    /// Intra-op threads; 0 means one per available core.
    pub threads: usize,
    /// Chips per inference call.
    pub batch_size: usize,
    /// The network input side; `None` takes the manifest's `input_size`.
    pub input_size: Option<usize>,
    /// Let idle inference threads spin. Off by default: on a shared CPU, spinning cost 1.6×
    /// the CPU time per chip for no gain in throughput.
    pub spin: bool,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            provider: ExecutionProvider::Cpu,
            threads: 0,
            batch_size: 64,
            input_size: None,
            spin: false,
        }
    }
}

/// An ONNX image encoder, loaded once and run many times.
pub struct Encoder {
    session: Session,
    manifest: ModelManifest,
    model_path: PathBuf,
    side: usize,
    batch_size: usize,
    provider: ExecutionProvider,
    digest: String,
    input: Vec<f32>,
    plane: Vec<f32>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model", &self.model_path)
            .field("side", &self.side)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// Reads and validates the manifest at `path`.
pub fn read_manifest(path: &Path) -> Result<ModelManifest, EmbeddingError> {
    let text = std::fs::read_to_string(path).map_err(|source| EmbeddingError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ModelManifest::from_toml(&text).map_err(|reason| EmbeddingError::Manifest {
        path: path.to_path_buf(),
        reason,
    })
}

impl Encoder {
    /// Loads the model described by the manifest at `manifest_path`.
    pub fn load(
        runtime: &Runtime,
        manifest_path: &Path,
        options: &EncoderOptions,
    ) -> Result<Encoder, EmbeddingError> {
        let manifest = read_manifest(manifest_path)?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        let model_path = dir.join(&manifest.file);
        let bytes = std::fs::read(&model_path).map_err(|source| EmbeddingError::Io {
            path: model_path.clone(),
            source,
        })?;
        let side = options.input_size.unwrap_or(manifest.input_size);
        if side != manifest.input_size && !manifest.dynamic_size {
            return Err(EmbeddingError::ManifestMismatch {
                path: model_path,
                reason: format!(
                    "input size {side} was asked for, but the manifest says the network only \
                     takes {} (dynamic_size = false)",
                    manifest.input_size
                ),
            });
        }
        if options.batch_size == 0 {
            return Err(EmbeddingError::BadInput(
                "batch size must be at least 1".into(),
            ));
        }
        let session = build_session(runtime, &bytes, &model_path, options)?;
        check_outlets(&session, &manifest, &model_path)?;
        let mut hasher = Sha256::new();
        hasher.update(&bytes);
        hasher.update(format!("|side={side}|").as_bytes());
        let digest = hex::encode(&hasher.finalize()[..16]);
        tracing::info!(model = %manifest.name, side, provider = %options.provider, "encoder loaded");
        Ok(Encoder {
            session,
            manifest,
            model_path,
            side,
            batch_size: options.batch_size,
            provider: options.provider.clone(),
            digest,
            input: Vec::new(),
            plane: Vec::new(),
        })
    }

    /// The model's manifest.
    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// The side chips are resampled to before the network.
    pub fn input_size(&self) -> usize {
        self.side
    }

    /// Width of one embedding row.
    pub fn embedding_dim(&self) -> usize {
        self.manifest.embedding_dim
    }

    /// The provider the encoder runs on.
    pub fn provider(&self) -> &ExecutionProvider {
        &self.provider
    }

    /// A digest of the model bytes and input side: equal digests give equal embeddings.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Embeds `chips` (`n × chip × chip` values in `[0, 1]`), returning `n × embedding_dim`.
    pub fn embed(&mut self, chips: &[f32], chip: usize) -> Result<Vec<f32>, EmbeddingError> {
        let output = self.manifest.output.clone();
        self.run_output(chips, chip, &output, self.manifest.embedding_dim)
    }

    /// Runs the network and returns the named output, which must be `n × width`.
    pub fn run_output(
        &mut self,
        chips: &[f32],
        chip: usize,
        output: &str,
        width: usize,
    ) -> Result<Vec<f32>, EmbeddingError> {
        if chip == 0 || chips.len() % (chip * chip) != 0 {
            return Err(EmbeddingError::BadInput(format!(
                "{} values is not a whole number of {chip} × {chip} chips",
                chips.len()
            )));
        }
        let n = chips.len() / (chip * chip);
        let pre = Preprocessor::new(&self.manifest, chip, self.side);
        let mut result = Vec::with_capacity(n * width);
        for batch in chips.chunks(self.batch_size * chip * chip) {
            let m = batch.len() / (chip * chip);
            self.input.resize(m * pre.input_len(), 0.0);
            pre.fill(batch, &mut self.input, &mut self.plane);
            let tensor = TensorRef::from_array_view((pre.shape(m), &self.input[..]))
                .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
            let outputs = self
                .session
                .run(ort::inputs![self.manifest.input.as_str() => tensor])
                .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
            let value = outputs.get(output).ok_or_else(|| {
                EmbeddingError::Inference(format!("the model returned no output named {output:?}"))
            })?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| EmbeddingError::Inference(e.to_string()))?;
            if data.len() != m * width {
                return Err(EmbeddingError::Inference(format!(
                    "output {output:?} has shape {shape:?}, expected [{m}, {width}]"
                )));
            }
            result.extend_from_slice(data);
        }
        Ok(result)
    }
}

fn build_session(
    runtime: &Runtime,
    bytes: &[u8],
    model_path: &Path,
    options: &EncoderOptions,
) -> Result<Session, EmbeddingError> {
    let load_err = |reason: String| EmbeddingError::ModelLoad {
        path: model_path.to_path_buf(),
        reason,
    };
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let builder = Session::builder(&runtime.env)
        .map_err(|e| load_err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| load_err(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| load_err(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| load_err(e.to_string()))?
        .with_intra_op_spinning(options.spin)
        .map_err(|e| load_err(e.to_string()))?;
    let dispatches = options.provider.dispatches();
    let mut builder = if dispatches.is_empty() {
        builder
    } else {
        builder.with_execution_providers(dispatches).map_err(|e| {
            EmbeddingError::ProviderUnavailable {
                provider: options.provider.to_string(),
                reason: e.to_string(),
                version: crate::ORT_VERSION,
            }
        })?
    };
    builder
        .commit_from_memory(bytes)
        .map_err(|e| load_err(e.to_string()))
}

fn check_outlets(
    session: &Session,
    manifest: &ModelManifest,
    path: &Path,
) -> Result<(), EmbeddingError> {
    let mismatch = |reason: String| EmbeddingError::ManifestMismatch {
        path: path.to_path_buf(),
        reason,
    };
    let names = |outlets: &[ort::value::Outlet]| {
        outlets
            .iter()
            .map(|o| o.name().to_string())
            .collect::<Vec<_>>()
    };
    let inputs = names(session.inputs());
    if !inputs.contains(&manifest.input) {
        return Err(mismatch(format!(
            "the manifest names input {:?}, the model has {inputs:?}",
            manifest.input
        )));
    }
    let outputs = names(session.outputs());
    for wanted in std::iter::once(&manifest.output).chain(manifest.extra_outputs.keys()) {
        if !outputs.contains(wanted) {
            return Err(mismatch(format!(
                "the manifest names output {wanted:?}, the model has {outputs:?}"
            )));
        }
    }
    Ok(())
}
