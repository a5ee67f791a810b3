//! Labels painted on a frame in the page: checked, sent to the clusterer as a NATS request on
//! `tessera.classify.<run>` (it keeps each run's newest frame with its embeddings), and its
//! answer: the classifier's new revision and the frame's classes, at once, without running
//! the network again. From the run's next frame on, the clusterer classifies with it.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_bus::BusError;
use tessera_protocol::{
    ClassName, ClassifyReply, ClassifyRequest, PROTOCOL_VERSION, decode, encode_message, subjects,
};

use crate::error::ApiError;
use crate::routes::{Dashboard, run_id};
use crate::runs::result_limits;

/// Largest labels body accepted: a million labelled pixels as JSON (`[x, y, class]` triples,
/// about 20 bytes each), the most a request may carry.
pub(crate) const MAX_BODY: usize = 24 * 1024 * 1024;

/// How long the clusterer may take to train and classify.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// What the page sends.
#[derive(Debug, Deserialize)]
pub(crate) struct Labels {
    /// The frame painted on.
    seq: u64,
    /// The classifier's name.
    name: String,
    /// "logistic" (default), "prototypes" or "propagation".
    #[serde(default = "logistic")]
    method: String,
    /// The classes, in order, each `{name, color}`.
    classes: Vec<ClassName>,
    /// Labelled pixels `[x, y, class index]`.
    points: Vec<(u32, u32, u32)>,
    /// Who painted them.
    by: String,
    /// What changed.
    #[serde(default)]
    note: String,
}

fn logistic() -> String {
    "logistic".into()
}

/// `POST /api/runs/<run>/classes`: the labels to the clusterer, its answer to the page.
pub(crate) async fn apply(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
    Json(labels): Json<Labels>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    let request = ClassifyRequest {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        seq: labels.seq,
        name: labels.name,
        method: labels.method,
        classes: labels.classes,
        points: labels.points,
        edited_by: labels.by,
        note: labels.note,
    };
    let limits = result_limits();
    let bytes = encode_message(&request, &limits)
        .map_err(|e| ApiError::bad_request(format!("the labels cannot be used: {e}")))?;
    let subject = subjects::classify_subject(&run);
    let answer = match dash
        .bus
        .request(&subject, bytes.into(), ANSWER_WITHIN)
        .await
    {
        Ok(a) => a,
        Err(BusError::NotFound(_)) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no clusterer answers labels: is it running (and allowed tessera.classify.*)?",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let reply: ClassifyReply = decode(&answer, &limits)?;
    if let Some(why) = reply.error {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why));
    }
    if let Some(classes) = &reply.classes {
        dash.looks.remember_classes(&run, request.seq, classes);
    }
    Ok(Json(serde_json::json!({
        "revision": reply.revision,
        "classes": reply.classes,
    }))
    .into_response())
}
