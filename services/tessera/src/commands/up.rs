//! `tessera up`: the four live services in this process, for a single box.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tessera_protocol::Service;
use tessera_provision::Cache;

use crate::cli::UpArgs;
use crate::commands::live::{block_on, settings};

pub(crate) fn run(cache: &Cache, args: &UpArgs) -> Result<ExitCode> {
    let mut settings = settings(&args.live)?;
    if let Some(url) = &args.redis {
        settings.cache.url = Some(url.clone());
    }
    if settings.model.cache_dir.is_none() {
        settings.model.cache_dir = Some(cache.root().to_path_buf());
    }
    let services = services(args)?;
    tessera_telemetry::init(&settings.telemetry, "tessera-up")?;
    let names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
    eprintln!(
        "tessera up: {} against {} (Ctrl-C to stop)",
        names.join(", "),
        settings.bus.display_url()
    );
    block_on(async {
        tessera_workers::up::serve(settings, &services)
            .await
            .context("the services stopped")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The services to run: `--only`, or all four, with `--embedders` embedder copies.
fn services(args: &UpArgs) -> Result<Vec<Service>> {
    let chosen: Vec<Service> = if args.only.is_empty() {
        Service::ALL.to_vec()
    } else {
        args.only
            .iter()
            .map(|name| {
                Service::ALL
                    .into_iter()
                    .find(|s| s.as_str() == name.trim())
                    .with_context(|| {
                        format!(
                            "--only {name:?}: not a service; choose from ingest, embedder, \
                             clusterer, publisher"
                        )
                    })
            })
            .collect::<Result<_>>()?
    };
    let mut out = Vec::new();
    for s in chosen {
        let copies = if s == Service::Embedder {
            args.embedders
        } else {
            1
        };
        out.extend(std::iter::repeat_n(s, copies));
    }
    if out.is_empty() {
        bail!("nothing to run: --embedders 0 with --only embedder leaves no service");
    }
    Ok(out)
}
