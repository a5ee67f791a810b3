//! `tessera up`: the four live services and the dashboard in this process, for a single box,
//! with the servers it needs started here when none is configured (`local_servers.rs`).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tessera_protocol::Service;
use tessera_provision::Cache;
use tessera_workers::{CancellationToken, up};

use crate::cli::UpArgs;
use crate::commands::live::{block_on, settings};
use crate::commands::local_servers::{LocalServers, data_dir};

/// The name `--only` takes for the dashboard.
const DASHBOARD: &str = "dashboard";

pub(crate) fn run(cache: &Cache, args: &UpArgs) -> Result<ExitCode> {
    let mut settings = settings(&args.live)?;
    if let Some(url) = &args.redis {
        settings.cache.url = Some(url.clone());
    }
    if let Some(bind) = &args.dashboard {
        settings.dashboard.bind = bind.clone();
        settings.validate()?;
    }
    if settings.model.cache_dir.is_none() {
        settings.model.cache_dir = Some(cache.root().to_path_buf());
    }
    let (services, dashboard) = services(args)?;
    tessera_telemetry::init(&settings.telemetry, "tessera-up")?;
    let data = data_dir(args.data.as_deref());
    let servers = LocalServers::start(cache, &data, &mut settings, args.live.nats.is_some())?;
    settings.validate()?;
    let mut names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
    if dashboard {
        names.push(DASHBOARD);
    }
    println!("tessera up: {}", names.join(", "));
    let mut lines = servers.lines.clone();
    if dashboard && !settings.dashboard.bind.ends_with(":0") {
        lines.push((
            "dashboard".into(),
            format!("http://{}/", settings.dashboard.bind),
        ));
    }
    let metrics = settings.telemetry.metrics_addr.trim();
    if !metrics.is_empty() && !services.is_empty() {
        let served: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
        lines.push((
            "metrics".into(),
            format!(
                "http://{metrics}/metrics ({}; also /healthz, /readyz)",
                served.join(", ")
            ),
        ));
    }
    lines.push(("data".into(), data.display().to_string()));
    for (what, text) in &lines {
        println!("  {what:<11} {text}");
    }
    println!(
        "Ctrl-C stops it. Publish from another terminal: tessera publish --synthetic 20 --wait"
    );
    let served = block_on(async move {
        let bus = up::connect(&settings).await?;
        let shutdown = CancellationToken::new();
        up::cancel_on_signal(shutdown.clone());
        let board = async {
            if dashboard {
                let stop = shutdown.clone().cancelled_owned();
                let result = tessera_dashboard::serve(bus.clone(), &settings.dashboard, stop).await;
                // A dashboard that cannot serve (port taken) stops the services too.
                shutdown.cancel();
                result.context("the dashboard stopped")
            } else {
                Ok(())
            }
        };
        let workers = async {
            if services.is_empty() {
                return Ok(());
            }
            let settings = Arc::new(settings.clone());
            let result = up::run_services(bus.clone(), settings, &services, shutdown.clone())
                .await
                .context("the services stopped");
            shutdown.cancel();
            result
        };
        let (a, b) = tokio::join!(workers, board);
        up::flush_traces().await;
        a.and(b)
    });
    servers.stop();
    served?;
    Ok(ExitCode::SUCCESS)
}

/// The services to run (`--only`, or all of them, with `--embedders` embedder copies) and
/// whether to serve the dashboard.
fn services(args: &UpArgs) -> Result<(Vec<Service>, bool)> {
    let mut dashboard = args.only.is_empty();
    let chosen: Vec<Service> = if args.only.is_empty() {
        Service::ALL.to_vec()
    } else {
        let mut chosen = Vec::new();
        for name in &args.only {
            let name = name.trim();
            if name == DASHBOARD {
                dashboard = true;
                continue;
            }
            chosen.push(
                Service::ALL
                    .into_iter()
                    .find(|s| s.as_str() == name)
                    .with_context(|| {
                        format!(
                            "--only {name:?}: not a service; choose from ingest, embedder, \
                             clusterer, publisher, decider, dashboard"
                        )
                    })?,
            );
        }
        chosen
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
    if out.is_empty() && !dashboard {
        bail!("nothing to run: --embedders 0 with --only embedder leaves no service");
    }
    Ok((out, dashboard))
}
