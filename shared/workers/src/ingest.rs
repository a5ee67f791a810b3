//! The ingest service: validates acquisition messages and turns each frame into chip batches.
//!
//! One durable consumer (`ingest` on ACQ), handled in order so that a run's start, frames and
//! stop are seen in the order the instrument sent them. For a frame: fetch its pixels (inline
//! or from the object store), normalise and chip it with `tessera_segment::prepare` (the same
//! stage as `tessera segment`), store the normalised frame for overlays, and publish the
//! chips to WORK in batches that fit the server's payload limit. Run state lives in KV
//! `tessera_runs`, so a restarted ingest picks up runs it started before.

use std::collections::HashMap;

use bytes::Bytes;
use tessera_bus::Delivery;
use tessera_pipeline::{batch_chips_for_payload, batching::FrameWork, chip_batches, frame_raster};
use tessera_protocol::{
    AcqMessage, Frame, FrameMeta, InstrumentId, ObjectRef, PROTOCOL_VERSION, Pixels, RunId,
    RunRecord, RunStart, RunState, RunStop, Service, decode, decode_acq, encode_message, keys,
    streams::{FRAMES_STORE, RUNS_KV},
    subjects,
};
use tessera_segment::{SegmentParams, Timings};
use tracing::{Instrument, Span, field::Empty};

use crate::common::{Failure, next_delivery, now_ms, publish_downstream, pull, settle};
use crate::{Context, WorkerError};

/// What ingest keeps about a run.
struct RunInfo {
    record: RunRecord,
    params: SegmentParams,
    model: String,
    /// The frames this copy accepted: sequence number → the ACQ stream sequence of the message
    /// that carried it, to tell a redelivery of that message from another frame under the same
    /// number. Only since this copy started: a restarted ingest relies on the stream's
    /// `Nats-Msg-Id` dedup for frames from before.
    accepted: HashMap<u64, u64>,
}

/// What to do with a frame, given the frames a run already accepted.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A sequence number not seen before: ingest it.
    New,
    /// The message already ingested, delivered again (e.g. its ack was lost): ack it.
    Redelivered,
    /// Another message with a sequence number already ingested: reject it.
    Duplicate { first_stream_seq: u64 },
}

fn seen(accepted: &HashMap<u64, u64>, seq: u64, stream_seq: u64) -> Seen {
    match accepted.get(&seq) {
        None => Seen::New,
        Some(&first) if first == stream_seq => Seen::Redelivered,
        Some(&first) => Seen::Duplicate {
            first_stream_seq: first,
        },
    }
}

/// Runs the ingest service until `ctx.shutdown` is cancelled.
pub async fn run(ctx: Context) -> Result<(), WorkerError> {
    let spec = &ctx.settings.queues.consumer(Service::Ingest);
    let mut deliveries = pull(&ctx, Service::Ingest, spec, 4).await?;
    let mut runs: HashMap<RunId, RunInfo> = HashMap::new();
    while let Some(d) = next_delivery(&ctx, &mut deliveries).await? {
        // The frame's trace starts here, unless the instrument sent a `traceparent`.
        let span = tracing::info_span!("ingest", service = "ingest", run = Empty, frame = Empty);
        tessera_telemetry::set_parent_from(&span, &d.headers);
        async {
            let outcome = handle(&ctx, &mut runs, &d).await;
            settle(&ctx, Service::Ingest, spec, &d, outcome).await;
        }
        .instrument(span)
        .await;
    }
    Ok(())
}

async fn handle(
    ctx: &Context,
    runs: &mut HashMap<RunId, RunInfo>,
    d: &Delivery,
) -> Result<(), Failure> {
    let (instrument, message) = decode_acq(&d.subject, &d.payload, &ctx.limits)
        .map_err(|e| Failure::Reject(e.to_string()))?;
    let span = Span::current();
    match message {
        AcqMessage::Start(start) => {
            crate::spans::record_run(&span, &start.run);
            start_run(ctx, runs, start).await
        }
        AcqMessage::Frame(frame) => {
            crate::spans::record_frame(&span, &frame.run, frame.seq);
            let info = run_info(ctx, runs, &frame.run).await?;
            ingest_frame(ctx, info, &instrument, frame, d).await
        }
        AcqMessage::Stop(stop) => {
            crate::spans::record_run(&span, &stop.run);
            let info = run_info(ctx, runs, &stop.run).await?;
            stop_run(ctx, info, &stop).await
        }
    }
}

fn model_of(ctx: &Context, start: &RunStart) -> String {
    start
        .params
        .model
        .clone()
        .unwrap_or_else(|| ctx.settings.model.name.clone())
}

async fn start_run(
    ctx: &Context,
    runs: &mut HashMap<RunId, RunInfo>,
    start: RunStart,
) -> Result<(), Failure> {
    let params = tessera_pipeline::resolve(&start.params)
        .map_err(|e| Failure::Reject(format!("run {} start: {e}", start.run)))?;
    let record = RunRecord {
        version: PROTOCOL_VERSION,
        run: start.run.clone(),
        instrument: start.instrument.clone(),
        sample: start.sample.clone(),
        modality: start.modality.clone(),
        state: RunState::Running,
        stop_reason: None,
        started_at_ms: start.started_at_ms,
        stopped_at_ms: None,
        frames_expected: None,
        frames_accepted: 0,
        frames_rejected: 0,
        params: start.params.clone(),
        updated_at_ms: now_ms(),
    };
    save_record(ctx, &record).await?;
    tracing::info!(run = %start.run, instrument = %start.instrument, "run started");
    let model = model_of(ctx, &start);
    runs.insert(
        start.run.clone(),
        RunInfo {
            record,
            params,
            model,
            accepted: HashMap::new(),
        },
    );
    ctx.metrics.counter("runs").inc();
    Ok(())
}

/// The run's state: in memory, else from KV (a run started before a restart).
async fn run_info<'a>(
    ctx: &Context,
    runs: &'a mut HashMap<RunId, RunInfo>,
    run: &RunId,
) -> Result<&'a mut RunInfo, Failure> {
    if !runs.contains_key(run) {
        let stored = ctx.bus.kv_get(RUNS_KV.bucket, &keys::run_key(run)).await?;
        let Some((bytes, _)) = stored else {
            return Err(Failure::Reject(format!(
                "run {run} has not started: no run start was received for it; publish \
                 tessera.acq.<instrument>.start before its frames and stop"
            )));
        };
        let record: RunRecord = decode(&bytes, &ctx.limits)
            .map_err(|e| Failure::Retry(format!("run {run}'s stored state is unreadable: {e}")))?;
        let params = tessera_pipeline::resolve(&record.params)
            .map_err(|e| Failure::Reject(format!("run {run}: {e}")))?;
        let model = record
            .params
            .model
            .clone()
            .unwrap_or_else(|| ctx.settings.model.name.clone());
        runs.insert(
            run.clone(),
            RunInfo {
                record,
                params,
                model,
                accepted: HashMap::new(),
            },
        );
    }
    runs.get_mut(run)
        .ok_or_else(|| Failure::Retry(format!("run {run} vanished from memory")))
}

async fn save_record(ctx: &Context, record: &RunRecord) -> Result<(), Failure> {
    let bytes = encode_message(record, &ctx.limits)
        .map_err(|e| Failure::Reject(format!("run {}: {e}", record.run)))?;
    ctx.bus
        .kv_put(
            RUNS_KV.bucket,
            &keys::run_key(&record.run),
            Bytes::from(bytes),
        )
        .await?;
    Ok(())
}

async fn stop_run(ctx: &Context, info: &mut RunInfo, stop: &RunStop) -> Result<(), Failure> {
    let r = &mut info.record;
    r.state = RunState::Stopped;
    r.stop_reason = Some(stop.reason);
    r.stopped_at_ms = Some(now_ms());
    r.frames_expected = Some(stop.frames);
    r.updated_at_ms = now_ms();
    save_record(ctx, r).await?;
    tracing::info!(run = %stop.run, frames = stop.frames, reason = ?stop.reason, "run stopped");
    Ok(())
}

/// The frame's raw samples: inline, or fetched from the frames object store.
async fn pixels(ctx: &Context, frame: &Frame) -> Result<Bytes, Failure> {
    match &frame.pixels {
        Pixels::Inline(bytes) => Ok(Bytes::copy_from_slice(bytes)),
        Pixels::Object(o) => fetch(ctx, o, frame).await,
    }
}

async fn fetch(ctx: &Context, o: &ObjectRef, frame: &Frame) -> Result<Bytes, Failure> {
    if o.bucket != FRAMES_STORE.bucket {
        return Err(Failure::Reject(format!(
            "frame {} of run {} refers to bucket {:?}; frame pixels must be put in the \
             object store bucket {:?}",
            frame.seq, frame.run, o.bucket, FRAMES_STORE.bucket
        )));
    }
    match ctx.bus.get_object(&o.bucket, &o.name).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if !e.is_transient() => Err(Failure::Reject(format!(
            "frame {} of run {}: its pixels object {}/{} cannot be read ({e}); upload the \
             samples before publishing the frame",
            frame.seq, frame.run, o.bucket, o.name
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn ingest_frame(
    ctx: &Context,
    info: &mut RunInfo,
    instrument: &InstrumentId,
    frame: Frame,
    d: &Delivery,
) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let run = frame.run.clone();
    let what = format!("frame {} of run {run}", frame.seq);
    if *instrument != info.record.instrument {
        return Err(Failure::Reject(format!(
            "{what} came from instrument {instrument}, but the run belongs to {}",
            info.record.instrument
        )));
    }
    if info.record.state == RunState::Stopped {
        return Err(Failure::Reject(format!(
            "{what} arrived after the run stopped; start a new run"
        )));
    }
    match seen(&info.accepted, frame.seq, d.stream_seq) {
        Seen::New => {}
        Seen::Redelivered => return Ok(()),
        Seen::Duplicate { first_stream_seq } => {
            info.record.frames_rejected += 1;
            return Err(Failure::Reject(format!(
                "{what} was already received (ACQ message {first_stream_seq}) and this is \
                 another message with the same sequence number; give every frame of a run its \
                 own sequence number, or start a new run"
            )));
        }
    }
    let samples = pixels(ctx, &frame).await?;
    let params = info.params.clone();
    let span = Span::current();
    let prepared = tokio::task::spawn_blocking(move || {
        let _in_frame = span.enter();
        let raster = frame_raster(&frame, &samples)?;
        let mut timings = Timings::default();
        let prepared = tessera_segment::prepare(&raster, &params, &mut timings)?;
        Ok::<_, tessera_pipeline::PipelineError>((frame, prepared))
    })
    .await
    .map_err(|e| Failure::Retry(format!("chipping task failed: {e}")))?;
    let (frame, prepared) = match prepared {
        Ok(p) => p,
        Err(e) => {
            info.record.frames_rejected += 1;
            return Err(Failure::Reject(format!("{what}: {e}")));
        }
    };
    let normalized = if ctx.settings.ingest.store_normalized {
        let name = keys::normalized_object(&run, frame.seq);
        let bytes = tessera_pipeline::frames::gray8(&prepared.normalized.pixels);
        let stored = ctx
            .bus
            .put_object(FRAMES_STORE.bucket, &name, &bytes)
            .await?;
        Some(crate::common::object_ref(stored))
    } else {
        None
    };
    let meta = FrameMeta {
        instrument: instrument.clone(),
        timestamp_ms: frame.timestamp_ms,
        dose: frame.dose,
        pixel_size_nm: frame.pixel_size_nm,
        normalized,
    };
    let mut wire =
        tessera_pipeline::resolved_wire(&info.params, prepared.grid.stride(), &info.model);
    wire.classifier = info.record.params.classifier.clone();
    let work = FrameWork {
        run: &run,
        seq: frame.seq,
        meta: &meta,
        params: &wire,
        model: &info.model,
    };
    let max_payload = ctx.bus.max_payload().min(ctx.limits.max_payload_bytes);
    let per = batch_chips_for_payload(
        ctx.settings.ingest.batch_chips,
        prepared.grid.chip() as u32,
        max_payload,
    );
    let batches = chip_batches(&work, &prepared.grid, &prepared.chips, per);
    // Every batch carries this span's context: the embedders continue the frame's trace.
    let headers = crate::spans::traced(crate::common::forward_headers(d), &Span::current());
    let subject = subjects::work_subject(&run);
    let publishes = batches.iter().map(|b| {
        let (subject, headers, what) = (&subject, &headers, &what);
        async move {
            let payload = encode_message(b, &ctx.limits)
                .map_err(|e| Failure::Reject(format!("{what}: chip batch {}: {e}", b.batch)))?;
            let id = keys::batch_msg_id(&b.run, b.seq, b.batch);
            let holding = std::slice::from_ref(d);
            publish_downstream(ctx, subject, Bytes::from(payload), headers, &id, holding).await
        }
    });
    futures::future::try_join_all(publishes).await?;
    info.accepted.insert(frame.seq, d.stream_seq);
    info.record.frames_accepted += 1;
    info.record.updated_at_ms = now_ms();
    save_record(ctx, &info.record).await?;
    ctx.metrics.counter("frames").inc();
    ctx.metrics.counter("chips").add(prepared.grid.len() as u64);
    ctx.metrics
        .counter("chip_batches")
        .add(batches.len() as u64);
    tracing::info!(
        target: crate::common::FRAMES,
        chips = prepared.grid.len(),
        batches = batches.len(),
        ms = started.elapsed().as_millis() as u64,
        "frame chipped"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_number_seen_again_is_a_redelivery_only_from_the_same_message() {
        let mut accepted = HashMap::new();
        assert_eq!(seen(&accepted, 0, 7), Seen::New);
        accepted.insert(0, 7);
        assert_eq!(seen(&accepted, 0, 7), Seen::Redelivered);
        assert_eq!(
            seen(&accepted, 0, 9),
            Seen::Duplicate {
                first_stream_seq: 7
            }
        );
        assert_eq!(seen(&accepted, 1, 9), Seen::New);
    }
}
