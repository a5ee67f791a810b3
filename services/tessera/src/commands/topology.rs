//! `tessera topology`: creates or updates the NATS topology (streams, consumers, KV buckets,
//! object stores) and says what it did. With per-service NATS users, services may not create
//! it: an operator or a deployment job runs this once as `admin` (deploy/nats/auth.conf).

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::live::{block_on, settings};
use crate::cli::TopologyArgs;

/// Ensures the topology with the settings' bus credentials and queue sizes.
pub(crate) fn run(args: &TopologyArgs) -> Result<ExitCode> {
    let settings = settings(&args.live)?;
    block_on(async move {
        let bus = tessera_workers::up::connect(&settings).await?;
        let report = tessera_workers::up::ensure_topology(&bus, &settings.queues)
            .await
            .with_context(|| {
                format!(
                    "ensuring the topology on {} (as user {})",
                    settings.bus.display_url(),
                    settings.bus.user.as_deref().unwrap_or("<none>")
                )
            })?;
        for (what, items) in [
            ("created", &report.created),
            ("updated", &report.updated),
            ("unchanged", &report.unchanged),
        ] {
            for item in items {
                println!("{what:9} {item}");
            }
        }
        println!(
            "topology on {}: {} created, {} updated, {} unchanged",
            settings.bus.display_url(),
            report.created.len(),
            report.updated.len(),
            report.unchanged.len()
        );
        Ok(ExitCode::SUCCESS)
    })
}
