//! Pull consumption from a durable consumer: [`Bus::consume`] yields [`Delivery`]s, each acked,
//! nak'ed, extended or terminated explicitly; [`Bus::dead_letter`] moves a poison message
//! aside with its reason; [`Bus::consumer_lag`] and [`Bus::stream_state`] feed the metrics.
//!
//! The stream under [`Bus::consume`] is async-nats's `messages()` pull stream: it keeps a pull
//! request open with idle heartbeats and re-pulls after a reconnect. On top of that, when a
//! heartbeat is missed or a pull fails (pull requests are lost when the server goes away),
//! this module drops the pull stream and opens a new one, retrying with a backoff while the
//! server is away. Messages that were buffered in the dropped stream are redelivered after
//! the consumer's ack wait, as for a crashed worker. Every redelivered message is logged at
//! `info` with its delivery count, so that a recovery (a crashed worker's messages coming
//! back) shows in the logs.

use std::pin::Pin;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::MessagesErrorKind;
use async_nats::jetstream::message::{AckKind, Acker};
use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::publish::{Headers, PublishAck, header, headers_of};
use crate::{Bus, BusError};

/// Header on a dead-lettered message: why it was given up on.
pub const DLQ_REASON_HEADER: &str = "Tessera-Dlq-Reason";
/// Header on a dead-lettered message: the subject it was first published to.
pub const DLQ_SUBJECT_HEADER: &str = "Tessera-Dlq-Subject";
/// Header on a dead-lettered message: the stream it came from.
pub const DLQ_STREAM_HEADER: &str = "Tessera-Dlq-Stream";
/// Header on a dead-lettered message: its sequence number in that stream.
pub const DLQ_SEQ_HEADER: &str = "Tessera-Dlq-Seq";
/// Header on a dead-lettered message: how many times it had been delivered.
pub const DLQ_DELIVERIES_HEADER: &str = "Tessera-Dlq-Deliveries";
/// Longest reason kept in [`DLQ_REASON_HEADER`], in bytes.
const MAX_REASON_BYTES: usize = 1024;

/// How a pull stream asks for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOptions {
    /// Messages asked for per pull request. Messages buffered in this process count against
    /// the consumer's ack wait and keep other workers from them, so keep it near the number
    /// a worker handles at once. Default: 16.
    pub batch: usize,
    /// How long a pull request stays open on the server. Default: 30 s.
    pub expires: Duration,
    /// Idle heartbeat the server sends while a pull request is open; two missed ones make
    /// the stream re-pull. At most half of `expires`. Default: 5 s.
    pub heartbeat: Duration,
}

impl Default for PullOptions {
    fn default() -> Self {
        Self {
            batch: 16,
            expires: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// The stream returned by [`Bus::consume`]. It does not end by itself: after a transient error
/// ([`BusError::is_transient`]) it re-pulls and goes on, so the caller logs the error and keeps
/// polling; after another error (the consumer was deleted) it ends.
pub type Deliveries = Pin<Box<dyn Stream<Item = Result<Delivery, BusError>> + Send>>;

/// One delivery of a stream message to a durable consumer. Nothing is acknowledged until one
/// of [`Delivery::ack`], [`Delivery::nak`] or [`Delivery::term`] is called; without any, the
/// message comes back after the consumer's ack wait.
pub struct Delivery {
    /// The subject it was published to.
    pub subject: String,
    /// Its body.
    pub payload: Bytes,
    /// Its headers, `Nats-Msg-Id` and `traceparent` included.
    pub headers: Headers,
    /// Which delivery this is: 1 the first time, 2 after one redelivery, and so on.
    pub delivered: u64,
    /// The stream it is in.
    pub stream: String,
    /// Its sequence number in that stream.
    pub stream_seq: u64,
    /// Messages left for the consumer after this one, when it was delivered.
    pub pending: u64,
    acker: Acker,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("payload_len", &self.payload.len())
            .field("headers", &self.headers)
            .field("delivered", &self.delivered)
            .field("stream", &self.stream)
            .field("stream_seq", &self.stream_seq)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// The last value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Acknowledges success and waits until the server has recorded it, so an `Ok` means the
    /// message will not come back.
    pub async fn ack(&self) -> Result<(), BusError> {
        self.acker
            .double_ack()
            .await
            .map_err(|e| BusError::classify(self.op("acking"), &*e))
    }

    /// Asks for redelivery, after `delay` if given (else at once). Counts as a delivery
    /// towards the consumer's max_deliver.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), BusError> {
        self.send(AckKind::Nak(delay), "nak'ing").await
    }

    /// Says the work is still going on: the ack wait starts again. Call it well within the
    /// ack wait during long batches.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.send(AckKind::Progress, "extending").await
    }

    /// Gives up on the message: it is never delivered again. Used after dead-lettering it.
    pub async fn term(&self) -> Result<(), BusError> {
        self.send(AckKind::Term, "terminating").await
    }

    async fn send(&self, kind: AckKind, what: &str) -> Result<(), BusError> {
        self.acker
            .ack_with(kind)
            .await
            .map_err(|e| BusError::classify(self.op(what), &*e))
    }

    fn op(&self, what: &str) -> String {
        format!(
            "{what} message {} of stream {}",
            self.stream_seq, self.stream
        )
    }
}

/// What a consumer has still to do, for lag metrics and autoscaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsumerLag {
    /// Messages in the stream not yet delivered to the consumer.
    pub num_pending: u64,
    /// Messages delivered but not yet acknowledged.
    pub num_ack_pending: u64,
    /// Messages delivered more than once and not yet acknowledged.
    pub num_redelivered: u64,
    /// Pull requests waiting on the server (idle workers).
    pub num_waiting: u64,
}

/// How full a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Sequence number of the first message stored.
    pub first_seq: u64,
    /// Sequence number of the last message stored.
    pub last_seq: u64,
    /// Consumers on the stream.
    pub consumers: usize,
}

impl Bus {
    /// Pulls from durable consumer `durable` of `stream` with [`PullOptions::default`]. Every
    /// copy of a service calling this with the same names shares the work: each message goes
    /// to one of them.
    pub async fn consume(&self, stream: &str, durable: &str) -> Result<Deliveries, BusError> {
        self.consume_with(stream, durable, PullOptions::default())
            .await
    }

    /// [`Bus::consume`] with explicit pull options. Fails at once if the consumer does not
    /// exist; later failures come out of the stream.
    pub async fn consume_with(
        &self,
        stream: &str,
        durable: &str,
        options: PullOptions,
    ) -> Result<Deliveries, BusError> {
        let state = PullState {
            refusals: self.refusals.subscribe(),
            bus: self.clone(),
            stream: stream.to_string(),
            durable: durable.to_string(),
            options,
            failures: 0,
            done: false,
            inner: None,
            max_deliver: 0,
        };
        let (inner, max_deliver) = state.open().await?;
        let state = PullState {
            inner: Some(inner),
            max_deliver,
            ..state
        };
        Ok(Box::pin(futures::stream::unfold(state, PullState::step)))
    }

    /// Publishes the delivery's payload and headers to `dlq_subject` (a subject a stream
    /// captures), with headers saying where it came from and why (`Tessera-Dlq-Reason`,
    /// `-Subject`, `-Stream`, `-Seq`, `-Deliveries`), then terminates the delivery so it is
    /// never redelivered. Doing it twice for the same message stores it once (its
    /// `Nats-Msg-Id` is derived from stream and sequence).
    pub async fn dead_letter(
        &self,
        delivery: &Delivery,
        dlq_subject: &str,
        reason: &str,
    ) -> Result<PublishAck, BusError> {
        // Nats-* headers of the original (its msg id, expectations) must not steer this one.
        let mut headers: Headers = delivery
            .headers
            .iter()
            .filter(|(n, _)| !n.to_ascii_lowercase().starts_with("nats-"))
            .cloned()
            .collect();
        headers.extend([
            (DLQ_REASON_HEADER.into(), clean_reason(reason)),
            (DLQ_SUBJECT_HEADER.into(), delivery.subject.clone()),
            (DLQ_STREAM_HEADER.into(), delivery.stream.clone()),
            (DLQ_SEQ_HEADER.into(), delivery.stream_seq.to_string()),
            (DLQ_DELIVERIES_HEADER.into(), delivery.delivered.to_string()),
        ]);
        let id = format!("dlq:{}:{}", delivery.stream, delivery.stream_seq);
        let ack = self
            .publish(dlq_subject, delivery.payload.clone(), &headers, Some(&id))
            .await?;
        delivery.term().await?;
        tracing::warn!(
            stream = %delivery.stream,
            seq = delivery.stream_seq,
            subject = %delivery.subject,
            deliveries = delivery.delivered,
            dlq = %dlq_subject,
            reason = %clean_reason(reason),
            "message dead-lettered"
        );
        Ok(ack)
    }

    /// The consumer's backlog: pending, unacknowledged and redelivered counts.
    pub async fn consumer_lag(&self, stream: &str, durable: &str) -> Result<ConsumerLag, BusError> {
        let op = || format!("reading consumer {stream}/{durable}");
        let s = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        let info = s
            .consumer_info(durable)
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        Ok(ConsumerLag {
            num_pending: info.num_pending,
            num_ack_pending: info.num_ack_pending as u64,
            num_redelivered: info.num_redelivered as u64,
            num_waiting: info.num_waiting as u64,
        })
    }

    /// The stream's message and byte counts and sequence range.
    pub async fn stream_state(&self, stream: &str) -> Result<StreamState, BusError> {
        let mut s = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| BusError::classify(format!("reading stream {stream}"), &e))?;
        let info = s
            .info()
            .await
            .map_err(|e| BusError::classify(format!("reading stream {stream}"), &e))?;
        Ok(StreamState {
            messages: info.state.messages,
            bytes: info.state.bytes,
            first_seq: info.state.first_sequence,
            last_seq: info.state.last_sequence,
            consumers: info.state.consumer_count,
        })
    }
}

/// The state behind a [`Deliveries`] stream.
struct PullState {
    bus: Bus,
    stream: String,
    durable: String,
    options: PullOptions,
    /// Consecutive failures to (re)open, for the backoff.
    failures: u32,
    done: bool,
    inner: Option<async_nats::jetstream::consumer::pull::Stream>,
    /// The server's permission refusals: a pull this user may not make is refused with an
    /// asynchronous `-ERR` and would otherwise look like missed heartbeats forever.
    refusals: tokio::sync::broadcast::Receiver<String>,
    /// The consumer's `max_deliver` (-1 or 0: no limit), for the redelivery log lines.
    max_deliver: i64,
}

impl PullState {
    /// Opens a pull stream on the consumer; with its `max_deliver`.
    async fn open(&self) -> Result<(async_nats::jetstream::consumer::pull::Stream, i64), BusError> {
        let what = format!("consumer {}/{}", self.stream, self.durable);
        let consumer: PullConsumer = self
            .bus
            .js
            .get_consumer_from_stream(&self.durable, &self.stream)
            .await
            .map_err(
                |e| match BusError::classify(format!("opening {what}"), &e) {
                    BusError::Server { .. } | BusError::NotFound(_) => BusError::NotFound(format!(
                        "{what} does not exist ({}); ensure_topology creates it",
                        crate::error::chain(&e)
                    )),
                    other => other,
                },
            )?;
        let heartbeat = self.options.heartbeat.min(self.options.expires / 2);
        let max_deliver = consumer.cached_info().config.max_deliver;
        consumer
            .stream()
            .max_messages_per_batch(self.options.batch.max(1))
            .expires(self.options.expires)
            .heartbeat(heartbeat)
            .messages()
            .await
            .map(|s| (s, max_deliver))
            .map_err(|e| BusError::classify(format!("pulling from {what}"), &e))
    }

    async fn step(mut self) -> Option<(Result<Delivery, BusError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            let Some(inner) = self.inner.as_mut() else {
                match self.open().await {
                    Ok((s, max_deliver)) => {
                        tracing::info!(stream = %self.stream, consumer = %self.durable, "pulling again");
                        self.inner = Some(s);
                        self.max_deliver = max_deliver;
                        continue;
                    }
                    Err(e) => {
                        self.done = !e.is_transient();
                        self.failures += 1;
                        if !self.done {
                            tokio::time::sleep(backoff(self.failures)).await;
                        }
                        return Some((Err(e), self));
                    }
                }
            };
            let pull_subject =
                format!("$JS.API.CONSUMER.MSG.NEXT.{}.{}", self.stream, self.durable);
            let next = tokio::select! {
                next = inner.next() => Ok(next),
                detail = crate::connect::refused(&mut self.refusals, "publish", &pull_subject) => {
                    Err(detail)
                }
            };
            let next = match next {
                Ok(next) => next,
                Err(detail) => {
                    self.done = true;
                    let op = format!("pulling from consumer {}/{}", self.stream, self.durable);
                    return Some((Err(BusError::Denied { op, detail }), self));
                }
            };
            match next {
                Some(Ok(message)) => {
                    self.failures = 0;
                    let d = delivery(message);
                    if let Ok(d) = &d {
                        self.log_redelivery(d);
                    }
                    return Some((d, self));
                }
                Some(Err(e)) => {
                    let kind = e.kind();
                    let op = format!("pulling from consumer {}/{}", self.stream, self.durable);
                    self.inner = None;
                    let err = match kind {
                        MessagesErrorKind::ConsumerDeleted
                        | MessagesErrorKind::PushBasedConsumer
                        | MessagesErrorKind::RequestLimitExceeded => {
                            self.done = true;
                            BusError::Topology(format!("{op}: {}", crate::error::chain(&e)))
                        }
                        // Missed heartbeats, failed pulls, no responders: the server is away
                        // or restarting. Re-pull.
                        _ => {
                            tracing::warn!(error = %e, "{op}: re-pulling");
                            BusError::Unavailable {
                                op,
                                detail: crate::error::chain(&e),
                            }
                        }
                    };
                    return Some((Err(err), self));
                }
                None => {
                    // The client was closed, or the pull task ended: open a fresh one.
                    self.inner = None;
                    self.failures += 1;
                    tokio::time::sleep(backoff(self.failures)).await;
                }
            }
        }
    }
}

impl PullState {
    /// An `info` line for a message delivered more than once: its holder before crashed, lost
    /// its connection, let the ack wait run out or asked for a retry.
    fn log_redelivery(&self, d: &Delivery) {
        if d.delivered < 2 {
            return;
        }
        let most = match self.max_deliver {
            n if n > 0 => format!(" of at most {n}"),
            _ => String::new(),
        };
        tracing::info!(
            stream = %d.stream,
            consumer = %self.durable,
            seq = d.stream_seq,
            subject = %d.subject,
            msg_id = d.header(crate::MSG_ID_HEADER).unwrap_or(""),
            delivery = d.delivered,
            "message delivered again (delivery {}{most}): the copy that had it stopped, \
             lost its connection, did not finish within the ack wait or asked for a retry",
            d.delivered
        );
    }
}

/// 100 ms doubling to 2 s.
fn backoff(failures: u32) -> Duration {
    (Duration::from_millis(100) * 2u32.pow(failures.saturating_sub(1).min(5)))
        .min(Duration::from_secs(2))
}

fn delivery(message: async_nats::jetstream::Message) -> Result<Delivery, BusError> {
    let info = message.info().map_err(|e| BusError::Server {
        op: "reading a delivery's metadata".into(),
        detail: e.to_string(),
    })?;
    let (stream, stream_seq, delivered, pending) = (
        info.stream.to_string(),
        info.stream_sequence,
        u64::try_from(info.delivered).unwrap_or(0),
        info.pending,
    );
    let (message, acker) = message.split();
    Ok(Delivery {
        subject: message.subject.to_string(),
        payload: message.payload,
        headers: headers_of(message.headers.as_ref()),
        delivered,
        stream,
        stream_seq,
        pending,
        acker,
    })
}

/// One line, at most [`MAX_REASON_BYTES`].
fn clean_reason(reason: &str) -> String {
    let mut s: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_bounded_line() {
        assert_eq!(clean_reason("bad\r\nframe"), "bad  frame");
        let long = "é".repeat(1000);
        let c = clean_reason(&long);
        assert!(c.len() <= MAX_REASON_BYTES && c.is_char_boundary(c.len()));
    }

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(30), Duration::from_secs(2));
    }
}
