//! Building the ONNX Runtime session of an encoder on the provider asked for, and checking
//! the model against its manifest.
//!
//! A GPU provider that the library lacks or that will not register is an error that says
//! which libraries to install, never a silent fall-back to the CPU.

use std::path::{Path, PathBuf};

use ort::{
    ep::ExecutionProviderDispatch,
    session::{
        Session,
        builder::{GraphOptimizationLevel, SessionBuilder},
    },
};

use crate::{
    EmbeddingError, EncoderOptions, ExecutionProvider, ModelManifest, provider::TrtProfile,
    runtime::Runtime,
};

/// The TensorRT engine folder of this model, input side, precision and batch size (the
/// engines' optimisation profile ends at the batch size), `<engine_cache>/<digest>/<precision>-b<batch>`,
/// made if missing; `None` for other providers or
/// when no engine cache was chosen.
fn engine_dir(
    provider: &ExecutionProvider,
    digest: &str,
    batch: usize,
) -> Result<Option<PathBuf>, EmbeddingError> {
    let ExecutionProvider::TensorRt {
        engine_cache: Some(root),
        ..
    } = provider
    else {
        return Ok(None);
    };
    let dir = root
        .join(digest)
        .join(format!("{}-b{batch}", provider.precision().name()));
    std::fs::create_dir_all(&dir).map_err(|source| EmbeddingError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(Some(dir))
}

/// What to do when a GPU provider is missing from the library.
fn gpu_runtime_way_out() -> String {
    format!(
        "The GPU build of ONNX Runtime comes from the onnxruntime-gpu {v} wheel: fetch it with \
         `tessera provision --gpu` (into $TESSERA_CACHE/runtime-gpu/) and set ORT_DYLIB_PATH to \
         $TESSERA_CACHE/runtime-gpu/libonnxruntime.so.{v}; or run on the CPU (`--provider cpu`, \
         or provider = \"cpu\" in [model])",
        v = crate::ORT_VERSION
    )
}

/// What to do when a GPU provider is in the library but would not register.
fn gpu_libraries_way_out(provider: &ExecutionProvider) -> String {
    let (device, trt) = match provider {
        ExecutionProvider::TensorRt { device_id, .. } => (
            *device_id,
            ", and TensorRT 10 (libnvinfer.so.10, libnvonnxparser.so.10)",
        ),
        ExecutionProvider::Cuda { device_id, .. } => (*device_id, ""),
        ExecutionProvider::Cpu => (0, ""),
    };
    format!(
        "Check that GPU {device} exists (nvidia-smi -L), and that the NVIDIA driver and the \
         libraries onnxruntime-gpu {v} was built for are installed and on LD_LIBRARY_PATH: \
         CUDA 13 (libcudart, libcublas, libcublasLt, libcurand, libcufft), cuDNN 9{trt}; or run \
         on the CPU (`--provider cpu`, or provider = \"cpu\" in [model])",
        v = crate::ORT_VERSION
    )
}

pub(crate) fn build_session(
    runtime: &Runtime,
    bytes: &[u8],
    model_path: &Path,
    options: &EncoderOptions,
    digest: &str,
    profile: &TrtProfile,
) -> Result<Session, EmbeddingError> {
    let load_err = |reason: String| EmbeddingError::ModelLoad {
        path: model_path.to_path_buf(),
        reason,
    };
    let engines = engine_dir(&options.provider, digest, options.batch_size)?;
    let dispatches =
        options
            .provider
            .dispatches(engines.as_deref(), options.compute_stream, Some(profile));
    configured_builder(
        runtime,
        &options.provider,
        dispatches,
        options.threads,
        options.spin,
    )
    .map_err(|e| match e {
        EmbeddingError::ModelLoad { reason, .. } => load_err(reason),
        other => other,
    })?
    .commit_from_memory(bytes)
    .map_err(|e| load_err(e.to_string()))
}

/// A session builder on `provider`, for graphs other than an encoder's (the chip graph's
/// dense steps): the same threads and the same refusal of a GPU provider that does not
/// register. TensorRT runs such graphs through its CUDA provider: their shapes change with
/// every frame, and TensorRT would build an engine for each.
pub fn session_builder(
    runtime: &Runtime,
    provider: &ExecutionProvider,
    threads: usize,
) -> Result<SessionBuilder, EmbeddingError> {
    let provider = match provider {
        ExecutionProvider::TensorRt {
            device_id,
            memory_limit,
            ..
        } => ExecutionProvider::Cuda {
            device_id: *device_id,
            memory_limit: *memory_limit,
            tuning: Default::default(),
        },
        other => other.clone(),
    };
    let dispatches = provider.dispatches(None, None, None);
    configured_builder(runtime, &provider, dispatches, threads, false)
}

fn configured_builder(
    runtime: &Runtime,
    provider: &ExecutionProvider,
    dispatches: Vec<ExecutionProviderDispatch>,
    threads: usize,
    spin: bool,
) -> Result<SessionBuilder, EmbeddingError> {
    let load_err = |reason: String| EmbeddingError::ModelLoad {
        path: PathBuf::from("(session options)"),
        reason,
    };
    let threads = match threads {
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
        .with_intra_op_spinning(spin)
        .map_err(|e| load_err(e.to_string()))?;
    if !provider.is_gpu() {
        return Ok(builder);
    }
    let refuse = |reason: String, way_out: String| EmbeddingError::ProviderUnavailable {
        provider: provider.to_string(),
        reason,
        way_out,
    };
    match runtime.has_provider(provider) {
        Ok(true) => {}
        Ok(false) => {
            return Err(refuse(
                format!(
                    "the ONNX Runtime library {} was built without {} (it is the CPU build)",
                    runtime.path.display(),
                    provider.ort_name()
                ),
                gpu_runtime_way_out(),
            ));
        }
        Err(e) => return Err(refuse(e, gpu_runtime_way_out())),
    }
    builder.with_execution_providers(dispatches).map_err(|e| {
        refuse(
            e.to_string().trim_end().into(),
            gpu_libraries_way_out(provider),
        )
    })
}

pub(crate) fn check_outlets(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorrt_engines_get_a_folder_per_model_precision_and_batch() {
        let root = std::env::temp_dir().join(format!("tessera-engines-{}", std::process::id()));
        let trt = ExecutionProvider::configure(
            "tensorrt",
            &crate::ProviderConfig {
                precision: crate::Precision::Fp16,
                engine_cache: Some(root.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        let dir = engine_dir(&trt, "abc123", 512).unwrap().unwrap();
        assert_eq!(dir, root.join("abc123").join("fp16-b512"));
        assert!(dir.is_dir(), "made when missing");
        assert_eq!(
            engine_dir(&trt, "abc123", 512).unwrap(),
            Some(dir),
            "and reused"
        );
        assert_eq!(
            engine_dir(&ExecutionProvider::Cpu, "abc123", 512).unwrap(),
            None
        );
        let no_cache: ExecutionProvider = "tensorrt".parse().unwrap();
        assert_eq!(engine_dir(&no_cache, "abc123", 512).unwrap(), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
