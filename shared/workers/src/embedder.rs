//! The embedder service: chip batches in, embedding batches out. Run as many copies as the
//! load needs; they share the one durable consumer `embedder` on WORK, so each batch goes to
//! one of them.
//!
//! Messages are gathered for up to `embedder.linger_ms` (or `embedder.max_batch_chips`
//! chips) and embedded together in one model call. Each chip is first looked up in the
//! embedding cache (Redis, pipelined; in-process when no Redis is configured), keyed by the
//! model digest and the chip's content; only the misses reach the model, and they are written
//! back.
//!
//! WORK's ack wait is short (`queues.embedder_ack_wait_secs`, 4 s), so that the batches of a
//! killed embedder go back to work within seconds. Every message an embedder holds is kept
//! alive meanwhile with progress acks every `embedder.progress_interval_ms`: the ones taken
//! ahead ([`prefetch`](crate::prefetch), at most `embedder.pull_batch`) and the ones in the
//! model call.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tessera_bus::Delivery;
use tessera_cache::{ChipKey, EmbeddingCache};
use tessera_protocol::{
    ChipBatch, EmbeddingBatch, PROTOCOL_VERSION, Service, decode, encode_message, f32s_to_le_bytes,
    keys, streams::EMBEDDER_CONSUMER, subjects,
};

use tracing::{Instrument, Span};

use crate::common::{
    FRAMES, Failure, forward_headers, keep_alive, next_delivery, publish_downstream, pull, settle,
};
use crate::models::ModelSet;
use crate::prefetch::prefetch;
use crate::{Context, WorkerError};

/// One decoded chip batch with its delivery.
struct Job {
    delivery: Delivery,
    batch: ChipBatch,
    chips: Vec<f32>,
}

/// Runs an embedder until `ctx.shutdown` is cancelled.
pub async fn run(ctx: Context) -> Result<(), WorkerError> {
    let cache = EmbeddingCache::new(&ctx.settings.cache)?;
    let settings = ctx.settings.model.clone();
    let mut models = tokio::task::spawn_blocking(move || ModelSet::load(&settings))
        .await
        .map_err(|e| WorkerError::Task(e.to_string()))??;
    ctx.metrics.set_label("cache", cache.backend());
    tracing::info!(
        model = models.name(),
        cache = cache.backend(),
        "embedder ready"
    );
    // One message per pull request: the next is asked for only when there is room ahead.
    let deliveries = pull(
        &ctx,
        Service::Embedder,
        &ctx.settings.queues.consumer(Service::Embedder),
        1,
    )
    .await?;
    let every = progress_interval(&ctx);
    let ahead = ctx.settings.embedder.pull_batch;
    let mut deliveries = prefetch(deliveries, ahead, every, ctx.shutdown.clone());
    let linger = Duration::from_millis(ctx.settings.embedder.linger_ms);
    let max_chips = ctx.settings.embedder.max_batch_chips.max(1);
    loop {
        let Some(first) = next_delivery(&ctx, &mut deliveries).await? else {
            break;
        };
        // Gather more messages until the linger runs out or the group is big enough.
        let deadline = tokio::time::Instant::now() + linger;
        let mut group = Vec::new();
        let mut chips = 0;
        let mut next = Some(first);
        while let Some(d) = next.take() {
            if let Some(job) = admit(&ctx, &models, d).await {
                chips += job.batch.n as usize;
                group.push(job);
            }
            if chips < max_chips {
                let more = tokio::time::timeout_at(deadline, next_delivery(&ctx, &mut deliveries));
                next = match more.await {
                    Ok(Ok(d)) => d,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => None,
                };
            }
        }
        if !group.is_empty() {
            embed_group(&ctx, &cache, &mut models, group).await;
        }
    }
    Ok(())
}

/// Decodes a delivery; a bad one is settled (rejected or left for another embedder) here.
async fn admit(ctx: &Context, models: &ModelSet, d: Delivery) -> Option<Job> {
    let parsed = decode::<ChipBatch>(&d.payload, &ctx.limits)
        .and_then(|b| b.chips_f32().map(|c| (b, c)))
        .map_err(|e| Failure::Reject(e.to_string()))
        .and_then(|(b, c)| {
            if models.serves(&b.model) {
                Ok((b, c))
            } else {
                Err(Failure::Retry(format!(
                    "chip batch asks for model {:?}, but this embedder serves {:?}; run an \
                     embedder with model.name = {:?}",
                    b.model,
                    models.name(),
                    b.model
                )))
            }
        });
    match parsed {
        Ok((batch, chips)) => Some(Job {
            delivery: d,
            batch,
            chips,
        }),
        Err(f) => {
            settle(ctx, Service::Embedder, &EMBEDDER_CONSUMER, &d, Err(f)).await;
            None
        }
    }
}

/// How often held messages are acked as in progress.
fn progress_interval(ctx: &Context) -> Duration {
    Duration::from_millis(ctx.settings.embedder.progress_interval_ms.max(100))
}

/// Embeds a group of jobs (looking up the cache first), publishes one embedding batch per
/// job, and settles every delivery. The whole group is kept alive until then.
async fn embed_group(
    ctx: &Context,
    cache: &EmbeddingCache,
    models: &mut ModelSet,
    mut group: Vec<Job>,
) {
    let started = Instant::now();
    // Chips of different sides need different encoders: embed each side separately.
    group.sort_by_key(|j| j.batch.grid.chip);
    let (deliveries, works): (Vec<Delivery>, Vec<Work>) = group
        .into_iter()
        .map(|j| {
            let headers = forward_headers(&j.delivery);
            (
                j.delivery,
                Work {
                    batch: j.batch,
                    chips: j.chips,
                    headers,
                },
            )
        })
        .unzip();
    let alive = keep_alive(deliveries, progress_interval(ctx));
    let mut outcomes = Vec::with_capacity(works.len());
    let mut rest = &works[..];
    while let Some(first) = rest.first() {
        let chip = first.batch.grid.chip;
        let (side, after) = rest.split_at(rest.partition_point(|w| w.batch.grid.chip == chip));
        rest = after;
        let span = batch_span(side);
        let done = embed_side(ctx, cache, models, chip as usize, side)
            .instrument(span.clone())
            .await;
        span.in_scope(|| log_embedded(side, &done, started));
        outcomes.extend(done.into_iter().map(|(outcome, _)| outcome));
    }
    let deliveries = alive.stop().await;
    for (d, outcome) in deliveries.iter().zip(outcomes) {
        settle(ctx, Service::Embedder, &EMBEDDER_CONSUMER, d, outcome).await;
    }
}

/// The one line per model call at `info` (target [`FRAMES`]), inside the batch span (run and
/// first frame): which frames (`run:frame` when runs are mixed), how many chips, cache hits,
/// and the milliseconds since the group was formed.
fn log_embedded(works: &[Work], done: &[(Result<(), Failure>, u32)], started: Instant) {
    let mut frames: Vec<String> = Vec::new();
    let one_run = works.iter().all(|w| w.batch.run == works[0].batch.run);
    for w in works {
        let f = if one_run {
            w.batch.seq.to_string()
        } else {
            format!("{}:{}", w.batch.run, w.batch.seq)
        };
        if !frames.contains(&f) {
            frames.push(f);
        }
    }
    let chips: u32 = works.iter().map(|w| w.batch.n).sum();
    let hits: u32 = done.iter().map(|(_, h)| h).sum();
    let failed = done.iter().filter(|(o, _)| o.is_err()).count();
    tracing::info!(
        target: FRAMES,
        frames = %frames.join(","),
        chips,
        cache_hits = hits,
        failed,
        ms = started.elapsed().as_millis() as u64,
        "chips embedded"
    );
}

/// The span of one model call over `works` (not empty): a child of the first message's
/// context, linked to the context of every message in it (a batch may mix frames and runs).
fn batch_span(works: &[Work]) -> Span {
    let first = &works[0];
    let chips: u64 = works.iter().map(|w| u64::from(w.batch.n)).sum();
    let span = tracing::info_span!(
        "embed_batch",
        service = "embedder",
        run = %first.batch.run,
        frame = first.batch.seq,
        messages = works.len(),
        chips
    );
    tessera_telemetry::set_parent_from(&span, &first.headers);
    crate::spans::link_all(&span, works.iter().map(|w| w.headers.as_slice()));
    span
}

/// The span of publishing one work's embeddings: a child of the batch span when the work
/// belongs to the same trace, else a child of the work's own producer (the frame's trace),
/// linked to the batch span. Its context goes on with the embedding batch.
fn work_span(work: &Work) -> Span {
    let batch = Span::current();
    let span = tracing::info_span!(
        "embedded",
        service = "embedder",
        run = %work.batch.run,
        frame = work.batch.seq,
        batch = work.batch.batch
    );
    let producer = tessera_telemetry::trace_id_from(&work.headers);
    if producer.is_some() && producer != crate::spans::trace_id(&batch) {
        tessera_telemetry::set_parent_from(&span, &work.headers);
        let mut batch_cx = Vec::new();
        if tessera_telemetry::inject_context(&batch, &mut batch_cx) {
            tessera_telemetry::link_from(&span, &batch_cx);
        }
    }
    span
}

/// A chip batch being embedded, without its delivery (which is kept alive meanwhile).
struct Work {
    batch: ChipBatch,
    chips: Vec<f32>,
    headers: Vec<(String, String)>,
}

/// Embeds and publishes works whose chips all have side `chip`; one outcome per work, with
/// its cache hits.
async fn embed_side(
    ctx: &Context,
    cache: &EmbeddingCache,
    models: &mut ModelSet,
    chip: usize,
    works: &[Work],
) -> Vec<(Result<(), Failure>, u32)> {
    let fail_all = |reason: String| {
        works
            .iter()
            .map(|_| (Err(Failure::Retry(reason.clone())), 0))
            .collect::<Vec<_>>()
    };
    let mut encoder = match models.take(chip) {
        Ok(e) => e,
        Err(e) => return fail_all(e.to_string()),
    };
    let digest = encoder.digest().to_string();
    let dim = models.dim();
    let chip_len = chip * chip;
    let all: Vec<&[f32]> = works
        .iter()
        .flat_map(|w| w.chips.chunks_exact(chip_len))
        .collect();
    let keys: Vec<ChipKey> = all.iter().map(|c| ChipKey::new(&digest, c, chip)).collect();
    let lookup = Instant::now();
    let mut found = cache.get_many(&keys, dim).await;
    let mut cache_ms = lookup.elapsed().as_secs_f64() * 1e3;
    let hit: Vec<bool> = found.iter().map(Option::is_some).collect();
    let misses: Vec<usize> = (0..keys.len()).filter(|&i| !hit[i]).collect();
    ctx.metrics.counter("chips").add(keys.len() as u64);
    ctx.metrics
        .histogram("batch_chips", tessera_telemetry::SIZES)
        .observe(keys.len() as f64);
    ctx.metrics
        .counter("cache_hits")
        .add((keys.len() - misses.len()) as u64);
    ctx.metrics.counter("cache_misses").add(misses.len() as u64);

    let mut model_ms = 0.0;
    if !misses.is_empty() {
        let mut input = Vec::with_capacity(misses.len() * chip_len);
        for &i in &misses {
            input.extend_from_slice(all[i]);
        }
        let t = Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let r = encoder.embed(&input, chip);
            (encoder, r)
        })
        .await;
        model_ms = t.elapsed().as_secs_f64() * 1e3;
        let (enc, embedded) = match joined {
            Ok(pair) => pair,
            Err(e) => return fail_all(format!("the model task failed: {e}")),
        };
        models.put(chip, enc);
        let rows = match embedded {
            Ok(rows) => rows,
            Err(e) => return fail_all(format!("embedding failed: {e}")),
        };
        ctx.metrics.counter("model_calls").inc();
        ctx.metrics.counter("model_ms").add(model_ms as u64);
        ctx.metrics
            .histogram("model_seconds", tessera_telemetry::SECONDS)
            .observe_ms(model_ms);
        let entries: Vec<(ChipKey, &[f32])> = misses
            .iter()
            .zip(rows.chunks_exact(dim))
            .map(|(&i, row)| (keys[i].clone(), row))
            .collect();
        let write = Instant::now();
        cache.put_many(&entries).await;
        cache_ms += write.elapsed().as_secs_f64() * 1e3;
        for (&i, row) in misses.iter().zip(rows.chunks_exact(dim)) {
            found[i] = Some(row.to_vec());
        }
    } else {
        models.put(chip, encoder);
    }
    let stats = cache.stats();
    ctx.metrics.set_label(
        "cache",
        if stats.degraded {
            "degraded"
        } else {
            stats.backend
        },
    );
    ctx.metrics
        .gauge("cache_degraded")
        .set(i64::from(stats.degraded));

    let total_misses = misses.len().max(1) as f64;
    let total_chips = keys.len().max(1) as f64;
    let mut outcomes = Vec::with_capacity(works.len());
    let mut first = 0;
    for work in works {
        let n = work.batch.n as usize;
        let rows = first..first + n;
        first += n;
        let hits = hit[rows.clone()].iter().filter(|&&h| h).count();
        let mut values = Vec::with_capacity(n * dim);
        for r in &found[rows] {
            match r {
                Some(r) => values.extend_from_slice(r),
                None => values.resize(values.len() + dim, f32::NAN),
            }
        }
        let share = model_ms * (n - hits) as f64 / total_misses;
        let out = Embedded {
            values: &values,
            dim,
            digest: &digest,
            cache_hits: hits as u32,
            embed_ms: share,
            cache_ms: cache_ms * n as f64 / total_chips,
        };
        outcomes.push((publish(ctx, work, &out).await, hits as u32));
    }
    outcomes
}

/// What one work's embedding batch carries.
struct Embedded<'a> {
    values: &'a [f32],
    dim: usize,
    digest: &'a str,
    cache_hits: u32,
    embed_ms: f64,
    cache_ms: f64,
}

async fn publish(ctx: &Context, work: &Work, e: &Embedded<'_>) -> Result<(), Failure> {
    let b = &work.batch;
    let out = EmbeddingBatch {
        version: PROTOCOL_VERSION,
        run: b.run.clone(),
        seq: b.seq,
        meta: b.meta.clone(),
        grid: b.grid,
        params: b.params.clone(),
        batch: b.batch,
        batches: b.batches,
        first_chip: b.first_chip,
        n: b.n,
        total_chips: b.total_chips,
        dim: e.dim as u32,
        model: b.model.clone(),
        model_digest: e.digest.to_string(),
        values: f32s_to_le_bytes(e.values),
        cache_hits: e.cache_hits,
        embed_ms: e.embed_ms,
        worker: ctx.instance.clone(),
        cache_ms: e.cache_ms,
    };
    let payload = encode_message(&out, &ctx.limits)
        .map_err(|err| Failure::Retry(format!("embedding batch of frame {}: {err}", b.seq)))?;
    let id = keys::embedded_msg_id(&b.run, b.seq, b.batch);
    // The deliveries are kept alive by `keep_alive` meanwhile.
    let subject = subjects::embedded_subject(&b.run);
    let span = work_span(work);
    let headers = crate::spans::traced(work.headers.clone(), &span);
    publish_downstream(ctx, &subject, Bytes::from(payload), &headers, &id, &[])
        .instrument(span)
        .await
}
