//! [`Instrument`]: publishes one instrument's run starts, frames and run stops onto ACQ,
//! hears the decisions for its runs and answers them.

use std::time::Duration;

use bytes::Bytes;
use tessera_bus::{Bus, BusError, PublishAck};
use tessera_protocol::{
    Decision, DecisionAck, Frame, InstrumentId, Limits, Message, ObjectRef, PROTOCOL_VERSION,
    Pixels, RunId, RunStart, RunStop, encode_message, keys, streams::FRAMES_STORE, subjects,
};

use crate::{FrameData, InstrumentError, frame::now_ms};

/// Tries of a publish or upload that failed transiently (the same `Nats-Msg-Id` each time,
/// so a retry never stores a second copy).
const ATTEMPTS: u32 = 3;
/// Pause before the second try; doubled before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// What publishing one frame did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The ACQ stream's ack; `duplicate` when this frame was already published.
    pub ack: PublishAck,
    /// Whether the samples went to the object store (`tessera_frames`) rather than inline.
    pub via_object_store: bool,
    /// Raw sample bytes sent, inline or as an object.
    pub bytes: u64,
    /// Size of the encoded frame message.
    pub payload_bytes: u64,
}

/// One instrument publishing onto the ACQ stream. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Instrument {
    bus: Bus,
    id: InstrumentId,
    limits: Limits,
}

impl Instrument {
    /// An instrument `id` publishing through `bus`; `limits` decide what goes inline and the
    /// largest message sent.
    pub fn new(bus: Bus, id: InstrumentId, limits: Limits) -> Self {
        Instrument { bus, id, limits }
    }

    /// This instrument's id.
    pub fn id(&self) -> &InstrumentId {
        &self.id
    }

    /// The limits it publishes under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Publishes a run start on `tessera.acq.<instrument>.start`. The start must name this
    /// instrument.
    pub async fn start_run(&self, start: &RunStart) -> Result<PublishAck, InstrumentError> {
        if start.instrument != self.id {
            return Err(InstrumentError::Invalid(format!(
                "run {} names instrument {:?}, but this is instrument {:?}; set \
                 RunStart::instrument to {:?}",
                start.run, start.instrument, self.id, self.id
            )));
        }
        let context = format!("run start {}", start.run);
        let payload = self.encode(start, &context)?;
        let subject = subjects::acq_start_subject(&self.id);
        let msg_id = keys::start_msg_id(&start.run);
        self.send(&subject, payload, Vec::new(), &msg_id, &context)
            .await
    }

    /// Publishes frame `seq` of `run` on `tessera.acq.<instrument>.frame`, with `Nats-Msg-Id`
    /// `acq:frame:<run>:<seq>` and the publish time in [`keys::PUBLISHED_AT_HEADER`]. Samples
    /// over [`Limits::inline_max_bytes`] are first stored as object `<run>/<seq>.raw` in
    /// `tessera_frames`, and the message carries a reference. The frame is validated before
    /// anything is stored.
    pub async fn publish_frame(
        &self,
        run: &RunId,
        seq: u64,
        frame: &FrameData,
    ) -> Result<Published, InstrumentError> {
        let context = format!("frame {run}/{seq}");
        let raw = frame.bytes.len() as u64;
        let via_object_store = !self.limits.pixels_inline(raw);
        let pixels = if via_object_store {
            Pixels::Object(ObjectRef {
                bucket: FRAMES_STORE.bucket.to_string(),
                name: keys::raw_frame_object(run, seq),
                size: raw,
                digest: None,
            })
        } else {
            Pixels::Inline(frame.bytes.clone())
        };
        let mut message = Frame {
            version: PROTOCOL_VERSION,
            run: run.clone(),
            seq,
            timestamp_ms: frame.timestamp_ms,
            width: frame.width,
            height: frame.height,
            dtype: frame.dtype,
            pixel_size_nm: frame.pixel_size_nm,
            dose: frame.dose,
            scalars: frame.scalars.clone(),
            pixels,
        };
        let protocol = |source| InstrumentError::Protocol {
            context: context.clone(),
            source,
        };
        message.validate(&self.limits).map_err(protocol)?;
        if let Pixels::Object(object) = &mut message.pixels {
            let info = retry(async || {
                self.bus
                    .put_object(&object.bucket, &object.name, &frame.bytes)
                    .await
            })
            .await
            .map_err(|source| InstrumentError::Bus {
                context: context.clone(),
                source,
            })?;
            object.digest = Some(info.digest).filter(|d| !d.is_empty());
        }
        let payload = self.encode(&message, &context)?;
        let payload_bytes = payload.len() as u64;
        let headers = vec![(keys::PUBLISHED_AT_HEADER.to_string(), now_ms().to_string())];
        let subject = subjects::acq_frame_subject(&self.id);
        let msg_id = keys::frame_msg_id(run, seq);
        let ack = self
            .send(&subject, payload, headers, &msg_id, &context)
            .await?;
        Ok(Published {
            ack,
            via_object_store,
            bytes: raw,
            payload_bytes,
        })
    }

    /// Publishes a run stop on `tessera.acq.<instrument>.stop`.
    pub async fn stop_run(&self, stop: &RunStop) -> Result<PublishAck, InstrumentError> {
        let context = format!("run stop {}", stop.run);
        let payload = self.encode(stop, &context)?;
        let subject = subjects::acq_stop_subject(&self.id);
        let msg_id = keys::stop_msg_id(&stop.run);
        self.send(&subject, payload, Vec::new(), &msg_id, &context)
            .await
    }

    /// Publishes this instrument's answer to a decision on `tessera.acks.<instrument>.<run>`
    /// (Msg-Id: run, frame and rule, so a resent answer counts once).
    pub async fn ack_decision(&self, ack: &DecisionAck) -> Result<PublishAck, InstrumentError> {
        let context = format!("answer to decision {}/{} ({})", ack.run, ack.seq, ack.rule);
        let payload = self.encode(ack, &context)?;
        let subject = subjects::acks_subject(&self.id, &ack.run);
        let msg_id = keys::ack_msg_id(&ack.run, ack.seq, &ack.rule);
        self.send(&subject, payload, Vec::new(), &msg_id, &context)
            .await
    }

    /// The decisions for `run` of this instrument as they are published (core NATS: subscribe
    /// before the run starts so that none is missed), decoded; one that cannot be decoded is
    /// an error item and the stream goes on.
    pub async fn decisions(
        &self,
        run: &RunId,
    ) -> Result<
        impl futures::Stream<Item = Result<Decision, InstrumentError>> + Send + Unpin + 'static,
        InstrumentError,
    > {
        use futures::StreamExt;
        let subject = subjects::decisions_subject(&self.id, run);
        let messages =
            self.bus
                .subscribe(&subject)
                .await
                .map_err(|source| InstrumentError::Bus {
                    context: format!("listening for the decisions of run {run}"),
                    source,
                })?;
        let limits = self.limits;
        Ok(messages
            .map(move |m| {
                tessera_protocol::decode::<Decision>(&m.payload, &limits).map_err(|source| {
                    InstrumentError::Protocol {
                        context: format!("a decision on {}", m.subject),
                        source,
                    }
                })
            })
            .boxed())
    }

    fn encode<T: Message>(&self, message: &T, context: &str) -> Result<Bytes, InstrumentError> {
        encode_message(message, &self.limits)
            .map(Bytes::from)
            .map_err(|source| InstrumentError::Protocol {
                context: context.to_string(),
                source,
            })
    }

    async fn send(
        &self,
        subject: &str,
        payload: Bytes,
        headers: Vec<(String, String)>,
        msg_id: &str,
        context: &str,
    ) -> Result<PublishAck, InstrumentError> {
        retry(async || {
            self.bus
                .publish(subject, payload.clone(), &headers, Some(msg_id))
                .await
        })
        .await
        .map_err(|source| InstrumentError::Bus {
            context: context.to_string(),
            source,
        })
    }
}

/// Runs `op` up to [`ATTEMPTS`] times while it fails transiently.
async fn retry<T>(mut op: impl AsyncFnMut() -> Result<T, BusError>) -> Result<T, BusError> {
    let mut pause = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::warn!(attempt, error = %e, "publish failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}
