//! Publishing: JetStream publishes acknowledged by the stream (with `Nats-Msg-Id`
//! de-duplication), core NATS publishes and subscriptions for status subjects, and header
//! plumbing (W3C `traceparent`).

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::{Bus, BusError};

/// The header JetStream de-duplicates on, within the stream's duplicate window.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// The W3C trace-context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// How long [`Bus::subscribe`] waits, after the server has the subscription, for a refusal.
const SUBSCRIBE_REFUSAL_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Message headers as `(name, value)` pairs, in order; a name may repeat.
pub type Headers = Vec<(String, String)>;

/// The stream's acknowledgement of a JetStream publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// The stream that stored the message.
    pub stream: String,
    /// Its sequence number in that stream (the first copy's, for a duplicate).
    pub seq: u64,
    /// Whether the stream had already stored a message with the same `Nats-Msg-Id` within
    /// its duplicate window, and so dropped this one.
    pub duplicate: bool,
}

/// A message received on a core NATS subscription.
#[derive(Debug, Clone)]
pub struct CoreMessage {
    /// The subject it was published to.
    pub subject: String,
    /// Its body.
    pub payload: Bytes,
    /// Its headers.
    pub headers: Headers,
    /// Where the sender waits for an answer, for a request.
    pub reply: Option<String>,
}

impl Bus {
    /// Publishes to a subject captured by a stream and waits for the stream's ack. With
    /// `msg_id`, sets `Nats-Msg-Id`, so that a second publish with the same id within the
    /// stream's duplicate window is dropped (the ack then says `duplicate`).
    ///
    /// Errors: [`BusError::TooLarge`] over the size limits; [`BusError::Unavailable`] (transient)
    /// when no stream answers, which is also what a restarting server looks like;
    /// [`BusError::Timeout`] without an ack in time (the message may or may not be stored:
    /// publish again with the same `msg_id`); [`BusError::Denied`] at once when the server's
    /// permissions do not let this user publish to `subject`.
    pub async fn publish(
        &self,
        subject: &str,
        payload: Bytes,
        headers: &[(String, String)],
        msg_id: Option<&str>,
    ) -> Result<PublishAck, BusError> {
        let op = || format!("publishing to {subject}");
        let size = payload.len();
        let mut map = header_map(headers)?;
        if let Some(id) = msg_id {
            map.insert(MSG_ID_HEADER, parse_value(MSG_ID_HEADER, id)?);
        }
        let message = PublishMessage::build().payload(payload).headers(map);
        let map_err = |e: async_nats::jetstream::context::PublishError| match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => BusError::TooLarge {
                subject: subject.to_string(),
                size,
            },
            PublishErrorKind::TimedOut => BusError::Timeout { op: op() },
            PublishErrorKind::StreamNotFound => BusError::Unavailable {
                op: op(),
                detail: "no stream answered: no stream captures this subject, or JetStream is \
                         (re)starting"
                    .into(),
            },
            PublishErrorKind::BrokenPipe | PublishErrorKind::MaxAckPending => {
                BusError::Unavailable {
                    op: op(),
                    detail: crate::error::chain(&e),
                }
            }
            _ if e.to_string().contains("maximum") && e.to_string().contains("size") => {
                BusError::TooLarge {
                    subject: subject.to_string(),
                    size,
                }
            }
            _ => BusError::classify(op(), &e),
        };
        // A subject this user may not publish to gets no ack, only an asynchronous `-ERR`
        // from the server: wait for either, so that a refusal fails at once as `Denied`
        // instead of as a timeout.
        let mut refusals = self.refusals.subscribe();
        let send = async {
            self.js
                .send_publish(subject.to_string(), message)
                .await
                .map_err(map_err)?
                .await
                .map_err(map_err)
        };
        let ack = tokio::select! {
            ack = send => ack?,
            detail = crate::connect::refused(&mut refusals, "publish", subject) => {
                return Err(BusError::Denied { op: op(), detail });
            }
        };
        Ok(PublishAck {
            stream: ack.stream,
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Publishes on core NATS: no stream, no ack, delivered only to current subscribers.
    /// For status and progress subjects that may be lost.
    pub async fn publish_core(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        self.client
            .publish(subject.to_string(), payload)
            .await
            .map_err(|e| BusError::classify(format!("publishing to {subject}"), &e))
    }

    /// Sends a request on core NATS and waits up to `timeout` for its one answer. Fails with
    /// [`BusError::NotFound`] when nobody listens on `subject`, and with
    /// [`BusError::Timeout`] when the answer does not come in time.
    pub async fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: std::time::Duration,
    ) -> Result<Bytes, BusError> {
        let op = || format!("request on {subject}");
        let request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        match self.client.send_request(subject.to_string(), request).await {
            Ok(m) => Ok(m.payload),
            Err(e) => match e.kind() {
                async_nats::RequestErrorKind::NoResponders => Err(BusError::NotFound(format!(
                    "nobody answers {subject}: is its service running?"
                ))),
                async_nats::RequestErrorKind::TimedOut => Err(BusError::Timeout { op: op() }),
                _ => Err(BusError::classify(op(), &e)),
            },
        }
    }

    /// Subscribes on core NATS to `subject` (wildcards allowed). Messages published to
    /// JetStream subjects reach core subscribers too. The stream ends when the connection is
    /// closed; the subscription survives reconnects. Fails with [`BusError::Denied`] when the
    /// server's permissions do not let this user subscribe to `subject` (which costs every
    /// subscription a short wait for the server's refusal).
    pub async fn subscribe(
        &self,
        subject: &str,
    ) -> Result<impl Stream<Item = CoreMessage> + Send + Unpin + 'static, BusError> {
        let mut refusals = self.refusals.subscribe();
        let sub = self
            .client
            .subscribe(subject.to_string())
            .await
            .map_err(|e| BusError::classify(format!("subscribing to {subject}"), &e))?;
        // Make sure the server has the interest before the caller publishes.
        self.flush().await?;
        // The server answers a forbidden subscription with an `-ERR` before the flush's PONG;
        // the client hands it to the event callback a moment later.
        if let Ok(detail) = tokio::time::timeout(
            SUBSCRIBE_REFUSAL_WAIT,
            crate::connect::refused(&mut refusals, "subscription", subject),
        )
        .await
        {
            return Err(BusError::Denied {
                op: format!("subscribing to {subject}"),
                detail,
            });
        }
        Ok(sub.map(|m| CoreMessage {
            subject: m.subject.to_string(),
            payload: m.payload,
            headers: headers_of(m.headers.as_ref()),
            reply: m.reply.map(|r| r.to_string()),
        }))
    }
}

/// Sets `traceparent` to `value`, replacing any present.
pub fn inject_traceparent(headers: &mut Headers, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(TRACEPARENT_HEADER));
    headers.push((TRACEPARENT_HEADER.to_string(), value.to_string()));
}

/// The `traceparent` value, if present.
pub fn extract_traceparent(headers: &[(String, String)]) -> Option<&str> {
    header(headers, TRACEPARENT_HEADER)
}

/// The last value of header `name` (compared without regard to case).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Converts header pairs, refusing names and values NATS cannot carry.
pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, BusError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n: async_nats::HeaderName = name
            .parse()
            .map_err(|_| BusError::Invalid(format!("header name {name:?} is not valid in NATS")))?;
        map.append(n, parse_value(name, value)?);
    }
    Ok(map)
}

fn parse_value(name: &str, value: &str) -> Result<async_nats::HeaderValue, BusError> {
    value.parse().map_err(|_| {
        BusError::Invalid(format!(
            "header {name}: value {value:?} cannot contain a line break"
        ))
    })
}

/// Header pairs from a NATS header map (values of a repeated name in order).
pub(crate) fn headers_of(map: Option<&HeaderMap>) -> Headers {
    let mut out = Headers::new();
    for (name, values) in map.into_iter().flat_map(HeaderMap::iter) {
        for v in values {
            out.push((name.to_string(), v.as_str().to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip() {
        let mut h: Headers = vec![
            ("TraceParent".into(), "old".into()),
            ("a".into(), "1".into()),
        ];
        inject_traceparent(
            &mut h,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        assert_eq!(h.len(), 2);
        assert_eq!(
            extract_traceparent(&h),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        let map = header_map(&h).unwrap();
        let back = headers_of(Some(&map));
        assert_eq!(header(&back, "A"), Some("1"));
        assert!(extract_traceparent(&back).is_some());
    }

    #[test]
    fn bad_headers_are_errors_not_panics() {
        assert!(header_map(&[("x".into(), "a\r\nb".into())]).is_err());
        assert!(header_map(&[("bad:name".into(), "v".into())]).is_err());
    }
}
