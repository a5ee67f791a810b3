//! `tessera-decider`: the decision service of the closed loop. It reads every frame result,
//! evaluates the run's policy (or its instrument's) on it and publishes a decision on
//! `tessera.decisions.<instrument>.<run>` for the instrument to obey.
//!
//! A thin shell: `tessera_workers::up::run_binary` loads the settings (a TOML file, then
//! `TESSERA__...` variables; see `deploy/tessera.toml`), sets up logging and runs
//! `tessera_workers::decider` until SIGTERM.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tessera_protocol::Service;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "tessera-decider",
    version,
    about = "The decision service: turns frame results into decisions for the instrument, by the run's policy"
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
        return tessera_workers::up::probe_health(url).context("health check failed");
    }
    tessera_workers::up::run_binary(Service::Decider, args.config.as_deref())
        .await
        .context("tessera-decider stopped")
}
