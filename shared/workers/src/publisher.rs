//! The publisher service: segmented frames in, results out. Renders the overlay (the
//! normalised frame with the communities coloured, as `tessera segment` draws it) and stores
//! it beside the label map, publishes a [`FrameResult`] on
//! `tessera.results.<instrument>.<run>` (with the class overlay beside it when the run has a
//! classifier), keeps the run's latest result in KV
//! `tessera_latest`, and adds the frame to the run's fraction series in KV `tessera_series`.

use std::time::Instant;

use bytes::Bytes;
use tessera_bus::{BusError, Delivery};
use tessera_imaging::{
    LegendEntry, NO_LABEL, NO_LABEL_U16, Raster, decode_labels_tiff, render_overlay_coloured,
};
use tessera_pipeline::classes::class_legend;
use tessera_pipeline::results::{legend, series_point};
use tessera_protocol::{
    ChipMap, FrameClasses, FrameResult, ObjectRef, PROTOCOL_VERSION, RunSeries, Segmented, Service,
    decode, encode_message, keys,
    streams::{LATEST_KV, OUTPUTS_STORE, SERIES_KV},
    subjects,
};

use tracing::{Instrument, Span, field::Empty};

use crate::common::{Failure, forward_headers, next_delivery, now_ms, pull, settle};
use crate::{Context, WorkerError};

/// Runs the publisher until `ctx.shutdown` is cancelled.
pub async fn run(ctx: Context) -> Result<(), WorkerError> {
    let spec = &ctx.settings.queues.consumer(Service::Publisher);
    let mut deliveries = pull(&ctx, Service::Publisher, spec, 4).await?;
    while let Some(d) = next_delivery(&ctx, &mut deliveries).await? {
        let span =
            tracing::info_span!("publish", service = "publisher", run = Empty, frame = Empty);
        tessera_telemetry::set_parent_from(&span, &d.headers);
        async {
            let outcome = handle(&ctx, &d).await;
            settle(&ctx, Service::Publisher, spec, &d, outcome).await;
        }
        .instrument(span)
        .await;
    }
    Ok(())
}

async fn handle(ctx: &Context, d: &Delivery) -> Result<(), Failure> {
    let seg: Segmented =
        decode(&d.payload, &ctx.limits).map_err(|e| Failure::Reject(e.to_string()))?;
    crate::spans::record_frame(&Span::current(), &seg.run, seg.seq);
    let what = format!("frame {} of run {}", seg.seq, seg.run);
    let t = Instant::now();
    let mut classes = seg.classes.clone();
    let overlay = if ctx.settings.publisher.overlay
        && let Some(source) = &seg.meta.normalized
    {
        // The frame's preview is read once; both overlays are drawn at once over it, each its
        // own blocking render.
        let source = get(ctx, source, &what).await?;
        let class_overlay = async {
            match &classes {
                Some(k) => class_overlay(ctx, &seg, &source, k, &what).await,
                None => Ok(None),
            }
        };
        let communities = overlay(ctx, &seg, &source, &what);
        let (communities, of_classes) = tokio::try_join!(communities, class_overlay)?;
        if let Some(k) = classes.as_mut() {
            k.overlay = of_classes;
        }
        communities
    } else {
        None
    };
    let render_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut timings = seg.timings.clone();
    timings.push(("overlay".into(), render_ms));
    if let Some(sent) = d
        .header(keys::PUBLISHED_AT_HEADER)
        .and_then(|v| v.parse::<u64>().ok())
    {
        timings.push((
            "publish_to_result".into(),
            now_ms().saturating_sub(sent) as f64,
        ));
    }
    let g = seg.grid;
    let chips = tessera_imaging::ChipGrid::new(
        g.width as usize,
        g.height as usize,
        g.chip as usize,
        g.stride as usize,
    )
    .map(|grid| grid.len() as u32)
    .unwrap_or(0);
    let result = FrameResult {
        version: PROTOCOL_VERSION,
        run: seg.run.clone(),
        instrument: seg.meta.instrument.clone(),
        seq: seg.seq,
        timestamp_ms: seg.meta.timestamp_ms,
        dose: seg.meta.dose,
        pixel_size_nm: seg.meta.pixel_size_nm,
        width: g.width,
        height: g.height,
        chips,
        n_labels: seg.n_labels,
        communities: seg.communities.clone(),
        source: seg.meta.normalized.clone(),
        labels: seg.labels.clone(),
        overlay,
        timings,
        cache_hits: seg.cache_hits,
        model: seg.model.clone(),
        model_digest: seg.model_digest.clone(),
        params: seg.params.clone(),
        classes,
        chip_map: Some(ChipMap {
            grid: seg.grid,
            labels: seg.chip_labels.clone(),
            confidence: seg.chip_weights.clone(),
        }),
    };
    let payload = encode_message(&result, &ctx.limits)
        .map_err(|e| Failure::Reject(format!("{what}: {e}")))?;
    let payload = Bytes::from(payload);
    let subject = subjects::results_subject(&result.instrument, &result.run);
    let msg_id = keys::result_msg_id(&result.run, result.seq);
    // A redelivery may follow a copy that published the result and died before acking. The
    // stream would drop a second copy, but live subscribers would see it: publish only once.
    if d.delivered == 1 || !already_published(ctx, &subject, &msg_id).await? {
        ctx.bus
            .publish(
                &subject,
                payload.clone(),
                &crate::spans::traced(forward_headers(d), &Span::current()),
                Some(&msg_id),
            )
            .await?;
    }
    ctx.bus
        .kv_put(LATEST_KV.bucket, &keys::latest_key(&result.run), payload)
        .await?;
    add_to_series(ctx, &result).await?;
    // The stage latencies first: once `frames` counts a frame, its stages are in too.
    for (stage, ms) in &result.timings {
        ctx.metrics
            .labelled_histogram(
                "stage_seconds",
                ("stage", stage),
                tessera_telemetry::SECONDS,
            )
            .observe_ms(*ms);
    }
    ctx.metrics.counter("frames").inc();
    let latency = result
        .timings
        .iter()
        .find(|(s, _)| s == "publish_to_result");
    tracing::info!(
        target: crate::common::FRAMES,
        labels = result.n_labels,
        ms = t.elapsed().as_millis() as u64,
        since_published_ms = latency.map(|(_, ms)| *ms as u64),
        "result published"
    );
    Ok(())
}

/// Whether RESULTS already holds the message `msg_id` on `subject` (the run's results).
async fn already_published(ctx: &Context, subject: &str, msg_id: &str) -> Result<bool, Failure> {
    let stored = ctx
        .bus
        .replay(tessera_protocol::streams::RESULTS.name, subject, usize::MAX)
        .await?;
    Ok(stored
        .iter()
        .any(|m| tessera_bus::header(&m.headers, tessera_bus::MSG_ID_HEADER) == Some(msg_id)))
}

/// Renders and stores the overlay over `source` (the frame's preview); `None` when the frame
/// has no stored labels.
async fn overlay(
    ctx: &Context,
    seg: &Segmented,
    source: &Bytes,
    what: &str,
) -> Result<Option<ObjectRef>, Failure> {
    let name = keys::overlay_object(&seg.run, seg.seq);
    let drawn = Drawn {
        map: seg.labels.as_ref(),
        legend: legend(&seg.communities),
        colours: None,
        name,
    };
    draw(ctx, seg, source, drawn, what).await
}

/// Renders and stores the class overlay over `source`; `None` when the frame has no class map
/// (it could not be classified).
async fn class_overlay(
    ctx: &Context,
    seg: &Segmented,
    source: &Bytes,
    classes: &FrameClasses,
    what: &str,
) -> Result<Option<ObjectRef>, Failure> {
    let (legend, colours) = class_legend(classes);
    let drawn = Drawn {
        map: classes.labels.as_ref(),
        legend,
        colours: Some(colours),
        name: keys::classes_overlay_object(&seg.run, seg.seq),
    };
    draw(ctx, seg, source, drawn, what).await
}

/// What an overlay shows: a stored label map, its legend and colours, and where it goes.
struct Drawn<'a> {
    map: Option<&'a ObjectRef>,
    legend: Vec<LegendEntry>,
    colours: Option<Vec<[u8; 3]>>,
    name: String,
}

/// Renders `drawn` over `source`, the frame's preview, and stores it in `tessera_outputs`.
async fn draw(
    ctx: &Context,
    seg: &Segmented,
    source: &Bytes,
    drawn: Drawn<'_>,
    what: &str,
) -> Result<Option<ObjectRef>, Failure> {
    let Some(labels) = drawn.map else {
        return Ok(None);
    };
    let source_bytes = source.clone();
    let labels_bytes = get(ctx, labels, what).await?;
    let (w, h) = (seg.grid.width as usize, seg.grid.height as usize);
    let alpha = ctx.settings.publisher.overlay_alpha;
    let (legend, colours) = (drawn.legend, drawn.colours);
    let png = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        if source_bytes.len() != w * h {
            return Err(format!(
                "the frame preview has {} bytes, not {w} × {h}",
                source_bytes.len()
            ));
        }
        let pixels = source_bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        let raster = Raster::new(w, h, pixels).map_err(|e| e.to_string())?;
        let (lw, lh, labels) = decode_labels_tiff(&labels_bytes).map_err(|e| e.to_string())?;
        if (lw, lh) != (w, h) {
            return Err(format!("the label map is {lw} × {lh}, the frame {w} × {h}"));
        }
        let labels: Vec<u32> = labels
            .iter()
            .map(|&l| {
                if l == NO_LABEL_U16 {
                    NO_LABEL
                } else {
                    u32::from(l)
                }
            })
            .collect();
        render_overlay_coloured(&raster, &labels, alpha, &legend, None, colours.as_deref())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| Failure::Retry(format!("the overlay task failed: {e}")))?
    .map_err(|e| Failure::Reject(format!("{what}: overlay: {e}")))?;
    let stored = ctx
        .bus
        .put_object(OUTPUTS_STORE.bucket, &drawn.name, &png)
        .await?;
    Ok(Some(crate::common::object_ref(stored)))
}

async fn get(ctx: &Context, o: &ObjectRef, what: &str) -> Result<Bytes, Failure> {
    match ctx.bus.get_object(&o.bucket, &o.name).await {
        Ok(b) => Ok(b),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => Err(Failure::Reject(format!(
            "{what}: object {}/{} cannot be read: {e}",
            o.bucket, o.name
        ))),
    }
}

/// Adds the result's point to the run's series, with compare-and-set so that concurrent
/// publishers do not lose points.
async fn add_to_series(ctx: &Context, result: &FrameResult) -> Result<(), Failure> {
    let key = keys::series_key(&result.run);
    let max = ctx.settings.publisher.series_max_points;
    for _ in 0..16 {
        let current = ctx.bus.kv_get(SERIES_KV.bucket, &key).await?;
        let (mut series, revision) = match &current {
            Some((bytes, rev)) => (
                decode::<RunSeries>(bytes, &ctx.limits)
                    .unwrap_or_else(|_| RunSeries::new(result.run.clone())),
                Some(*rev),
            ),
            None => (RunSeries::new(result.run.clone()), None),
        };
        series.upsert(series_point(result), max);
        let bytes = Bytes::from(
            encode_message(&series, &ctx.limits).map_err(|e| Failure::Retry(e.to_string()))?,
        );
        let written = match revision {
            Some(rev) => ctx.bus.kv_update(SERIES_KV.bucket, &key, bytes, rev).await,
            None => ctx.bus.kv_create(SERIES_KV.bucket, &key, bytes).await,
        };
        match written {
            Ok(_) => return Ok(()),
            Err(BusError::Conflict { .. } | BusError::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Retry(format!(
        "the series of run {} kept changing under us",
        result.run
    )))
}
