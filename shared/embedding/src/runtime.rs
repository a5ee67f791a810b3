//! Loading the ONNX Runtime shared library at run time.
//!
//! Tessera links no ONNX Runtime at build time. The caller says where the library is (the
//! provisioning crate finds it in the cache or at `ORT_DYLIB_PATH`); it is loaded once per
//! process and every encoder shares the resulting [`Runtime`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{EmbeddingError, ExecutionProvider};

/// The ONNX Runtime version this build is made for (the `api-31` feature of `ort`).
pub const ORT_VERSION: &str = "1.31.1";

/// A loaded ONNX Runtime, shared by the encoders of a process.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) env: ort::environment::Environment,
    pub(crate) path: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("path", &self.path).finish()
    }
}

impl Runtime {
    /// The library this runtime was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this library was built with `provider` (the CPU wheel's library has only the
    /// CPU); `Err` carries what ONNX Runtime said when it could not tell.
    pub fn has_provider(&self, provider: &ExecutionProvider) -> Result<bool, String> {
        use ort::ep::ExecutionProvider as _;
        let has = |r: ort::Result<bool>| r.map_err(|e| e.to_string());
        match provider {
            ExecutionProvider::Cpu => Ok(true),
            ExecutionProvider::Cuda { .. } => has(ort::ep::CUDA::is_available()),
            ExecutionProvider::TensorRt { .. } => {
                Ok(has(ort::ep::TensorRT::is_available())? && has(ort::ep::CUDA::is_available())?)
            }
        }
    }
}

/// The runtime this process loaded, and from where: ONNX Runtime allows one environment per
/// process, so every later load shares it.
static LOADED: Mutex<Option<(PathBuf, Runtime)>> = Mutex::new(None);

/// Loads the ONNX Runtime library at `path` for this process.
///
/// Loading is idempotent: once a library is loaded, later calls with the same path reuse it
/// (several services in one process share one runtime); a different path is an error, since
/// a process can hold only one. A library older than [`ORT_VERSION`] is refused with an error
/// that says how to get the right one.
pub fn load_runtime(path: &Path) -> Result<Runtime, EmbeddingError> {
    let err = |reason: String| EmbeddingError::RuntimeLoad {
        path: path.to_path_buf(),
        reason,
        version: ORT_VERSION,
    };
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((first, runtime)) = loaded.as_ref() {
        if same_file(first, path) {
            return Ok(runtime.clone());
        }
        return Err(err(format!(
            "this process already loaded the ONNX Runtime from {}; a process can load only \
             one, so point every user at the same library",
            first.display()
        )));
    }
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    let runtime = init(path).map_err(err)?;
    *loaded = Some((path.to_path_buf(), runtime.clone()));
    Ok(runtime)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

fn init(path: &Path) -> Result<Runtime, String> {
    let env = ort::init_from(path)
        .map_err(|e| e.to_string())?
        .with_name("tessera")
        .with_telemetry(false)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Runtime {
        env,
        path: path.to_path_buf(),
    })
}
