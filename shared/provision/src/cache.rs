//! Where things live in the cache, and how a model name or path is resolved.
//!
//! ```text
//! <cache>/runtime/libonnxruntime.so.1.31.1   the ONNX Runtime library
//! <cache>/models/<name>/manifest.toml         a model manifest, beside its model.onnx
//! <cache>/samples/                            sample images (scikit-image, atomap)
//! <cache>/venv/                               the Python used for conversion
//! <cache>/scripts/                            the embedded provisioning scripts, written out
//! ```
//!
//! The cache is `--cache`, else `$TESSERA_CACHE`, else `$XDG_CACHE_HOME/tessera` (usually
//! `~/.cache/tessera`).

use std::path::{Path, PathBuf};

use crate::{ProvisionError, script};

/// The models that provisioning makes.
pub const MODELS: &[&str] = &["efficientnet-lite0", "tiny"];

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
}

impl Component {
    fn script_name(self) -> &'static str {
        match self {
            Component::Runtime => "runtime",
            Component::Models => "models",
            Component::Samples => "samples",
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

    /// The manifest of a provisioned model.
    pub fn model_manifest(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name).join("manifest.toml")
    }

    /// The folder of sample images.
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }

    /// The file whose presence says that a component is complete. The script writes each
    /// output atomically, last of its step, so presence means done.
    fn done_marker(&self, c: Component) -> PathBuf {
        match c {
            Component::Runtime => self.runtime_library(),
            Component::Models => self.model_manifest(MODELS[MODELS.len() - 1]),
            Component::Samples => self.samples().join("adf_stem.tif"),
        }
    }

    fn is_complete(&self, c: Component) -> bool {
        match c {
            Component::Models => MODELS.iter().all(|m| self.model_manifest(m).is_file()),
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
    pub fn model(&self, model: &str) -> Result<PathBuf, ProvisionError> {
        if MODELS.contains(&model) {
            self.ensure(&[Component::Models])?;
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
            MODELS.join(", "),
        ))
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
    }

    #[test]
    fn unknown_models_name_the_choices() {
        let c = Cache::new(Some(PathBuf::from("/nonexistent")));
        let err = c.model("resnet-from-nowhere").unwrap_err().to_string();
        assert!(
            err.contains("efficientnet-lite0") && err.contains("manifest.toml"),
            "{err}"
        );
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
