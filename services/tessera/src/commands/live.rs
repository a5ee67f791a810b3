//! What `up`, `publish` and `watch` share: settings from file, environment and flags, and a
//! runtime for the async work.

use anyhow::{Context, Result};
use tessera_settings::Settings;

use crate::cli::LiveArgs;

/// The settings: `--config` (or `TESSERA_CONFIG`), then `TESSERA__...` variables, then flags.
pub(crate) fn settings(args: &LiveArgs) -> Result<Settings> {
    let mut s = Settings::load(args.config.as_deref()).context("loading the configuration")?;
    if let Some(url) = &args.nats {
        s.bus.url = url.clone();
    }
    Ok(s)
}

/// Runs `future` on a multi-threaded runtime.
pub(crate) fn block_on<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(future)
}
