//! `tessera publish`: an instrument simulator. Publishes a run start, then each image (or
//! synthetic dose-series frame) at the given rate, large frames through the object store,
//! then the run stop. A file it cannot read is reported and skipped. With `--wait`, prints
//! every result and reject as it arrives, then a summary. Ctrl-C or SIGTERM stops the run
//! as aborted.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use tessera_bus::Bus;
use tessera_instrument::{
    DoseSeries, FrameSource, Instrument, InstrumentError, LoopEvent, LoopOptions, Progress,
    RunEvent, RunEventStream, RunOutcome, SimulationSummary, describe_missing, files,
    format_result, now_ms, obey, simulate, watch_run,
};
use tessera_protocol::{InstrumentId, PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason};
use tessera_segment::SegmentParams;
use tessera_workers::policies::PolicyFor;
use tessera_workers::{CancellationToken, up};

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
    let mut wire = wire_params(&params);
    if let Some(name) = &args.classifier {
        tessera_protocol::check_token("classifier name", name).context("--classifier")?;
        wire.classifier = Some(name.clone());
    }
    let start = RunStart {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        instrument: instrument.clone(),
        sample: args.sample.clone(),
        modality: args.modality.clone(),
        started_at_ms: now_ms(),
        params: wire,
        metadata: Default::default(),
    };
    let policy = args
        .policy
        .as_deref()
        .map(crate::commands::policy::read)
        .transpose()?;
    if let Some((text, origin)) = &policy {
        tessera_policy::Policy::parse(text, origin).context("--policy")?;
    }
    block_on(async move {
        let bus = Bus::connect(&settings.bus)
            .await
            .with_context(|| format!("connecting to {}", settings.bus.display_url()))?;
        tessera_workers::up::ensure_topology(&bus, &settings).await?;
        if let Some(name) = &args.classifier {
            check_classifier(&bus, &settings, name).await?;
        }
        if let Some((text, origin)) = &policy {
            let target = PolicyFor::Run(run.clone());
            let by = std::env::var("USER").unwrap_or_else(|_| "tessera publish".into());
            let (_, revision) =
                crate::commands::policy::store(&bus, &settings, &target, text, origin, &by).await?;
            eprintln!("policy {origin} stored for run {run} (revision {revision})");
        }
        if args.obey {
            let FrameSource::Synthetic(series) = &source else {
                bail!("--obey needs --synthetic: only the simulated specimen can zoom");
            };
            return obey_run(&bus, &settings, start, series, args).await;
        }
        let events = if args.wait {
            Some(watch_run(&bus, &instrument, &run).await?)
        } else {
            None
        };
        let interrupted = CancellationToken::new();
        up::cancel_on_signal(interrupted.clone());
        let inst = Instrument::new(bus.clone(), instrument, settings.protocol_limits());
        eprintln!("publishing run {run}: {}", source.describe());
        // What each published frame was, by frame number: their count is the frames sent.
        let names = std::cell::RefCell::new(Vec::new());
        let publishing = simulate(&inst, start, &source, args.rate, |p| match p {
            Progress::Published {
                index,
                seq,
                published: p,
            } => {
                names.borrow_mut().push(source.name(index));
                let via = if p.via_object_store {
                    "object store"
                } else {
                    "inline"
                };
                eprintln!("frame {seq}: {} bytes, {via}", p.bytes);
            }
            Progress::Skipped(s) => eprintln!("skipped {}: {}", s.name, s.reason),
        });
        let mut session = Session {
            events,
            outcome: RunOutcome::default(),
            names: &names,
            files: source.is_files(),
        };
        let summary = tokio::select! {
            s = session.publish(publishing) => s?,
            _ = interrupted.cancelled() => {
                let sent = names.borrow().len() as u64;
                abort(&inst, &run, sent).await;
                bail!("interrupted: run {run} stopped as aborted after {sent} frames");
            }
        };
        println!(
            "run {}: {} frames ({} duplicates), {} bytes, {} via the object store, {:.2} frames/s",
            summary.run,
            summary.frames,
            summary.duplicates,
            summary.bytes,
            summary.via_object_store,
            summary.frames_per_second()
        );
        let waited = if session.events.is_some() {
            let timeout = Duration::from_secs(args.timeout);
            tokio::select! {
                r = session.wait(&bus, &summary, timeout) => Some(r?),
                _ = interrupted.cancelled() => bail!(
                    "interrupted while waiting for run {run}'s results (the run was sent whole)"
                ),
            }
        } else {
            None
        };
        report(&summary, waited.as_ref())
    })
}

/// The summary's last words: the skipped files and rejected frames, and the exit status
/// (2 when any file was skipped or frame rejected).
fn report(summary: &SimulationSummary, outcome: Option<&RunOutcome>) -> Result<ExitCode> {
    let skipped = summary.skipped.len() as u64;
    if let Some(o) = outcome {
        let ms = |p| {
            o.latency_percentile(p)
                .map_or("-".into(), |v| format!("{v:.0} ms"))
        };
        println!(
            "summary: {} sent, {} segmented, {} rejected, {skipped} skipped; latency p50 {}, \
             p99 {}",
            summary.frames,
            o.segmented(),
            o.rejected(),
            ms(50.0),
            ms(99.0)
        );
    } else if skipped > 0 {
        println!("summary: {} sent, {skipped} skipped", summary.frames);
    }
    let rejected = outcome.map_or(0, RunOutcome::rejected);
    if skipped > 0 || rejected > 0 {
        eprintln!(
            "not every frame made it: {skipped} file(s) could not be read (above, each with \
             why), {rejected} frame(s) were rejected by the services (above, each with why)"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// A run being published, and its events when waiting for them.
struct Session<'a> {
    events: Option<RunEventStream>,
    outcome: RunOutcome,
    /// What each frame sent was (its file), by frame number.
    names: &'a std::cell::RefCell<Vec<String>>,
    /// Whether the frames are files (then a reject names the file).
    files: bool,
}

impl Session<'_> {
    /// Runs `publishing` while printing the events that arrive meanwhile.
    async fn publish(
        &mut self,
        publishing: impl Future<Output = Result<SimulationSummary, InstrumentError>>,
    ) -> Result<SimulationSummary> {
        let Some(mut events) = self.events.take() else {
            return Ok(publishing.await?);
        };
        tokio::pin!(publishing);
        let summary = loop {
            let event = tokio::select! {
                summary = &mut publishing => break summary,
                event = events.next() => event,
            };
            self.on_event(event)?;
        };
        self.events = Some(events);
        Ok(summary?)
    }

    /// Prints events until every frame sent has one, or `timeout` passes without that.
    async fn wait(
        &mut self,
        bus: &Bus,
        summary: &SimulationSummary,
        timeout: Duration,
    ) -> Result<RunOutcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.outcome.is_complete(summary.frames) {
            let Some(events) = self.events.as_mut() else {
                break;
            };
            let Ok(event) = tokio::time::timeout_at(deadline, events.next()).await else {
                let missing = self.outcome.missing(summary.frames);
                let lines = describe_missing(bus, &summary.run, &missing).await;
                bail!(
                    "{} of {} frames of run {} have neither a result nor a reject after {} s \
                     (--timeout):\n  {}\nAre the services running (tessera up)? Their logs say \
                     more.",
                    missing.len(),
                    summary.frames,
                    summary.run,
                    timeout.as_secs(),
                    lines.join("\n  ")
                );
            };
            self.on_event(event)?;
        }
        Ok(std::mem::take(&mut self.outcome))
    }

    /// Prints and counts one event; the end of the stream is an error.
    fn on_event(&mut self, event: Option<Result<RunEvent, InstrumentError>>) -> Result<()> {
        match event {
            Some(Ok(e)) => {
                match &e {
                    RunEvent::Result(r) => println!("{}", format_result(r)),
                    RunEvent::Rejected(r) => match r.seq {
                        Some(seq) => {
                            let file = self
                                .names
                                .borrow()
                                .get(seq as usize)
                                .filter(|_| self.files)
                                .map(|n| format!(" ({n})"))
                                .unwrap_or_default();
                            println!("frame {seq}{file} rejected by {}: {}", r.service, r.reason)
                        }
                        None => println!("run rejected by {}: {}", r.service, r.reason),
                    },
                }
                self.outcome.record(&e);
            }
            Some(Err(e)) => eprintln!("warning: {e}"),
            None => bail!("the connection to NATS closed before every result arrived"),
        }
        Ok(())
    }
}

/// Runs the synthetic series as an instrument that obeys its decisions, printing each frame,
/// decision and answer.
async fn obey_run(
    bus: &Bus,
    settings: &tessera_settings::Settings,
    start: RunStart,
    series: &DoseSeries,
    args: &PublishArgs,
) -> Result<ExitCode> {
    let inst = Instrument::new(
        bus.clone(),
        start.instrument.clone(),
        settings.protocol_limits(),
    );
    let options = LoopOptions {
        rate_hz: args.rate,
        lockstep: true,
        max_magnification: args.max_magnification,
        ..LoopOptions::default()
    };
    eprintln!(
        "publishing run {} ({} frames at most), obeying its decisions",
        start.run,
        series.count()
    );
    let summary = obey(&inst, start, series, &options, |event| match event {
        LoopEvent::Published {
            seq,
            dose,
            zoom,
            truth,
            ..
        } => match zoom {
            Some(z) => eprintln!(
                "frame {seq}: region ({}, {}) {}×{}, dose {dose:.0}, disordered {truth:.3}",
                z.x, z.y, z.width, z.height
            ),
            None => eprintln!("frame {seq}: dose {dose:.0}, disordered {truth:.3}"),
        },
        LoopEvent::Decided(d) => {
            if let Some(e) = &d.error {
                println!(
                    "decision on frame {}: policy {} cannot be used: {e}",
                    d.seq, d.policy
                );
            }
            for f in &d.fired {
                println!(
                    "decision on frame {}: {} → {} ({})",
                    d.seq,
                    f.rule,
                    f.action.as_str(),
                    f.reason
                );
            }
            for n in &d.notes {
                println!("decision on frame {}: note: {n}", d.seq);
            }
        }
        LoopEvent::Answered(a) => println!(
            "  {} {} ({}): {}",
            if a.executed { "executed" } else { "refused" },
            a.action,
            a.rule,
            a.detail
        ),
        LoopEvent::NoDecision(seq) => eprintln!(
            "warning: no decision for frame {seq} in {} s; going on (is the decider running, \
             and does the run have a policy?)",
            options.decision_timeout.as_secs()
        ),
    })
    .await?;
    match &summary.stopped_by {
        Some((seq, rule)) => println!(
            "run {}: {} frames, stopped by rule {rule:?} on frame {seq}; {} zoomed, dose rate \
             {:.3}×, {:.1} s",
            summary.run,
            summary.frames,
            summary.zooms.len(),
            summary.dose_rate,
            summary.elapsed.as_secs_f64()
        ),
        None => println!(
            "run {}: {} frames, the series ran out; {} zoomed, dose rate {:.3}×, {:.1} s",
            summary.run,
            summary.frames,
            summary.zooms.len(),
            summary.dose_rate,
            summary.elapsed.as_secs_f64()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to start a run whose classifier is not stored, before any frame is sent.
async fn check_classifier(
    bus: &Bus,
    settings: &tessera_settings::Settings,
    name: &str,
) -> Result<()> {
    let limits = settings.protocol_limits();
    if tessera_workers::classifiers::record(bus, &limits, name)
        .await?
        .is_none()
    {
        bail!(
            "--classifier {name}: no classifier of that name is stored; store one with \
             `tessera classifier put FILE --name {name}` (`tessera classifier list` shows \
             those stored)"
        );
    }
    Ok(())
}

/// Stops `run` as aborted after `frames` frames; a failure to do so is only reported.
async fn abort(inst: &Instrument, run: &RunId, frames: u64) {
    let stop = RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason: StopReason::Abort,
        frames,
        message: "interrupted (Ctrl-C or SIGTERM)".into(),
    };
    if let Err(e) = inst.stop_run(&stop).await {
        eprintln!("warning: could not send the run's stop: {e}");
    }
}

/// The run's parameters as they travel: every flag the user gave, automatic stride left
/// automatic, the model left to the embedders' configuration.
fn wire_params(p: &SegmentParams) -> tessera_protocol::WireParams {
    let mut wire = tessera_pipeline::resolved_wire(p, 0, "");
    wire.stride = p.stride.map(|s| s as u32);
    wire.model = None;
    wire
}
