//! The embedder's models: one ONNX Runtime, and one encoder per chip side (a dynamic-size
//! model runs at the chip's own side, exactly as `tessera segment` runs it).

use std::collections::HashMap;
use std::path::PathBuf;

use tessera_embedding::{
    Encoder, EncoderOptions, ExecutionProvider, ModelManifest, Runtime, load_runtime, read_manifest,
};
use tessera_provision::Cache;
use tessera_settings::ModelSettings;

use crate::WorkerError;

/// The runtime, the manifest, and the encoders loaded so far.
pub(crate) struct ModelSet {
    runtime: Runtime,
    manifest_path: PathBuf,
    manifest: ModelManifest,
    settings: ModelSettings,
    provider: ExecutionProvider,
    encoders: HashMap<usize, Encoder>,
}

impl ModelSet {
    /// Loads the runtime and reads the manifest of `settings.name` from the cache. Encoders
    /// are loaded on first use ([`Self::take`]).
    pub(crate) fn load(settings: &ModelSettings) -> Result<Self, WorkerError> {
        let err = |e: String| WorkerError::Model(e);
        let provider: ExecutionProvider = settings.provider.parse().map_err(err)?;
        let cache = Cache::new(settings.cache_dir.clone());
        let runtime_path = cache.runtime().map_err(|e| err(e.to_string()))?;
        let runtime = load_runtime(&runtime_path).map_err(|e| err(e.to_string()))?;
        let manifest_path = cache
            .model(&settings.name)
            .map_err(|e| err(e.to_string()))?;
        let manifest = read_manifest(&manifest_path).map_err(|e| err(e.to_string()))?;
        Ok(ModelSet {
            runtime,
            manifest_path,
            manifest,
            settings: settings.clone(),
            provider,
            encoders: HashMap::new(),
        })
    }

    /// The configured model name (what chip batches must ask for).
    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    /// Whether a batch asking for `model` can be served here: the configured name, or the
    /// manifest's own name.
    pub(crate) fn serves(&self, model: &str) -> bool {
        model == self.settings.name || model == self.manifest.name
    }

    /// Width of an embedding row.
    pub(crate) fn dim(&self) -> usize {
        self.manifest.embedding_dim
    }

    /// The encoder for chips of side `chip`, loading it the first time; give it back with
    /// [`Self::put`].
    pub(crate) fn take(&mut self, chip: usize) -> Result<Encoder, WorkerError> {
        if let Some(e) = self.encoders.remove(&chip) {
            return Ok(e);
        }
        let side = self.manifest.input_side(self.settings.input_size, chip);
        let options = EncoderOptions {
            provider: self.provider.clone(),
            threads: self.settings.threads,
            batch_size: self.settings.batch,
            input_size: Some(side),
            spin: false,
        };
        Encoder::load(&self.runtime, &self.manifest_path, &options)
            .map_err(|e| WorkerError::Model(format!("{}: {e}", self.manifest_path.display())))
    }

    /// Returns an encoder taken with [`Self::take`].
    pub(crate) fn put(&mut self, chip: usize, encoder: Encoder) {
        self.encoders.insert(chip, encoder);
    }
}
