//! `tessera watch`: prints results as they arrive, until `--count` results, or Ctrl-C or
//! SIGTERM (also when started in the background, where a shell ignores Ctrl-C for it).

use std::process::ExitCode;

use anyhow::{Context, Result};
use futures::StreamExt;
use tessera_bus::Bus;
use tessera_instrument::{ResultFilter, format_result, watch};
use tessera_protocol::{InstrumentId, RunId};
use tessera_workers::{CancellationToken, up};

use crate::cli::WatchArgs;
use crate::commands::live::{block_on, settings};

pub(crate) fn run(args: &WatchArgs) -> Result<ExitCode> {
    let settings = settings(&args.live)?;
    let filter = match (&args.instrument, &args.run) {
        (Some(i), Some(r)) => ResultFilter::Run(InstrumentId::new(i)?, RunId::new(r)?),
        (Some(i), None) => ResultFilter::Instrument(InstrumentId::new(i)?),
        _ => ResultFilter::All,
    };
    block_on(async move {
        let bus = Bus::connect(&settings.bus)
            .await
            .with_context(|| format!("connecting to {}", settings.bus.display_url()))?;
        let mut results = watch(&bus, filter.clone()).await?;
        let stop = CancellationToken::new();
        up::cancel_on_signal(stop.clone());
        eprintln!("watching {} (Ctrl-C to stop)", filter.subject());
        let mut seen = 0;
        loop {
            let item = tokio::select! {
                item = results.next() => item,
                _ = stop.cancelled() => break,
            };
            let Some(item) = item else {
                anyhow::bail!("the connection to NATS closed");
            };
            match item {
                Ok(r) if args.json => println!("{}", serde_json::to_string(&json(&r))?),
                Ok(r) => println!("{}", format_result(&r)),
                Err(e) => eprintln!("warning: {e}"),
            }
            seen += 1;
            if args.count.is_some_and(|n| seen >= n) {
                break;
            }
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A result as JSON: what a script needs, without the parameters.
fn json(r: &tessera_protocol::FrameResult) -> serde_json::Value {
    serde_json::json!({
        "instrument": r.instrument.as_str(),
        "run": r.run.as_str(),
        "seq": r.seq,
        "timestamp_ms": r.timestamp_ms,
        "dose": r.dose,
        "width": r.width,
        "height": r.height,
        "chips": r.chips,
        "cache_hits": r.cache_hits,
        "communities": r.communities.iter().map(|c| serde_json::json!({
            "id": c.id, "color": c.color, "chips": c.chips,
            "area_fraction": c.area_fraction, "centroid_px": c.centroid_px,
        })).collect::<Vec<_>>(),
        "labels": r.labels.as_ref().map(|o| format!("{}/{}", o.bucket, o.name)),
        "overlay": r.overlay.as_ref().map(|o| format!("{}/{}", o.bucket, o.name)),
        "timings_ms": r.timings.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "classes": r.classes.as_ref().map(|k| serde_json::json!({
            "classifier": k.classifier, "revision": k.revision, "error": k.error,
            "classes": k.classes.iter().map(|c| serde_json::json!({
                "name": c.name, "color": c.color, "chips": c.chips,
                "area_fraction": c.area_fraction,
            })).collect::<Vec<_>>(),
            "unknown_fraction": k.unknown_fraction,
            "labels": k.labels.as_ref().map(|o| format!("{}/{}", o.bucket, o.name)),
            "overlay": k.overlay.as_ref().map(|o| format!("{}/{}", o.bucket, o.name)),
        })),
    })
}
