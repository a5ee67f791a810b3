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
    cache.ensure(&parts)?;
    println!("runtime: {}", cache.runtime_library().display());
    for m in tessera_provision::cache::MODELS {
        println!("model {m}: {}", cache.model_manifest(m).display());
    }
    if args.samples {
        println!("samples: {}", cache.samples().display());
    }
    Ok(ExitCode::SUCCESS)
}
