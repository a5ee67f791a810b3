//! Operational messages: [`Reject`] (`tessera.rejects.<service>`), [`DeadLetter`]
//! (`tessera.dlq.<stream>`) and [`ServiceStatus`] (`tessera.status.<service>`, core NATS).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Limits, MessageKind, ProtocolError,
    messages::impl_message,
    validate::{Check, MAX_TEXT_LEN},
};

/// A message a service refused, and why. Carries no payload: the reason is the point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reject {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// Subject the refused message arrived on.
    pub subject: String,
    /// The refusing service ([`crate::Service::as_str`]).
    pub service: String,
    /// Why, as a sentence with the way out (usually a [`ProtocolError`]'s text).
    pub reason: String,
    /// The refused message's `Nats-Msg-Id`, if it had one.
    #[serde(default)]
    pub msg_id: Option<String>,
    /// Size of the refused payload in bytes.
    pub payload_bytes: u64,
    /// When it was refused, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl Reject {
    /// The run (and frame) the refused message belonged to: from its Msg-Id
    /// ([`crate::keys::frame_of_msg_id`]), else from its subject when that names the run
    /// (`tessera.work.<run>`, …, with no frame); `None` when neither says.
    pub fn about(&self) -> Option<(crate::RunId, Option<u64>)> {
        if let Some((run, seq)) = self
            .msg_id
            .as_deref()
            .and_then(crate::keys::frame_of_msg_id)
            && let Ok(run) = crate::RunId::parse(run)
        {
            return Some((run, seq));
        }
        match crate::Route::parse(&self.subject).ok()? {
            crate::Route::Work(run)
            | crate::Route::Embedded(run)
            | crate::Route::Segmented(run) => Some((run, None)),
            crate::Route::Results { run, .. } => Some((run, None)),
            _ => None,
        }
    }

    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.text("subject", &self.subject, 1024, false)?;
        c.token("service", &self.service)?;
        c.text("reason", &self.reason, MAX_TEXT_LEN, false)?;
        if let Some(id) = &self.msg_id {
            c.text("msg_id", id, 1024, true)?;
        }
        Ok(())
    }
}
impl_message!(Reject, MessageKind::Reject);

/// A message given up on after `max_deliver` deliveries, kept with its payload for replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The stream it came from.
    pub stream: String,
    /// The durable consumer that gave up.
    pub consumer: String,
    /// Its original subject.
    pub subject: String,
    /// Its sequence number in the stream.
    pub stream_seq: u64,
    /// Deliveries before giving up.
    pub deliveries: u64,
    /// The last error, as a sentence.
    pub reason: String,
    /// Its `Nats-Msg-Id`, if it had one.
    #[serde(default)]
    pub msg_id: Option<String>,
    /// The original payload, unchanged.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// When it was given up on, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl DeadLetter {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.token("stream", &self.stream)?;
        c.token("consumer", &self.consumer)?;
        c.text("subject", &self.subject, 1024, false)?;
        c.text("reason", &self.reason, MAX_TEXT_LEN, true)?;
        if let Some(id) = &self.msg_id {
            c.text("msg_id", id, 1024, true)?;
        }
        Ok(())
    }
}
impl_message!(DeadLetter, MessageKind::DeadLetter);

/// A service instance's health and backlog, published every few seconds on core NATS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The service ([`crate::Service::as_str`]).
    pub service: String,
    /// This instance (host name, pod name or a random id).
    pub instance: String,
    /// Messages delivered to this consumer and not yet acknowledged.
    pub pending: u64,
    /// Messages in the stream not yet delivered to the consumer (what autoscaling reads).
    pub lag: u64,
    /// Messages this instance processed since it started.
    pub processed: u64,
    /// Messages this instance rejected since it started.
    pub rejected: u64,
    /// When measured, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Other state worth showing, e.g. `"cache": "degraded: redis unreachable"`.
    #[serde(default)]
    pub detail: BTreeMap<String, String>,
}

impl ServiceStatus {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.token("service", &self.service)?;
        c.text("instance", &self.instance, 256, false)?;
        c.string_map("detail", &self.detail)
    }
}
impl_message!(ServiceStatus, MessageKind::ServiceStatus);
