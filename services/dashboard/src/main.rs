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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = tessera_settings::Settings::load(args.config.as_deref())?;
    tessera_telemetry::init(&settings.telemetry, "dashboard")?;
    let bus = tessera_bus::Bus::connect(&settings.bus).await?;
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
