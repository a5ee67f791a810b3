//! The closed loop as the run page shows it: the decider's decisions on the run's frames and
//! the instrument's answers, read back from the DECISIONS stream
//! (`GET /api/runs/<run>/decisions`).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_protocol::{Decision, DecisionAck, Limits, Message, RunId, decode, streams::DECISIONS};

use crate::Dashboard;
use crate::error::ApiError;
use crate::routes::run_id;

/// Most decisions (and most answers) one request returns: the oldest, as a run's frames.
pub(crate) const MAX_DECISIONS: usize = 5000;

/// A run's decisions and answers, oldest first.
#[derive(Debug, Serialize)]
pub(crate) struct RunDecisions {
    /// One per frame the decider evaluated (empty `fired`: go on).
    pub decisions: Vec<Decision>,
    /// The instrument's answers to the actions.
    pub acks: Vec<DecisionAck>,
}

/// `GET /api/runs/<run>/decisions`.
pub(crate) async fn run_decisions(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    let decisions = read(&dash, &format!("tessera.decisions.*.{run}"), &run).await?;
    let acks = read(&dash, &format!("tessera.acks.*.{run}"), &run).await?;
    Ok(Json(RunDecisions { decisions, acks }).into_response())
}

/// The messages of `filter` in DECISIONS; one that cannot be decoded is skipped and logged.
async fn read<T: Message>(dash: &Dashboard, filter: &str, run: &RunId) -> Result<Vec<T>, ApiError> {
    let stored = dash
        .bus
        .replay(DECISIONS.name, filter, MAX_DECISIONS)
        .await?;
    tracing::debug!(%run, filter, messages = stored.len(), "decisions read");
    let limits = Limits::default();
    Ok(stored
        .iter()
        .filter_map(|m| match decode::<T>(&m.payload, &limits) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(subject = %m.subject, error = %e, "skipped an undecodable message");
                None
            }
        })
        .collect())
}
