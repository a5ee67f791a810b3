//! The batched encoder: chips in, one embedding row per chip out.

use std::path::{Path, PathBuf};

use ort::{
    session::Session,
    value::{DynTensor, TensorElementType},
};
use sha2::{Digest, Sha256};
use sync_wrapper::SyncWrapper;

use crate::{
    EmbeddingError, ExecutionProvider, ModelManifest, RawDtype, RawInput,
    host_memory::{Memory, Pinning},
    preprocess::Preprocessor,
    provider::{ComputeStream, TrtProfile},
    runtime::Runtime,
    session::{build_session, check_outlets},
    staging::{self, Job, Stage, Staging},
};

/// How an encoder runs.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderOptions {
    /// The execution provider; a provider that does not load is an error.
    pub provider: ExecutionProvider,
    /// Intra-op threads; 0 means one per available core.
    pub threads: usize,
    /// Chips per inference call; callers with no setting of their own take
    /// [`ExecutionProvider::default_batch`].
    pub batch_size: usize,
    /// The network input side; `None` takes the manifest's `input_size`.
    pub input_size: Option<usize>,
    /// Let idle inference threads spin. Off by default: on a shared CPU, spinning cost 1.6×
    /// the CPU time per chip for no gain in throughput.
    pub spin: bool,
    /// A CUDA stream of the caller's for the GPU providers to run on; `None`: their own.
    pub compute_stream: Option<ComputeStream>,
    /// How batches move through the session; `None` takes [`Staging::for_provider`].
    pub staging: Option<Staging>,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            provider: ExecutionProvider::Cpu,
            threads: 0,
            batch_size: 64,
            input_size: None,
            spin: false,
            compute_stream: None,
            staging: None,
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
    /// The staging memory and slots: used only through `&mut self`, so the wrapper lets the
    /// encoder be shared between threads although ONNX Runtime's handles inside are not.
    staged: SyncWrapper<(Memory, Vec<Stage>)>,
    staging: Staging,
    pinning: Pinning,
    plane: Vec<f32>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model", &self.model_path)
            .field("side", &self.side)
            .field("provider", &self.provider)
            .field("staging", &self.staging)
            .field("pinning", &self.pinning)
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
        let mut hasher = Sha256::new();
        hasher.update(&bytes);
        hasher.update(format!("|side={side}|").as_bytes());
        let digest = hex::encode(&hasher.finalize()[..16]);
        let profile = TrtProfile {
            input: manifest.input.clone(),
            min: input_shape(&manifest, side, 1),
            max: input_shape(&manifest, side, options.batch_size),
        };
        let mut session = build_session(runtime, &bytes, &model_path, options, &digest, &profile)?;
        check_outlets(&session, &manifest, &model_path)?;
        let shape = |rows: usize| input_shape(&manifest, side, rows);
        let job = Job {
            input: &manifest.input,
            output: &manifest.output,
            width: manifest.embedding_dim,
            dtype: input_dtype(&manifest),
            shape: &shape,
        };
        let memory = Memory::for_session(&mut session, &options.provider, &job);
        let staging = options
            .staging
            .unwrap_or_else(|| Staging::for_provider(&options.provider));
        tracing::info!(
            model = %manifest.name,
            side,
            provider = %options.provider,
            pinned = %memory.pinning(),
            overlap = staging.overlap,
            "encoder loaded"
        );
        Ok(Encoder {
            session,
            manifest,
            model_path,
            side,
            batch_size: options.batch_size,
            provider: options.provider.clone(),
            digest,
            pinning: memory.pinning(),
            staged: SyncWrapper::new((memory, Vec::new())),
            staging,
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

    /// Chips per inference call.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The provider the encoder runs on.
    pub fn provider(&self) -> &ExecutionProvider {
        &self.provider
    }

    /// How batches move through the session.
    pub fn staging(&self) -> Staging {
        self.staging
    }

    /// Whether batches are staged in pinned host memory (GPU sessions that accept it).
    pub fn pinned(&self) -> bool {
        self.pinning != Pinning::None
    }

    /// Which host buffers are pinned.
    pub fn pinning(&self) -> Pinning {
        self.pinning
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
        let area = chip * chip;
        if let Some(raw) = self.manifest.raw_input
            && raw.chip != chip
        {
            return Err(EmbeddingError::BadInput(format!(
                "the model {} preprocesses in its graph and was built for {}-pixel chips \
                 ([raw_input] in its manifest); these are {chip} pixels. Make a variant for \
                 this chip side (scripts/tessera_provision/raw_input.py --chip {chip}), or use \
                 the model without [raw_input]",
                self.model_path.display(),
                raw.chip
            )));
        }
        let pre = Preprocessor::new(&self.manifest, chip, self.side);
        let raw = self.manifest.raw_input;
        let (manifest, side) = (&self.manifest, self.side);
        let shape = |rows: usize| input_shape(manifest, side, rows);
        let job = Job {
            input: &self.manifest.input,
            output,
            width,
            dtype: input_dtype(&self.manifest),
            shape: &shape,
        };
        let plane = &mut self.plane;
        let mut fill = |part: &[f32], tensor: &mut DynTensor| -> Result<(), EmbeddingError> {
            let infer = |e: ort::Error| EmbeddingError::Inference(e.to_string());
            let m = part.len() / area;
            match raw {
                None => {
                    let data = tensor.try_extract_tensor_mut::<f32>().map_err(infer)?.1;
                    pre.fill(part, &mut data[..m * pre.input_len()], plane);
                }
                Some(RawInput {
                    dtype: RawDtype::Float32,
                    ..
                }) => {
                    let data = tensor.try_extract_tensor_mut::<f32>().map_err(infer)?.1;
                    data[..part.len()].copy_from_slice(part);
                }
                Some(RawInput {
                    dtype: RawDtype::Uint8,
                    ..
                }) => {
                    let data = tensor.try_extract_tensor_mut::<u8>().map_err(infer)?.1;
                    data.iter_mut().zip(part).for_each(|(d, &v)| *d = to_u8(v));
                }
            }
            Ok(())
        };
        let (memory, stages) = self.staged.get_mut();
        staging::run(
            &mut self.session,
            memory,
            stages,
            self.staging,
            self.batch_size,
            chips,
            area,
            &job,
            &mut fill,
        )
    }
}

/// The network input's element type: bytes for a `[raw_input]` model of `u8` chips.
fn input_dtype(manifest: &ModelManifest) -> TensorElementType {
    match manifest.raw_input {
        Some(RawInput {
            dtype: RawDtype::Uint8,
            ..
        }) => TensorElementType::Uint8,
        _ => TensorElementType::Float32,
    }
}

/// The network input's shape for `rows` chips: the manifest's layout at `side`, or for a
/// model that preprocesses in its graph, the chips themselves (`rows × 1 × chip × chip`).
fn input_shape(manifest: &ModelManifest, side: usize, rows: usize) -> Vec<i64> {
    match manifest.raw_input {
        None => Preprocessor::new(manifest, side, side).shape(rows).to_vec(),
        Some(raw) => vec![rows as i64, 1, raw.chip as i64, raw.chip as i64],
    }
}

/// A chip value in `[0, 1]` as the 8-bit value a `uint8` raw input takes.
fn to_u8(v: f32) -> u8 {
    // `as` saturates, and NaN becomes 0.
    (v * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chips_become_bytes_by_rounding_and_saturating() {
        assert_eq!(to_u8(0.0), 0);
        assert_eq!(to_u8(1.0), 255);
        assert_eq!(to_u8(0.5), 128);
        assert_eq!(to_u8(1.5), 255);
        assert_eq!(to_u8(-0.1), 0);
        assert_eq!(to_u8(f32::NAN), 0);
    }
}
