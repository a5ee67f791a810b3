//! The embedder's models: one ONNX Runtime, and one encoder per chip side (a dynamic-size
//! model runs at the chip's own side, exactly as `tessera segment` runs it).
//!
//! Loading the set loads one encoder at once, so that a GPU provider that was asked for and
//! does not load stops the embedder at start-up, with the reason, rather than at its first
//! batch.

use std::collections::HashMap;
use std::path::PathBuf;

use tessera_embedding::{
    CudaTuning, Encoder, EncoderOptions, ExecutionProvider, ModelManifest, PrecisionChoice,
    ProviderConfig, Runtime, load_runtime, read_manifest,
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
    batch: usize,
    encoders: HashMap<usize, Encoder>,
}

/// The provider `settings` ask for, with the engine cache under `cache` when unset.
pub(crate) fn provider(
    settings: &ModelSettings,
    cache: &Cache,
) -> Result<ExecutionProvider, String> {
    let choice: PrecisionChoice = settings.precision.parse()?;
    let config = ProviderConfig {
        memory_limit: settings.memory_limit,
        precision: choice.for_provider(&settings.provider),
        engine_cache: settings.engine_cache.clone(),
        cuda: CudaTuning {
            conv_search: settings.cuda_conv_search.parse()?,
            prefer_nhwc: settings.cuda_prefer_nhwc,
        },
    };
    Ok(ExecutionProvider::configure(&settings.provider, &config)?
        .with_default_engine_cache(cache.root().join("trt-engines")))
}

impl ModelSet {
    /// Loads the runtime and reads the manifest of `settings.name` from the cache. Encoders
    /// are loaded on first use ([`Self::take`]).
    pub(crate) fn load(settings: &ModelSettings) -> Result<Self, WorkerError> {
        let err = |e: String| WorkerError::Model(e);
        let cache = Cache::new(settings.cache_dir.clone());
        let provider = provider(settings, &cache).map_err(|e| err(format!("[model] {e}")))?;
        let batch = settings.batch.unwrap_or_else(|| provider.default_batch());
        let runtime_path = cache.runtime().map_err(|e| err(e.to_string()))?;
        let runtime = load_runtime(&runtime_path).map_err(|e| err(e.to_string()))?;
        let choice: PrecisionChoice = settings.precision.parse().map_err(err)?;
        let manifest_path = cache
            .model_for(&settings.name, choice.wants_int8_model(&provider))
            .map_err(|e| err(e.to_string()))?;
        let manifest = read_manifest(&manifest_path).map_err(|e| err(e.to_string()))?;
        choice
            .check_model(&provider, &settings.name, &manifest)
            .map_err(|e| err(format!("[model] {e}")))?;
        let mut set = ModelSet {
            runtime,
            manifest_path,
            manifest,
            settings: settings.clone(),
            provider,
            batch,
            encoders: HashMap::new(),
        };
        // Start-up check: the provider loads, or the embedder does not start. The encoder is
        // the one for the chip side runs use unless they choose another, so it is kept.
        let chip = tessera_segment::SegmentParams::default().chip;
        let first = set.take(chip)?;
        tracing::info!(provider = %set.provider, batch, "embedding provider loaded");
        set.put(chip, first);
        Ok(set)
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
        if self.provider.is_gpu()
            && let Some(advice) = self.manifest.upload_advice(&self.settings.name, side, chip)
        {
            tracing::warn!("{advice}");
        }
        let options = EncoderOptions {
            provider: self.provider.clone(),
            threads: self.settings.threads,
            batch_size: self.batch,
            input_size: Some(side),
            ..EncoderOptions::default()
        };
        Encoder::load(&self.runtime, &self.manifest_path, &options)
            .map_err(|e| WorkerError::Model(format!("{}: {e}", self.manifest_path.display())))
    }

    /// Returns an encoder taken with [`Self::take`].
    pub(crate) fn put(&mut self, chip: usize, encoder: Encoder) {
        self.encoders.insert(chip, encoder);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(provider: &str, precision: &str) -> ModelSettings {
        ModelSettings {
            name: "tiny".into(),
            provider: provider.into(),
            precision: precision.into(),
            ..ModelSettings::default()
        }
    }

    #[test]
    fn settings_choose_the_provider_batch_and_engine_cache() {
        let cache = Cache::new(Some(PathBuf::from("/c")));
        let p = provider(&settings("tensorrt:1", "fp16"), &cache).unwrap();
        assert_eq!(
            p,
            ExecutionProvider::TensorRt {
                device_id: 1,
                fp16: true,
                int8: false,
                engine_cache: Some(PathBuf::from("/c/trt-engines")),
                memory_limit: None,
            }
        );
        assert_eq!(p.default_batch(), 256);
        let mut own = settings("cuda", "fp32");
        own.memory_limit = Some(1 << 30);
        assert_eq!(
            provider(&own, &cache).unwrap(),
            ExecutionProvider::Cuda {
                device_id: 0,
                memory_limit: Some(1 << 30),
                tuning: Default::default(),
            }
        );
        let err = provider(&settings("cuda", "fp16"), &cache).unwrap_err();
        assert!(err.contains("tensorrt"), "{err}");
    }

    /// On this CPU-only runtime, an embedder asked for a GPU stops at start-up, saying why
    /// and what to do.
    #[test]
    fn a_missing_gpu_provider_stops_the_embedder_at_start_up() {
        for provider in ["cuda", "tensorrt"] {
            let err = match ModelSet::load(&settings(provider, "fp32")) {
                Ok(_) => panic!("{provider} loaded on a CPU-only runtime"),
                Err(e) => e.to_string(),
            };
            for part in [
                "execution provider was requested but did not load",
                "built without",
                "tessera provision --gpu",
                "provider = \"cpu\"",
            ] {
                assert!(err.contains(part), "{provider}: {part:?} not in {err}");
            }
        }
        // The CPU starts, with one encoder loaded.
        let set = ModelSet::load(&settings("cpu", "fp32")).unwrap();
        assert_eq!(set.batch, 64);
        assert_eq!(set.encoders.len(), 1);
    }
}
