//! `tessera policy check|put`: closed-loop policies, checked here with the decider's own
//! parser, stored in KV `tessera_policies` for a run or an instrument.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_bus::Bus;
use tessera_policy::Policy;
use tessera_protocol::{InstrumentId, MAX_POLICY_BYTES, RunId};
use tessera_workers::policies::{self, PolicyFor};

use crate::cli::PolicyCommand;
use crate::commands::live::{block_on, settings};

pub(crate) fn run(command: &PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check(args) => {
            let (text, origin) = read(&args.file)?;
            let policy = Policy::parse(&text, &origin)?;
            println!("{origin}: {} rule(s), fine", policy.rules.len());
            for rule in &policy.rules {
                println!("  {}", rule.name);
            }
        }
        PolicyCommand::Put(args) => {
            let (text, origin) = read(&args.file)?;
            let target = match (&args.run, &args.instrument) {
                (Some(run), _) => PolicyFor::Run(RunId::new(run).context("--run")?),
                (None, Some(i)) => {
                    PolicyFor::Instrument(InstrumentId::new(i).context("--instrument")?)
                }
                (None, None) => {
                    anyhow::bail!("say whom the policy is for: --run RUN or --instrument ID")
                }
            };
            let by = args
                .by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let settings = settings(&args.live)?;
            block_on(async move {
                let bus = Bus::connect(&settings.bus)
                    .await
                    .with_context(|| format!("connecting to {}", settings.bus.display_url()))?;
                tessera_workers::up::ensure_topology(&bus, &settings).await?;
                let (policy, revision) =
                    store(&bus, &settings, &target, &text, &origin, &by).await?;
                println!(
                    "stored {origin} as {} (revision {revision}): {} rule(s)",
                    target.key(),
                    policy.rules.len()
                );
                Ok(())
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A policy file's text and its name for messages; a file too large or not UTF-8 is refused.
pub(crate) fn read(path: &Path) -> Result<(String, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading policy {}", path.display()))?;
    if bytes.len() > MAX_POLICY_BYTES {
        anyhow::bail!(
            "policy {} is {} bytes, over the {MAX_POLICY_BYTES} a policy may have; split it or \
             remove rules",
            path.display(),
            bytes.len()
        );
    }
    let text = String::from_utf8(bytes).with_context(|| {
        format!(
            "policy {} is not UTF-8 text; save it as UTF-8",
            path.display()
        )
    })?;
    let origin = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((text, origin))
}

/// Stores a checked policy for `target`.
pub(crate) async fn store(
    bus: &Bus,
    settings: &tessera_settings::Settings,
    target: &PolicyFor,
    text: &str,
    origin: &str,
    by: &str,
) -> Result<(Policy, u64)> {
    Ok(policies::save(bus, &settings.protocol_limits(), target, text, origin, by).await?)
}
