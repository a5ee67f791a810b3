//! `tessera classifier put|list|history`: named few-shot classifiers in NATS (KV and object
//! store `tessera_classifiers`), for runs started with `tessera publish --classifier NAME`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use tessera_bus::Bus;
use tessera_protocol::ClassifierRecord;
use tessera_settings::Settings;
use tessera_workers::classifiers;

use crate::classes::read_classifier;
use crate::cli::ClassifierCommand;
use crate::commands::live::{block_on, settings};

pub(crate) fn run(command: &ClassifierCommand) -> Result<ExitCode> {
    match command {
        ClassifierCommand::Put(args) => {
            let mut c = read_classifier(&args.file)?;
            if let Some(name) = &args.name {
                c.name = name.clone();
            }
            tessera_protocol::check_token("classifier name", &c.name)
                .context("name it with --name (letters, digits, - and _)")?;
            let by = args
                .by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let settings = settings(&args.live)?;
            block_on(async move {
                let bus = connect(&settings).await?;
                let limits = settings.protocol_limits();
                let (record, revision) =
                    classifiers::save(&bus, &limits, &c, &by, &args.note).await?;
                println!(
                    "stored classifier {} (revision {revision}): {}",
                    record.name,
                    describe(&record)
                );
                Ok(())
            })?;
        }
        ClassifierCommand::List(args) => {
            let settings = settings(&args.live)?;
            block_on(async move {
                let bus = connect(&settings).await?;
                let all = classifiers::list(&bus, &settings.protocol_limits()).await?;
                if all.is_empty() {
                    println!("no classifiers stored; add one with `tessera classifier put FILE`");
                }
                for r in all {
                    println!("{}  {}", r.name, describe(&r));
                }
                Ok(())
            })?;
        }
        ClassifierCommand::History(args) => {
            let settings = settings(&args.live)?;
            block_on(async move {
                let bus = connect(&settings).await?;
                let limits = settings.protocol_limits();
                let revisions = classifiers::history(&bus, &limits, &args.name).await?;
                if revisions.is_empty() {
                    anyhow::bail!(
                        "no classifier is named {}; `tessera classifier list` shows those stored",
                        args.name
                    );
                }
                for (revision, record) in revisions {
                    match record {
                        Some(r) => println!("revision {revision}: {}", describe(&r)),
                        None => println!("revision {revision}: deleted"),
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn connect(settings: &Settings) -> Result<Bus> {
    let bus = Bus::connect(&settings.bus)
        .await
        .with_context(|| format!("connecting to {}", settings.bus.display_url()))?;
    tessera_workers::up::ensure_topology(&bus, settings).await?;
    Ok(bus)
}

/// One line: classes, method, examples, model, and who saved it when.
fn describe(r: &ClassifierRecord) -> String {
    let names: Vec<&str> = r.classes.iter().map(|c| c.name.as_str()).collect();
    let mut line = format!(
        "classes {}; {} from {} examples at chip {}; model {}; saved by {} at {}",
        names.join(", "),
        r.method,
        r.examples,
        r.chip,
        r.model_digest.get(..12).unwrap_or(&r.model_digest),
        r.edited_by,
        utc(r.edited_at_ms)
    );
    if !r.note.is_empty() {
        line.push_str(&format!(" ({})", r.note));
    }
    line
}

/// RFC 3339 UTC time of milliseconds since the Unix epoch.
fn utc(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_utc() {
        assert_eq!(super::utc(1_796_601_600_000), "2026-12-07T00:00:00Z");
    }
}
