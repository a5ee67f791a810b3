//! [`Bus::replay`]: what a stream holds for a subject filter, oldest first, read through an
//! ephemeral ordered consumer. Dashboards use it to catch up on a run before following it
//! live; nothing is acknowledged and no durable state is left behind.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use bytes::Bytes;
use futures::StreamExt;

use crate::publish::{Headers, headers_of};
use crate::{Bus, BusError};

/// A message read back from a stream.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// The subject it was published to.
    pub subject: String,
    /// Its sequence number in the stream.
    pub stream_seq: u64,
    /// Its body.
    pub payload: Bytes,
    /// Its headers.
    pub headers: Headers,
}

/// How long replay waits for the next message before giving up on a stalled server.
const NEXT_TIMEOUT: Duration = Duration::from_secs(10);

impl Bus {
    /// The messages of `stream` whose subjects match `filter` (wildcards allowed), oldest
    /// first, at most `max` of them (the oldest `max`). Returns at once with an empty list
    /// when none match. Messages published during the call may or may not be included; a
    /// caller that follows live as well subscribes first and de-duplicates.
    pub async fn replay(
        &self,
        stream: &str,
        filter: &str,
        max: usize,
    ) -> Result<Vec<StoredMessage>, BusError> {
        self.replay_from(stream, filter, 0, max).await
    }

    /// Like [`Bus::replay`], from stream sequence `first_seq` on (0 or 1: from the start).
    /// With [`Bus::stream_state`]'s `last_seq`, this reads a stream's newest messages
    /// without reading it all.
    pub async fn replay_from(
        &self,
        stream: &str,
        filter: &str,
        first_seq: u64,
        max: usize,
    ) -> Result<Vec<StoredMessage>, BusError> {
        let op = || format!("replaying {filter} from stream {stream}");
        let deliver_policy = if first_seq <= 1 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: first_seq,
            }
        };
        let s = self
            .js
            .get_stream(stream)
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        let mut consumer = s
            .create_consumer(pull::OrderedConfig {
                filter_subject: filter.to_string(),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        let pending = consumer
            .info()
            .await
            .map_err(|e| BusError::classify(op(), &e))?
            .num_pending;
        let mut out = Vec::with_capacity((pending as usize).min(max));
        if pending == 0 || max == 0 {
            return Ok(out);
        }
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| BusError::classify(op(), &e))?;
        loop {
            let next = tokio::time::timeout(NEXT_TIMEOUT, messages.next())
                .await
                .map_err(|_| BusError::Timeout { op: op() })?;
            let Some(message) = next else { break };
            let message = message.map_err(|e| BusError::classify(op(), &e))?;
            let info = message
                .info()
                .map_err(|e| BusError::classify(op(), e.as_ref()))?;
            let left = info.pending;
            let stream_seq = info.stream_sequence;
            out.push(StoredMessage {
                subject: message.subject.to_string(),
                stream_seq,
                payload: message.payload.clone(),
                headers: headers_of(message.headers.as_ref()),
            });
            if left == 0 || out.len() >= max {
                break;
            }
        }
        Ok(out)
    }
}
