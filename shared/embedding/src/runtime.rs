//! Loading the ONNX Runtime shared library at run time.
//!
//! Tessera links no ONNX Runtime at build time. The caller says where the library is (the
//! provisioning crate finds it in the cache or at `ORT_DYLIB_PATH`); it is loaded once per
//! process and every encoder shares the resulting [`Runtime`].

use std::path::Path;

use crate::EmbeddingError;

/// The ONNX Runtime version this build is made for (the `api-31` feature of `ort`).
pub const ORT_VERSION: &str = "1.31.1";

/// A loaded ONNX Runtime, shared by the encoders of a process.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) env: ort::environment::Environment,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

/// Loads the ONNX Runtime library at `path` for this process.
///
/// Loading is idempotent: once a library is loaded, later calls reuse it. A library older than
/// [`ORT_VERSION`] is refused with an error that says how to get the right one.
pub fn load_runtime(path: &Path) -> Result<Runtime, EmbeddingError> {
    let err = |reason: String| EmbeddingError::RuntimeLoad {
        path: path.to_path_buf(),
        reason,
        version: ORT_VERSION,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    let env = ort::init_from(path)
        .map_err(|e| err(e.to_string()))?
        .with_name("tessera")
        .with_telemetry(false)
        .build()
        .map_err(|e| err(e.to_string()))?;
    Ok(Runtime { env })
}
