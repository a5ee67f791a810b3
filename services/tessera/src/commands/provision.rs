//! `tessera provision`: fills the cache ahead of time.

use std::process::ExitCode;

use anyhow::Result;
use tessera_provision::{Cache, Component};

use crate::cli::ProvisionArgs;

pub(crate) fn run(cache: &Cache, args: &ProvisionArgs) -> Result<ExitCode> {
    let mut parts = vec![Component::Runtime, Component::Models];
    if args.samples {
        parts.push(Component::Samples);
    }
    if args.gpu {
        parts.extend([Component::GpuRuntime, Component::Resnet50]);
    }
    cache.ensure(&parts)?;
    println!("runtime: {}", cache.runtime_library().display());
    for m in tessera_provision::cache::MODELS {
        println!("model {m}: {}", cache.model_manifest(m).display());
    }
    if args.samples {
        println!("samples: {}", cache.samples().display());
    }
    if args.gpu {
        for m in tessera_provision::cache::THROUGHPUT_MODELS {
            println!("model {m}: {}", cache.model_manifest(m).display());
        }
        let gpu = cache.gpu_runtime_library();
        println!("GPU runtime: {}", gpu.display());
        println!(
            "  to run on CUDA or TensorRT: export ORT_DYLIB_PATH={}, with CUDA 13, cuDNN 9 \
             (and TensorRT 10) on LD_LIBRARY_PATH",
            gpu.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
