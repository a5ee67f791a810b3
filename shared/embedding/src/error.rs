//! The errors of this crate, each worded for the person who has to act on it.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running an encoder.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The ONNX Runtime shared library could not be loaded.
    #[error(
        "could not load the ONNX Runtime library from {path}: {reason}. Tessera needs \
         libonnxruntime.so.{version} (from the PyPI wheel onnxruntime=={version}); run \
         `tessera provision` to fetch it into the cache, or set ORT_DYLIB_PATH to the full path \
         of an existing copy"
    )]
    RuntimeLoad {
        /// Where we looked.
        path: PathBuf,
        /// What the loader said.
        reason: String,
        /// The runtime version this build expects.
        version: &'static str,
    },
    /// The manifest could not be read or is inconsistent.
    #[error("model manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file the model needs could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The execution provider asked for did not load.
    #[error(
        "the {provider} execution provider was requested but did not load, so this encoder \
         refuses to start rather than run on the CPU: {reason}. {way_out}"
    )]
    ProviderUnavailable {
        /// The provider that was requested.
        provider: String,
        /// Why it did not load: what ONNX Runtime said, or that the library lacks it.
        reason: String,
        /// What the person can do about it.
        way_out: String,
    },
    /// ONNX Runtime refused the model.
    #[error("ONNX Runtime could not load the model {path}: {reason}")]
    ModelLoad {
        /// The model file.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
    /// The model does not match its manifest.
    #[error("the model {path} does not match its manifest: {reason}")]
    ManifestMismatch {
        /// The model file.
        path: PathBuf,
        /// The mismatch.
        reason: String,
    },
    /// The caller passed chips of the wrong shape.
    #[error("bad chip batch: {0}")]
    BadInput(String),
    /// Inference itself failed.
    #[error("inference failed: {0}")]
    Inference(String),
}
