//! Labels painted on a live frame (dashboard → `tessera.classify.<run>`, a core NATS
//! request): the clusterer keeps each run's newest frame with its embeddings and preview, so
//! that a classifier can be made on it from the painted pixels, stored, bound to the run (its
//! next frames are classified with it), and the frame re-classified at once, without running
//! the network again.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use tessera_bus::CoreMessage;
use tessera_fewshot::EmbeddedFrame;
use tessera_imaging::{ChipGrid, Raster};
use tessera_pipeline::classes::{classify, train_from_points};
use tessera_protocol::{
    ClassifyReply, ClassifyRequest, PROTOCOL_VERSION, RunId, decode, encode_message, keys,
};
use tessera_segment::SegmentParams;

use crate::Context;
use crate::classifiers::{bind, save};
use crate::common::Failure;

/// Runs whose newest frame is kept. A 1024² frame takes about 9 MB (embeddings and preview).
const MAX_HELD_RUNS: usize = 4;

/// Why a frame without a stored preview is neither classified nor labelled.
pub(crate) const NO_PREVIEW: &str = "the frame has no stored preview (ingest.store_normalized is \
     off), and classes are painted on it; turn it on to classify or label frames";

/// A run's newest segmented frame, as the clusterer had it.
pub(crate) struct HeldFrame {
    pub(crate) seq: u64,
    pub(crate) grid: ChipGrid,
    /// The normalised preview; `None` when ingest stores none.
    pub(crate) image: Option<Raster>,
    pub(crate) embeddings: Vec<f32>,
    pub(crate) model_digest: String,
    pub(crate) params: SegmentParams,
}

/// The newest frame of the last [`MAX_HELD_RUNS`] runs.
#[derive(Default)]
pub(crate) struct HeldFrames {
    by_run: HashMap<RunId, (Instant, HeldFrame)>,
}

impl HeldFrames {
    /// Keeps `frame` as `run`'s newest, letting go of the run seen longest ago when full.
    pub(crate) fn keep(&mut self, run: RunId, frame: HeldFrame) {
        if !self.by_run.contains_key(&run) && self.by_run.len() >= MAX_HELD_RUNS {
            let oldest = (self.by_run.iter())
                .min_by_key(|(_, (at, _))| *at)
                .map(|(r, _)| r.clone());
            if let Some(oldest) = oldest {
                self.by_run.remove(&oldest);
            }
        }
        self.by_run.insert(run, (Instant::now(), frame));
    }
}

/// Answers one label request; a request nobody waits for is dropped. Returns the run and
/// the classifier it bound to it, when it did.
pub(crate) async fn answer(
    ctx: &Context,
    held: &HeldFrames,
    message: CoreMessage,
) -> Option<(RunId, String)> {
    let Some(reply_to) = message.reply else {
        tracing::debug!(subject = %message.subject, "a label request without a reply subject");
        return None;
    };
    let mut bound = None;
    let reply = match handle(ctx, held, &message.payload).await {
        Ok((run, name, reply)) => {
            bound = Some((run, name));
            reply
        }
        Err(why) => {
            tracing::info!(%why, "labels not applied");
            ClassifyReply {
                version: PROTOCOL_VERSION,
                revision: 0,
                classes: None,
                error: Some(why),
            }
        }
    };
    match encode_message(&reply, &ctx.limits) {
        Ok(bytes) => {
            if let Err(e) = ctx.bus.publish_core(&reply_to, Bytes::from(bytes)).await {
                tracing::warn!(error = %e, "could not answer a label request");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not encode a label answer"),
    }
    bound
}

/// Makes, stores and binds the classifier, and classifies the painted frame with it; returns
/// the run, the classifier's name and the answer.
async fn handle(
    ctx: &Context,
    held: &HeldFrames,
    payload: &[u8],
) -> Result<(RunId, String, ClassifyReply), String> {
    let request: ClassifyRequest = decode(payload, &ctx.limits).map_err(|e| e.to_string())?;
    let run = request.run.clone();
    let run = &run;
    let Some((_, frame)) = held.by_run.get(run) else {
        return Err(format!(
            "the clusterer holds no frame of run {run}: it keeps the newest frame of the last \
             {MAX_HELD_RUNS} runs it segmented since it started; paint on a frame that \
             arrives now"
        ));
    };
    if frame.seq != request.seq {
        return Err(format!(
            "frame {} of run {run} is no longer held: the clusterer keeps each run's newest \
             frame ({}); paint on that one",
            request.seq, frame.seq
        ));
    }
    let Some(image) = frame.image.clone() else {
        return Err(NO_PREVIEW.into());
    };
    let (grid, embeddings, digest, params) = (
        frame.grid.clone(),
        frame.embeddings.clone(),
        frame.model_digest.clone(),
        frame.params.clone(),
    );
    let (trained, request) = tokio::task::spawn_blocking(move || {
        let on = EmbeddedFrame {
            grid: &grid,
            normalized: &image,
            embeddings: &embeddings,
            model_digest: &digest,
        };
        let trained = train_from_points(&request, &on, &params).map(|c| {
            let classified = classify(&c, 0, &grid, &image, &embeddings, &digest, &params);
            (c, classified)
        });
        (trained, request)
    })
    .await
    .map_err(|e| format!("the labelling task failed: {e}"))?;
    let (classifier, classified) = trained.map_err(|e| format!("the labels: {e}"))?;
    let mut classified = classified.map_err(|e| format!("classifying the frame: {e}"))?;
    let (_, revision) = save(
        &ctx.bus,
        &ctx.limits,
        &classifier,
        &request.edited_by,
        &request.note,
    )
    .await
    .map_err(|e| format!("storing classifier {}: {e}", classifier.name))?;
    bind(&ctx.bus, run, &classifier.name)
        .await
        .map_err(|e| format!("binding classifier {} to run {run}: {e}", classifier.name))?;
    classified.wire.revision = revision;
    let size = (frame.grid.width(), frame.grid.height());
    let name = keys::classes_object(run, request.seq);
    let what = format!("frame {} of run {run}: class map", request.seq);
    let map = crate::clusterer::store_map(ctx, &name, classified.labels, size, &what)
        .await
        .map_err(|(Failure::Retry(e) | Failure::Reject(e))| {
            format!("storing the class map: {e}")
        })?;
    classified.wire.labels = Some(map);
    tracing::info!(
        %run,
        frame = request.seq,
        classifier = %classifier.name,
        revision,
        by = %request.edited_by,
        "labels applied"
    );
    let reply = ClassifyReply {
        version: PROTOCOL_VERSION,
        revision,
        classes: Some(classified.wire),
        error: None,
    };
    Ok((run.clone(), classifier.name, reply))
}
