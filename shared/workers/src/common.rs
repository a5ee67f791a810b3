//! What every service loop shares: pulling deliveries until shutdown, settling each one
//! (ack, reject, retry or dead-letter), and the status heartbeat.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use tessera_bus::{BusError, Deliveries, Delivery, MSG_ID_HEADER};
use tessera_protocol::{
    PROTOCOL_VERSION, Reject, Service, ServiceStatus, encode_message, keys, streams::ConsumerSpec,
    subjects,
};

use crate::{Context, WorkerError};

/// The target of the one `info` line each service writes per frame (the embedder: per model
/// call), with its run, frame and milliseconds. `telemetry.log = "info,tessera::frames=warn"`
/// turns them off and keeps the rest.
pub(crate) const FRAMES: &str = "tessera::frames";

/// Why a message could not be handled.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The message itself is bad: answer with a reject, never retry.
    Reject(String),
    /// Something outside the message failed: retry later, dead-letter after `max_deliver`.
    Retry(String),
}

impl From<BusError> for Failure {
    fn from(e: BusError) -> Self {
        Failure::Retry(e.to_string())
    }
}

/// The reference a message carries to an object just stored.
pub(crate) fn object_ref(stored: tessera_bus::ObjectInfo) -> tessera_protocol::ObjectRef {
    tessera_protocol::ObjectRef {
        bucket: stored.bucket,
        name: stored.name,
        size: stored.size,
        digest: Some(stored.digest).filter(|d| !d.is_empty()),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Opens this service's pull stream on `spec`'s durable consumer, asking for `batch`
/// messages per pull, and starts its status heartbeat.
pub(crate) async fn pull(
    ctx: &Context,
    service: Service,
    spec: &ConsumerSpec,
    batch: usize,
) -> Result<Deliveries, WorkerError> {
    let options = tessera_bus::PullOptions {
        batch: batch.max(1),
        ..tessera_bus::PullOptions::default()
    };
    let deliveries = ctx
        .bus
        .consume_with(spec.stream, spec.durable, options)
        .await?;
    spawn_status(ctx, service, spec.clone());
    ctx.metrics.gauge("ready").set(1);
    tracing::info!(service = service.as_str(), instance = %ctx.instance, "running");
    Ok(deliveries)
}

/// The next delivery, or `None` once shutdown is asked for. Transient pull errors are logged
/// and waited out; a lost consumer is an error.
pub(crate) async fn next_delivery(
    ctx: &Context,
    deliveries: &mut Deliveries,
) -> Result<Option<Delivery>, WorkerError> {
    loop {
        let next = tokio::select! {
            _ = ctx.shutdown.cancelled() => {
                hand_back_buffered(deliveries).await;
                return Ok(None);
            }
            next = deliveries.next() => next,
        };
        match next {
            Some(Ok(d)) => return Ok(Some(d)),
            Some(Err(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "pulling messages failed; retrying");
            }
            Some(Err(e)) => return Err(e.into()),
            None => {
                return Err(WorkerError::Bus(BusError::NotFound(
                    "the consumer's message stream ended (consumer deleted?)".into(),
                )));
            }
        }
    }
}

/// Naks (without delay) the messages already pulled into this process but not handed out,
/// so that on shutdown they go to another copy at once instead of after the ack wait.
pub(crate) async fn hand_back_buffered(deliveries: &mut Deliveries) {
    use futures::FutureExt;
    let mut handed = 0;
    while let Some(Some(Ok(d))) = deliveries.next().now_or_never() {
        let _ = d.nak(None).await;
        handed += 1;
    }
    if handed > 0 {
        tracing::info!(messages = handed, "handed buffered messages back");
    }
}

/// Acknowledges, rejects, retries or dead-letters `d` according to `outcome`. Never fails:
/// a settle that cannot reach the server is logged, and the message comes back after the
/// consumer's ack wait.
pub(crate) async fn settle(
    ctx: &Context,
    service: Service,
    consumer: &ConsumerSpec,
    d: &Delivery,
    outcome: Result<(), Failure>,
) {
    let result = match outcome {
        Ok(()) => {
            ctx.metrics.counter("processed").inc();
            d.ack().await
        }
        Err(Failure::Reject(reason)) => reject(ctx, service, d, &reason).await,
        Err(Failure::Retry(reason)) if d.delivered >= consumer.max_deliver as u64 => {
            ctx.metrics.counter("dead_lettered").inc();
            match subjects::dlq_subject(consumer.stream) {
                Ok(dlq) => ctx.bus.dead_letter(d, &dlq, &reason).await.map(|_| ()),
                Err(e) => Err(BusError::Invalid(e.to_string())),
            }
        }
        Err(Failure::Retry(reason)) => {
            ctx.metrics.counter("retried").inc();
            let delay = Duration::from_millis(500 * (1 << d.delivered.min(5)));
            tracing::warn!(
                subject = %d.subject, delivery = d.delivered, ?delay, %reason,
                "will retry"
            );
            d.nak(Some(delay)).await
        }
    };
    if let Err(e) = result {
        tracing::warn!(subject = %d.subject, error = %e, "could not settle a message; it will come back");
    }
}

/// Publishes `payload` to the next service's queue. When that queue is full
/// ([`BusError::Full`]), keeps `holding` (the messages this work came from) alive with
/// progress acks and tries again every `queues.full_retry_ms` until there is room or the
/// service shuts down: a full queue slows the pipeline down, it never drops or dead-letters
/// work. While waiting, the status shows `waiting_for_room` and counts `full_waits`.
pub(crate) async fn publish_downstream(
    ctx: &Context,
    subject: &str,
    payload: Bytes,
    headers: &[(String, String)],
    msg_id: &str,
    holding: &[Delivery],
) -> Result<(), Failure> {
    let pause = Duration::from_millis(ctx.settings.queues.full_retry_ms.max(1));
    let waiting = ctx.metrics.gauge("waiting_for_room");
    let mut since: Option<std::time::Instant> = None;
    let outcome = loop {
        match ctx
            .bus
            .publish(subject, payload.clone(), headers, Some(msg_id))
            .await
        {
            Err(BusError::Full { op, detail }) => {
                let first = since.is_none();
                let started = *since.get_or_insert_with(std::time::Instant::now);
                if first {
                    waiting.add(1);
                    tracing::warn!(%subject, %detail, "the next queue is full; waiting for room");
                }
                ctx.metrics.counter("full_waits").inc();
                for d in holding {
                    let _ = d.in_progress().await;
                }
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => break Err(Failure::Retry(format!(
                        "{op}: the queue was still full after {:.0} s when the service shut \
                         down ({detail})", started.elapsed().as_secs_f64()
                    ))),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            other => break other.map(|_| ()).map_err(Failure::from),
        }
    };
    if let Some(started) = since {
        waiting.add(-1);
        tracing::info!(%subject, waited_s = started.elapsed().as_secs_f64(), "room in the next queue again");
    }
    outcome
}

/// Publishes a [`Reject`] for `d` on `tessera.rejects.<service>` and terminates `d`.
pub(crate) async fn reject(
    ctx: &Context,
    service: Service,
    d: &Delivery,
    reason: &str,
) -> Result<(), BusError> {
    ctx.metrics.counter("rejected").inc();
    let msg_id = d.header(MSG_ID_HEADER).map(str::to_string);
    tracing::warn!(subject = %d.subject, msg_id = ?msg_id, %reason, "message rejected");
    let reject = Reject {
        version: PROTOCOL_VERSION,
        subject: d.subject.clone(),
        service: service.as_str().to_string(),
        reason: truncate(reason, 4000),
        msg_id: msg_id.clone(),
        payload_bytes: d.payload.len() as u64,
        at_ms: now_ms(),
    };
    let id = msg_id.unwrap_or_else(|| format!("{}:{}", d.stream, d.stream_seq));
    publish_reject(ctx, service, &reject, &id).await?;
    d.term().await
}

/// Publishes a reject that is not about one delivery (e.g. a frame given up on).
pub(crate) async fn publish_reject(
    ctx: &Context,
    service: Service,
    reject: &Reject,
    id: &str,
) -> Result<(), BusError> {
    let payload = encode_message(reject, &ctx.limits)
        .map_err(|e| BusError::Invalid(format!("encoding a reject: {e}")))?;
    let subject = subjects::rejects_subject(service);
    let msg_id = keys::reject_msg_id(service, &reject.subject, id);
    ctx.bus
        .publish(&subject, Bytes::from(payload), &[], Some(&msg_id))
        .await
        .map(|_| ())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Publishes this copy's [`ServiceStatus`] on `tessera.status.<service>` every
/// `telemetry.status_interval_ms` until shutdown.
fn spawn_status(ctx: &Context, service: Service, consumer: ConsumerSpec) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let every = Duration::from_millis(ctx.settings.telemetry.status_interval_ms.max(100));
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = ctx.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let lag = ctx
                .bus
                .consumer_lag(consumer.stream, consumer.durable)
                .await
                .unwrap_or_default();
            ctx.metrics.gauge("queue_lag").set(lag.num_pending as i64);
            ctx.metrics
                .gauge("queue_ack_pending")
                .set(lag.num_ack_pending as i64);
            let status = ServiceStatus {
                version: PROTOCOL_VERSION,
                service: service.as_str().to_string(),
                instance: ctx.instance.clone(),
                pending: lag.num_ack_pending,
                lag: lag.num_pending,
                processed: ctx.metrics.counter("processed").get(),
                rejected: ctx.metrics.counter("rejected").get(),
                at_ms: now_ms(),
                detail: ctx.metrics.snapshot(),
            };
            if let Ok(bytes) = encode_message(&status, &ctx.limits) {
                let subject = subjects::status_subject(service);
                if let Err(e) = ctx.bus.publish_core(&subject, Bytes::from(bytes)).await {
                    tracing::debug!(error = %e, "status not published");
                }
            }
        }
    });
}

/// Sends progress acks for `deliveries` every `every` until the returned guard is dropped.
pub(crate) fn keep_alive(deliveries: Vec<Delivery>, every: Duration) -> KeepAlive {
    let token = tokio_util::sync::CancellationToken::new();
    let child = token.clone();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = child.cancelled() => return deliveries,
                _ = tick.tick() => {
                    for d in &deliveries {
                        let _ = d.in_progress().await;
                    }
                }
            }
        }
    });
    KeepAlive { token, handle }
}

/// Stops the progress acks of [`keep_alive`] and gives the deliveries back.
pub(crate) struct KeepAlive {
    token: tokio_util::sync::CancellationToken,
    handle: tokio::task::JoinHandle<Vec<Delivery>>,
}

impl KeepAlive {
    /// Stops the progress acks and returns the deliveries.
    pub(crate) async fn stop(self) -> Vec<Delivery> {
        self.token.cancel();
        self.handle.await.unwrap_or_default()
    }
}

/// The headers a message passes on to what it produces: the instrument's publish time (for
/// end-to-end latency) and the trace context.
pub(crate) fn forward_headers(d: &Delivery) -> Vec<(String, String)> {
    [
        tessera_protocol::keys::PUBLISHED_AT_HEADER,
        tessera_bus::TRACEPARENT_HEADER,
    ]
    .iter()
    .filter_map(|name| d.header(name).map(|v| (name.to_string(), v.to_string())))
    .collect()
}
