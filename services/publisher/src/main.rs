//! `tessera-publisher`: the publishing service. It renders overlays, publishes results for
//! dashboards and keeps each run's latest result and fraction series.
//!
//! A thin shell: `tessera_workers::up::run_binary` loads the settings (a TOML file, then
//! `TESSERA__...` variables; see `deploy/tessera.toml`), sets up logging and runs
//! `tessera_workers::publisher` until SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tessera_protocol::Service;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "tessera-publisher",
    version,
    about = "The publishing service: renders overlays, publishes results for dashboards and keeps each run's latest result and series"
)]
struct Args {
    /// Configuration file (TOML); `TESSERA__SECTION__KEY` variables override it.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tessera_workers::up::run_binary(Service::Publisher, args.config.as_deref())
        .await
        .context("tessera-publisher stopped")
}
