//! The clusterer service: assembles each frame's embedding batches, and when a frame is
//! complete, builds the graph, finds the communities, gives them run-stable ids and sends
//! the segmentation on.
//!
//! A frame's batches stay unacknowledged (kept alive with progress acks) until its result is
//! stored, so a crash loses nothing: the batches come back and the frame is assembled again.
//! KV `tessera_progress` records each frame's state; a frame already `done` is not finished
//! twice when its batches come back. Run one clusterer per deployment: a frame's batches
//! must all reach the same copy.
//!
//! At most `clusterer.max_open_frames` frames are assembled at once. A batch of another frame
//! is parked, held unacknowledged like the others, and placed when a frame finishes: a burst
//! of frames waits, it is never retried into the dead-letter queue.
//!
//! The stages are `tessera_segment::finish_image` and the same label painting as `tessera
//! segment`, so the label map equals the command's, under the run's stable ids. Parameters
//! that need the image (chip intensity statistics, boundary refinement) read the frame's 8-bit
//! preview back from `tessera_frames`, the form `finish_image` uses in both places.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_bus::Delivery;
use tessera_imaging::{ChipGrid, encode_labels_tiff};
use tessera_pipeline::{
    Added, FrameAssembly,
    results::{relabel, stable_communities},
};
use tessera_protocol::{
    EmbeddingBatch, FrameClasses, FrameProgress, ObjectRef, PROTOCOL_VERSION, ProgressState,
    Reject, RunId, Segmented, Service, decode, encode_message, f32s_to_le_bytes, keys,
    streams::{CLUSTERER_CONSUMER, OUTPUTS_STORE, PROGRESS_KV, TRACKS_KV},
    subjects, u32s_to_le_bytes,
};
use tessera_segment::{
    Timings,
    tracking::{RunTracks, TrackingParams, community_directions},
};

use tracing::{Instrument, Span, field::Empty};

use crate::classifiers::Loaded;
use crate::common::{
    Failure, forward_headers, now_ms, publish_downstream, publish_reject, pull, settle,
};
use crate::labelling::{HeldFrame, HeldFrames};
use crate::{Context, WorkerError};

/// A frame being assembled, with the deliveries of its batches.
struct Open {
    assembly: FrameAssembly,
    deliveries: Vec<Delivery>,
    opened: Instant,
    headers: Vec<(String, String)>,
}

type FrameKey = (RunId, u64);

/// What the clusterer keeps across frames: each run's community tracks, and the named
/// classifiers it has loaded.
#[derive(Default)]
struct Memory {
    tracks: HashMap<RunId, RunTracks>,
    classifiers: Loaded,
    /// Each run's newest frame, for labels painted on it.
    held: HeldFrames,
    /// The classifier bound to each run seen (labels painted on it), read from KV once per
    /// run; this clusterer makes every binding, so it keeps them up to date.
    bindings: HashMap<RunId, Option<String>>,
}

/// What the clusterer holds: the frames being assembled, and batches of further frames
/// waiting for room (`clusterer.max_open_frames`), oldest first.
#[derive(Default)]
struct Held {
    open: HashMap<FrameKey, Open>,
    parked: VecDeque<Delivery>,
}

impl Held {
    /// Every delivery held: the open frames' batches, then the parked ones.
    fn deliveries(&self) -> impl Iterator<Item = &Delivery> {
        let open = self.open.values().flat_map(|o| o.deliveries.iter());
        open.chain(self.parked.iter())
    }
}

/// Where [`place`] put a batch.
enum Placement {
    /// Into its open frame.
    Held(FrameKey, Added),
    /// Nowhere: a late copy of a batch of a frame already published, to be acked and dropped.
    Late,
    /// Nowhere yet: its frame is not open and `max_open_frames` are.
    NoRoom,
}

/// Runs the clusterer until `ctx.shutdown` is cancelled.
pub async fn run(ctx: Context) -> Result<(), WorkerError> {
    let spec = &ctx.settings.queues.consumer(Service::Clusterer);
    let mut deliveries = pull(&ctx, Service::Clusterer, spec, 64).await?;
    let mut held = Held::default();
    let mut memory = Memory::default();
    let mut label_requests = ctx.bus.subscribe(subjects::CLASSIFY_PATTERN).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(spec.ack_wait_secs * 1000 / 3));
    loop {
        let next = tokio::select! {
            _ = ctx.shutdown.cancelled() => {
                release(&held).await;
                crate::common::hand_back_buffered(&mut deliveries).await;
                break;
            }
            _ = tick.tick() => {
                if housekeeping(&ctx, &mut held).await {
                    let parked: Vec<Delivery> = held.parked.drain(..).collect();
                    accept(&ctx, &mut held, &mut memory, parked).await;
                }
                continue;
            }
            Some(request) = futures::StreamExt::next(&mut label_requests) => {
                if let Some((run, name)) =
                    crate::labelling::answer(&ctx, &memory.held, request).await
                {
                    memory.bindings.insert(run, Some(name));
                }
                continue;
            }
            next = futures::StreamExt::next(&mut deliveries) => next,
        };
        let d = match next {
            Some(Ok(d)) => d,
            Some(Err(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "pulling embedding batches failed; retrying");
                continue;
            }
            Some(Err(e)) => return Err(e.into()),
            None => return Err(WorkerError::Task("the EMBEDDED consumer went away".into())),
        };
        accept(&ctx, &mut held, &mut memory, vec![d]).await;
    }
    Ok(())
}

/// Receives `deliveries` in order and finishes every frame they complete. A finished frame
/// makes room, so the parked batches are then tried again (those still without room are
/// parked again, in order).
async fn accept(ctx: &Context, held: &mut Held, memory: &mut Memory, deliveries: Vec<Delivery>) {
    let mut queue = VecDeque::from(deliveries);
    while let Some(d) = queue.pop_front() {
        let span = tracing::info_span!(
            "cluster_batch",
            service = "clusterer",
            run = Empty,
            frame = Empty
        );
        tessera_telemetry::set_parent_from(&span, &d.headers);
        if let Some(key) = receive(ctx, held, d).instrument(span).await
            && held
                .open
                .get(&key)
                .is_some_and(|o| o.assembly.is_complete())
            && let Some(frame) = held.open.remove(&key)
        {
            complete(ctx, memory, frame).await;
            queue.extend(held.parked.drain(..));
        }
    }
    ctx.metrics
        .gauge("parked_batches")
        .set(held.parked.len() as i64);
}

/// On shutdown: hands every held batch back at once (nak without delay), so a restarted or
/// other clusterer assembles the open frames without waiting for the ack wait.
async fn release(held: &Held) {
    let batches: usize = held.open.values().map(|o| o.deliveries.len()).sum();
    if batches + held.parked.len() > 0 {
        tracing::info!(
            frames = held.open.len(),
            batches,
            parked = held.parked.len(),
            "handing open frames and parked batches back"
        );
    }
    for d in held.deliveries() {
        let _ = d.nak(None).await;
    }
}

/// Adds one delivery to its frame and holds it there; returns the frame's key. A delivery
/// that cannot be held (bad, late or refused) is settled at once.
async fn receive(ctx: &Context, held: &mut Held, d: Delivery) -> Option<FrameKey> {
    let placed = place(ctx, &mut held.open, &d).await;
    let (key, added) = match placed {
        Ok(Placement::Held(key, added)) => (key, added),
        Ok(Placement::Late) => {
            settle(ctx, Service::Clusterer, &CLUSTERER_CONSUMER, &d, Ok(())).await;
            return None;
        }
        Ok(Placement::NoRoom) => {
            ctx.metrics.counter("batches_parked").inc();
            held.parked.push_back(d);
            return None;
        }
        Err(f) => {
            settle(ctx, Service::Clusterer, &CLUSTERER_CONSUMER, &d, Err(f)).await;
            return None;
        }
    };
    let frame = held.open.get_mut(&key)?;
    frame.deliveries.push(d);
    if added == Added::New && !frame.assembly.is_complete() {
        // Progress for operators and dashboards; the held batches are the truth.
        if let Err(Failure::Retry(e) | Failure::Reject(e)) =
            save_progress(ctx, &frame.assembly, ProgressState::Assembling).await
        {
            tracing::debug!(error = %e, "frame progress not recorded");
        }
    }
    Some(key)
}

/// Adds the batch in `d` to its frame, opening the frame if there is room.
async fn place(
    ctx: &Context,
    open: &mut HashMap<FrameKey, Open>,
    d: &Delivery,
) -> Result<Placement, Failure> {
    let reject = |e: &dyn std::fmt::Display| Failure::Reject(e.to_string());
    let batch = decode::<EmbeddingBatch>(&d.payload, &ctx.limits).map_err(|e| reject(&e))?;
    crate::spans::record_frame(&Span::current(), &batch.run, batch.seq);
    let key = (batch.run.clone(), batch.seq);
    if !open.contains_key(&key) {
        if progress(ctx, &batch.run, batch.seq).await? == Some(ProgressState::Done) {
            return Ok(Placement::Late);
        }
        if open.len() >= ctx.settings.clusterer.max_open_frames {
            return Ok(Placement::NoRoom);
        }
        let assembly = FrameAssembly::new(&batch).map_err(|e| reject(&e))?;
        open.insert(
            key.clone(),
            Open {
                assembly,
                deliveries: Vec::new(),
                opened: Instant::now(),
                headers: forward_headers(d),
            },
        );
    }
    let frame = open
        .get_mut(&key)
        .ok_or_else(|| Failure::Retry(format!("frame {key:?} vanished")))?;
    let added = frame.assembly.add(&batch).map_err(|e| reject(&e))?;
    Ok(Placement::Held(key, added))
}

/// A frame's progress state in KV, if recorded.
async fn progress(ctx: &Context, run: &RunId, seq: u64) -> Result<Option<ProgressState>, Failure> {
    let Some((bytes, _)) = ctx
        .bus
        .kv_get(PROGRESS_KV.bucket, &keys::progress_key(run, seq))
        .await?
    else {
        return Ok(None);
    };
    Ok(decode::<FrameProgress>(&bytes, &ctx.limits)
        .ok()
        .map(|p| p.state))
}

async fn save_progress(
    ctx: &Context,
    a: &FrameAssembly,
    state: ProgressState,
) -> Result<(), Failure> {
    let p = FrameProgress {
        version: PROTOCOL_VERSION,
        run: a.run.clone(),
        seq: a.seq,
        state,
        batches: a.batches,
        received: a.received(),
        updated_at_ms: now_ms(),
    };
    let bytes = encode_message(&p, &ctx.limits).map_err(|e| Failure::Retry(e.to_string()))?;
    ctx.bus
        .kv_put(
            PROGRESS_KV.bucket,
            &keys::progress_key(&a.run, a.seq),
            Bytes::from(bytes),
        )
        .await?;
    Ok(())
}

/// Gives up frames past `clusterer.frame_timeout_secs` and keeps every held batch alive.
/// Returns whether a frame was given up (which makes room for parked batches).
async fn housekeeping(ctx: &Context, held: &mut Held) -> bool {
    let open = &mut held.open;
    let timeout = Duration::from_secs(ctx.settings.clusterer.frame_timeout_secs.max(1));
    let stale: Vec<FrameKey> = open
        .iter()
        .filter(|(_, o)| o.opened.elapsed() > timeout)
        .map(|(k, _)| k.clone())
        .collect();
    let gave_up = !stale.is_empty();
    for key in stale {
        if let Some(frame) = open.remove(&key) {
            let a = &frame.assembly;
            let reason = format!(
                "frame {} of run {}: only {} of {} embedding batches arrived within {} s \
                 (clusterer.frame_timeout_secs); the frame is given up",
                a.seq,
                a.run,
                a.received(),
                a.batches,
                timeout.as_secs()
            );
            give_up(ctx, frame, &reason).await;
        }
    }
    for d in held.deliveries() {
        let _ = d.in_progress().await;
    }
    gave_up
}

/// Rejects a whole frame: one reject message, and every held batch terminated.
async fn give_up(ctx: &Context, frame: Open, reason: &str) {
    let a = &frame.assembly;
    tracing::warn!(run = %a.run, seq = a.seq, %reason, "frame given up");
    ctx.metrics.counter("rejected").inc();
    let reject = Reject {
        version: PROTOCOL_VERSION,
        subject: subjects::embedded_subject(&a.run),
        service: Service::Clusterer.as_str().into(),
        reason: reason.to_string(),
        msg_id: Some(keys::segmented_msg_id(&a.run, a.seq)),
        payload_bytes: 0,
        at_ms: now_ms(),
    };
    let id = keys::segmented_msg_id(&a.run, a.seq);
    if let Err(e) = publish_reject(ctx, Service::Clusterer, &reject, &id).await {
        tracing::warn!(error = %e, "could not publish a reject");
    }
    for d in &frame.deliveries {
        let _ = d.term().await;
    }
}

/// Segments a complete frame, publishes it, and settles its batches, in the frame's
/// `cluster` span: a child of its first batch's context, linked to every batch's.
async fn complete(ctx: &Context, memory: &mut Memory, frame: Open) {
    let a = &frame.assembly;
    let span = tracing::info_span!(
        "cluster",
        service = "clusterer",
        run = %a.run,
        frame = a.seq,
        batches = a.batches
    );
    tessera_telemetry::set_parent_from(&span, &frame.headers);
    crate::spans::link_all(&span, frame.deliveries.iter().map(|d| d.headers.as_slice()));
    finish_frame(ctx, memory, frame).instrument(span).await;
}

async fn finish_frame(ctx: &Context, memory: &mut Memory, frame: Open) {
    match segment_and_publish(ctx, memory, &frame).await {
        Ok(()) => {
            ctx.metrics.counter("frames").inc();
            for d in &frame.deliveries {
                settle(ctx, Service::Clusterer, &CLUSTERER_CONSUMER, d, Ok(())).await;
            }
        }
        Err(Failure::Reject(reason)) => give_up(ctx, frame, &reason).await,
        Err(Failure::Retry(reason)) => {
            tracing::warn!(%reason, "frame will be assembled again");
            for d in &frame.deliveries {
                settle(
                    ctx,
                    Service::Clusterer,
                    &CLUSTERER_CONSUMER,
                    d,
                    Err(Failure::Retry(reason.clone())),
                )
                .await;
            }
        }
    }
}

/// The normalised frame, read back from its 8-bit preview, when `params` need the image
/// (chip intensity statistics, boundary refinement) or the frame is to be classified
/// (`for_classes`): `finish_image` uses that same preview, so
/// the labels equal `tessera segment`'s. Without a stored preview, the image-based steps are
/// left out, with a warning.
async fn frame_image(
    ctx: &Context,
    a: &tessera_pipeline::FrameAssembly,
    mut params: tessera_segment::SegmentParams,
    for_classes: bool,
    what: &str,
) -> Result<
    (
        Option<tessera_imaging::Raster>,
        tessera_segment::SegmentParams,
    ),
    Failure,
> {
    if !params.needs_image() && !for_classes {
        return Ok((None, params));
    }
    let (w, h) = (a.grid.width as usize, a.grid.height as usize);
    let Some(o) = &a.meta.normalized else {
        tracing::warn!("{what}: no stored preview, so no intensity statistics or refinement");
        params.intensity_weight = 0.0;
        params.refine = 0.0;
        return Ok((None, params));
    };
    let bytes = match ctx.bus.get_object(&o.bucket, &o.name).await {
        Ok(b) => b,
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => {
            return Err(Failure::Reject(format!(
                "{what}: the frame preview {}/{} cannot be read: {e}",
                o.bucket, o.name
            )));
        }
    };
    if bytes.len() != w * h {
        return Err(Failure::Reject(format!(
            "{what}: the frame preview has {} bytes, not {w} × {h}",
            bytes.len()
        )));
    }
    let pixels = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let raster = tessera_imaging::Raster::new(w, h, pixels)
        .map_err(|e| Failure::Reject(format!("{what}: {e}")))?;
    Ok((Some(raster), params))
}

async fn segment_and_publish(
    ctx: &Context,
    memory: &mut Memory,
    frame: &Open,
) -> Result<(), Failure> {
    let a = &frame.assembly;
    let what = format!("frame {} of run {}", a.seq, a.run);
    let reject = |e: &dyn std::fmt::Display| Failure::Reject(format!("{what}: {e}"));
    let params = tessera_pipeline::resolve(&a.params).map_err(|e| reject(&e))?;
    let g = a.grid;
    let grid = ChipGrid::new(
        g.width as usize,
        g.height as usize,
        g.chip as usize,
        g.stride as usize,
    )
    .map_err(|e| reject(&e))?;
    let held_grid = grid.clone();
    let embeddings = a.embeddings().to_vec();
    let dim = a.dim;
    // A classifier bound to the run (labels painted on it) comes before the run start's.
    let name = match memory.bindings.get(&a.run) {
        Some(bound) => bound.clone(),
        None => {
            let bound = crate::classifiers::bound(&ctx.bus, &a.run).await?;
            memory.bindings.insert(a.run.clone(), bound.clone());
            bound
        }
    }
    .or_else(|| a.params.classifier.clone());
    let classifier = match name {
        Some(name) => {
            let loaded = memory.classifiers.get(&ctx.bus, &ctx.limits, &name).await?;
            Some((name, loaded))
        }
        None => None,
    };
    let (image, params) = frame_image(ctx, a, params, classifier.is_some(), &what).await?;
    let span = Span::current();
    let digest = a.model_digest.clone();
    let kept_params = params.clone();
    let (seg, classes, embeddings, image) = tokio::task::spawn_blocking(move || {
        let _in_frame = span.enter();
        // The classes need only the embeddings and the preview: found beside the communities.
        let (seg, (classes, classes_ms)) = rayon::join(
            || {
                tessera_segment::finish_image(
                    &grid,
                    image.as_ref(),
                    &embeddings,
                    dim,
                    &params,
                    Timings::default(),
                )
            },
            || {
                let t = Instant::now();
                let classes = classifier.map(|(name, loaded)| {
                    classify(
                        &name,
                        loaded,
                        &grid,
                        image.as_ref(),
                        &embeddings,
                        &digest,
                        &params,
                    )
                });
                (classes, t.elapsed().as_secs_f64() * 1e3)
            },
        );
        let seg = seg.map(|mut seg| {
            if classes.is_some() {
                seg.timings.record("classes", classes_ms);
            }
            seg
        });
        (seg, classes, embeddings, image)
    })
    .await
    .map_err(|e| Failure::Retry(format!("the clustering task failed: {e}")))?;
    let mut seg = seg.map_err(|e| reject(&e))?;

    let run_tracks = run_tracks(ctx, &mut memory.tracks, &a.run, dim).await?;
    let n = seg.partition.n_communities;
    let directions = community_directions(&embeddings, dim, &seg.partition.labels, n);
    let mut sizes = vec![0u32; n];
    for &l in &seg.partition.labels {
        sizes[l as usize] += 1;
    }
    let tracking = TrackingParams {
        min_similarity: ctx.settings.clusterer.track_min_similarity,
        ..TrackingParams::default()
    };
    let ids = run_tracks
        .assign(&directions, &sizes, &tracking)
        .map_err(|e| reject(&e))?;
    let tracks_bytes =
        rmp_serde::to_vec_named(&*run_tracks).map_err(|e| Failure::Retry(e.to_string()))?;
    relabel(&mut seg.labels, &ids).map_err(|e| reject(&e))?;
    let mut chip_labels = seg.partition.labels.clone();
    relabel(&mut chip_labels, &ids).map_err(|e| reject(&e))?;
    let communities = stable_communities(&seg.communities, &ids).map_err(|e| reject(&e))?;
    let n_labels = ids.iter().max().map_or(0, |m| m + 1);

    let t = Instant::now();
    let size = (seg.width, seg.height);
    let labels = std::mem::take(&mut seg.labels);
    let name = keys::labels_object(&a.run, a.seq);
    let stored = store_map(ctx, &name, labels, size, &format!("{what}: label map")).await?;
    let classes = match classes {
        Some((mut wire, Some(labels))) => {
            let name = keys::classes_object(&a.run, a.seq);
            let what = format!("{what}: class map");
            wire.labels = Some(store_map(ctx, &name, labels, size, &what).await?);
            Some(wire)
        }
        Some((wire, None)) => Some(wire),
        None => None,
    };
    seg.timings
        .record("store_labels", t.elapsed().as_secs_f64() * 1e3);
    ctx.bus
        .kv_put(
            TRACKS_KV.bucket,
            &keys::tracks_key(&a.run),
            Bytes::from(tracks_bytes),
        )
        .await?;

    let mut timings = vec![
        ("embed".to_string(), a.embed_ms),
        ("cache".to_string(), a.cache_ms),
    ];
    timings.extend(seg.timings.stages.iter().cloned());
    let out = Segmented {
        version: PROTOCOL_VERSION,
        run: a.run.clone(),
        seq: a.seq,
        meta: a.meta.clone(),
        grid: a.grid,
        params: a.params.clone(),
        model: a.model.clone(),
        model_digest: a.model_digest.clone(),
        chip_labels: u32s_to_le_bytes(&chip_labels),
        chip_weights: seg.chip_weights.as_deref().map(f32s_to_le_bytes),
        n_labels,
        communities,
        modularity: Some(seg.partition.modularity),
        cache_hits: a.cache_hits,
        timings,
        labels: Some(stored),
        classes,
    };
    let payload = encode_message(&out, &ctx.limits).map_err(|e| reject(&e))?;
    publish_downstream(
        ctx,
        &subjects::segmented_subject(&a.run),
        Bytes::from(payload),
        &crate::spans::traced(frame.headers.clone(), &Span::current()),
        &keys::segmented_msg_id(&a.run, a.seq),
        &frame.deliveries,
    )
    .await?;
    save_progress(ctx, a, ProgressState::Done).await?;
    memory.held.keep(
        a.run.clone(),
        HeldFrame {
            seq: a.seq,
            grid: held_grid,
            image,
            embeddings,
            model_digest: a.model_digest.clone(),
            params: kept_params,
        },
    );
    tracing::info!(
        target: crate::common::FRAMES,
        communities = n,
        embedders = a.workers.len(),
        ms = frame.opened.elapsed().as_millis() as u64,
        "frame segmented"
    );
    Ok(())
}

/// The frame's classes with the run's classifier (`loaded`, or why it could not be), and
/// its class map; a frame that cannot be classified says why and keeps its communities.
fn classify(
    name: &str,
    loaded: Result<(u64, std::sync::Arc<tessera_fewshot::Classifier>), String>,
    grid: &ChipGrid,
    image: Option<&tessera_imaging::Raster>,
    embeddings: &[f32],
    model_digest: &str,
    params: &tessera_segment::SegmentParams,
) -> (FrameClasses, Option<Vec<u32>>) {
    let failed = |why: String| (FrameClasses::failed(name, why), None);
    let (revision, c) = match loaded {
        Ok(l) => l,
        Err(why) => return failed(why),
    };
    let Some(image) = image else {
        return failed(crate::labelling::NO_PREVIEW.into());
    };
    match tessera_pipeline::classes::classify(
        &c,
        revision,
        grid,
        image,
        embeddings,
        model_digest,
        params,
    ) {
        Ok(k) => (k.wire, Some(k.labels)),
        Err(e) => failed(format!("classifier {name}: {e}")),
    }
}

/// Stores a frame's label or class map (16-bit TIFF, 65535 = none) in `tessera_outputs` as
/// `name`; `what` names it in errors ("frame 3 of run r: label map").
pub(crate) async fn store_map(
    ctx: &Context,
    name: &str,
    labels: Vec<u32>,
    (w, h): (usize, usize),
    what: &str,
) -> Result<ObjectRef, Failure> {
    let tiff = tokio::task::spawn_blocking(move || encode_labels_tiff(&labels, w, h))
        .await
        .map_err(|e| Failure::Retry(format!("{what}: the encoder task failed: {e}")))?
        .map_err(|e| Failure::Reject(format!("{what}: {e}")))?;
    let stored = ctx
        .bus
        .put_object(OUTPUTS_STORE.bucket, name, &tiff)
        .await?;
    Ok(crate::common::object_ref(stored))
}

/// The run's tracks: in memory, else from KV (after a restart), else new.
async fn run_tracks<'a>(
    ctx: &Context,
    tracks: &'a mut HashMap<RunId, RunTracks>,
    run: &RunId,
    dim: usize,
) -> Result<&'a mut RunTracks, Failure> {
    if !tracks.contains_key(run) {
        let stored = ctx
            .bus
            .kv_get(TRACKS_KV.bucket, &keys::tracks_key(run))
            .await?;
        let loaded = stored
            .and_then(|(bytes, _)| rmp_serde::from_slice::<RunTracks>(&bytes).ok())
            .filter(|t| t.dim() == dim)
            .unwrap_or_else(|| RunTracks::new(dim));
        tracks.insert(run.clone(), loaded);
    }
    tracks
        .get_mut(run)
        .ok_or_else(|| Failure::Retry(format!("tracks of run {run} vanished")))
}
