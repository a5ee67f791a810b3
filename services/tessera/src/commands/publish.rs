//! `tessera publish`: an instrument simulator. Publishes a run start, then each image (or
//! synthetic dose-series frame) at the given rate, large frames through the object store,
//! then the run stop; with `--wait`, prints every result as it arrives.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use tessera_bus::Bus;
use tessera_instrument::{
    DoseSeries, FrameSource, Instrument, ResultFilter, files, format_result, now_ms, simulate,
    watch,
};
use tessera_protocol::{InstrumentId, PROTOCOL_VERSION, RunId, RunStart};
use tessera_segment::SegmentParams;

use crate::cli::PublishArgs;
use crate::commands::live::{block_on, settings};

pub(crate) fn run(args: &PublishArgs) -> Result<ExitCode> {
    let settings = settings(&args.live)?;
    let source = match args.synthetic {
        Some(count) => {
            FrameSource::Synthetic(DoseSeries::new(args.size, count, args.synthetic_seed)?)
        }
        None if args.inputs.is_empty() => {
            bail!("nothing to publish: give image files or folders, or --synthetic N")
        }
        None => FrameSource::Files {
            paths: files::expand(&args.inputs)?,
            signal: args.signal.clone(),
        },
    };
    let instrument = InstrumentId::new(&args.instrument)
        .with_context(|| format!("--instrument {:?}", args.instrument))?;
    let run = RunId::new(
        args.run
            .clone()
            .unwrap_or_else(|| format!("run-{}", now_ms())),
    )
    .context("--run")?;
    let params = args.params.params();
    let start = RunStart {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        instrument: instrument.clone(),
        sample: args.sample.clone(),
        modality: args.modality.clone(),
        started_at_ms: now_ms(),
        params: wire_params(&params),
        metadata: Default::default(),
    };
    let frames = source.len();
    block_on(async move {
        let bus = Bus::connect(&settings.bus)
            .await
            .with_context(|| format!("connecting to {}", settings.bus.display_url()))?;
        tessera_workers::up::ensure_topology(&bus, &settings).await?;
        let mut results = if args.wait {
            Some(watch(&bus, ResultFilter::Run(instrument.clone(), run.clone())).await?)
        } else {
            None
        };
        let inst = Instrument::new(bus.clone(), instrument, settings.protocol_limits());
        eprintln!("publishing run {run}: {}", source.describe());
        let summary = simulate(&inst, start, &source, args.rate, |i, p| {
            let via = if p.via_object_store {
                "object store"
            } else {
                "inline"
            };
            eprintln!("frame {i}: {} bytes, {via}", p.bytes);
        })
        .await?;
        println!(
            "run {}: {} frames ({} duplicates), {} bytes, {} via the object store, {:.2} frames/s",
            summary.run,
            summary.frames,
            summary.duplicates,
            summary.bytes,
            summary.via_object_store,
            summary.frames_per_second()
        );
        if let Some(results) = results.as_mut() {
            let mut seen = 0;
            while seen < frames {
                match tokio::time::timeout(Duration::from_secs(600), results.next()).await {
                    Ok(Some(Ok(r))) => {
                        println!("{}", format_result(&r));
                        seen += 1;
                    }
                    Ok(Some(Err(e))) => eprintln!("warning: {e}"),
                    Ok(None) => bail!("the connection closed before every result arrived"),
                    Err(_) => bail!(
                        "no result for 10 minutes ({seen} of {frames} arrived); are the \
                         services running (tessera up)?"
                    ),
                }
            }
        }
        Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The run's parameters as they travel: every flag the user gave, automatic stride left
/// automatic, the model left to the embedders' configuration.
fn wire_params(p: &SegmentParams) -> tessera_protocol::WireParams {
    let mut wire = tessera_pipeline::resolved_wire(p, 0, "");
    wire.stride = p.stride.map(|s| s as u32);
    wire.model = None;
    wire
}
