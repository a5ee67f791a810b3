//! `tessera-dashboard`: the browser dashboard. It shows runs, each frame with its overlay,
//! the communities and how their fractions evolve, live from NATS; read-only.
//!
//! A thin shell: it loads the settings (a TOML file, then `TESSERA__...` variables; see
//! `deploy/tessera.toml`, section `[dashboard]`), sets up logging, connects to NATS and runs
//! `tessera_dashboard::serve` until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "tessera-dashboard",
    version,
    about = "The browser dashboard: runs, frames, overlays and community fractions, live from NATS"
)]
struct Args {
    /// Configuration file (TOML); `TESSERA__SECTION__KEY` variables override it.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Probe a running copy's endpoint instead (e.g. `http://127.0.0.1:9090/readyz`) and exit
    /// 0 when it answers 2xx: the container health check, in images with no shell or curl.
    #[arg(long, value_name = "URL")]
    health: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(url) = args.health.as_deref() {
        return tessera_telemetry::probe(url, tessera_telemetry::PROBE_TIMEOUT)
            .context("health check failed");
    }
    let settings = tessera_settings::Settings::load(args.config.as_deref())?;
    tessera_telemetry::init(&settings.telemetry, "dashboard")?;
    let bus = tessera_bus::Bus::connect(&settings.bus).await?;
    let addr = settings.telemetry.metrics_addr.trim();
    if !addr.is_empty() {
        let connected = bus.clone();
        let ready: tessera_telemetry::Readiness = std::sync::Arc::new(move || {
            connected
                .is_connected()
                .then_some(())
                .ok_or_else(|| format!("not connected to NATS at {}", connected.url()))
        });
        let source = tessera_telemetry::Source {
            service: "dashboard".into(),
            metrics: tessera_telemetry::Metrics::new(),
        };
        tessera_telemetry::serve_metrics(addr, vec![source], ready, shutdown_signal()).await?;
    }
    let served = tessera_dashboard::serve(bus, &settings.dashboard, shutdown_signal()).await;
    tessera_telemetry::shutdown();
    served.context("tessera-dashboard stopped")
}

/// Completes on Ctrl-C or SIGTERM (what Kubernetes sends).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
