//! The router, its shared state ([`Dashboard`]) and [`serve`].
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the page (runs list) |
//! | `/runs/<run>` | the page (run view), with the run and its latest result in it |
//! | `/assets/<file>` | its script and style sheet |
//! | `/healthz` | `ok` while NATS is connected (no token needed) |
//! | `/api/runs` | every run, newest first (JSON) |
//! | `/api/runs/<run>` | one run, with its rejects (JSON) |
//! | `/api/runs/<run>/frames` | the run's results so far (JSON) |
//! | `/api/runs/<run>/events` | the run's results, live (server-sent events) |
//! | `/api/runs/<run>/fractions.csv` | the fraction table |
//! | `/api/runs/<run>/classes` | `POST` (write token): labels painted on a frame; answers with the frame's classes |
//! | `/api/runs/<run>/frames/<seq>/<file>` | `frame.png`, `communities.png`, `overlay.png`, `labels.tiff`; with a run classifier `classes.png` and `classes.tiff` |

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tessera_bus::Bus;
use tessera_protocol::{FrameResult, RunId};
use tessera_settings::DashboardSettings;
use tokio::sync::watch;

use crate::error::{ApiError, DashboardError};
use crate::files::{FrameFile, fractions, frame_file};
use crate::rejects::{RejectCache, RejectIndex};
use crate::runs::{FrameLooks, RunSummary, list_runs, read_frames, read_run};
use crate::{assets, auth, events};

/// What every request shares: the NATS connection, and what it remembers of the frames it has seen.
#[derive(Clone)]
pub struct Dashboard {
    pub(crate) bus: Bus,
    pub(crate) max_history: usize,
    pub(crate) looks: Arc<FrameLooks>,
    /// The newest rejects, read again when REJECTS grows.
    rejects: Arc<RejectCache>,
    /// Turns true when the server stops, to end the live streams.
    pub(crate) closing: watch::Receiver<bool>,
    tokens: auth::Tokens,
}

impl Dashboard {
    /// A dashboard over `bus`, as `settings` say (after validating them), and the switch
    /// that ends its live streams.
    pub fn new(
        bus: Bus,
        settings: &DashboardSettings,
    ) -> Result<(Dashboard, watch::Sender<bool>), DashboardError> {
        settings.validate()?;
        let (closer, closing) = watch::channel(false);
        Ok((
            Dashboard {
                bus,
                max_history: settings.max_history_frames,
                looks: Arc::default(),
                rejects: Arc::default(),
                closing,
                tokens: auth::Tokens {
                    read: settings.token().map(Arc::from),
                    write: settings.write_token().map(Arc::from),
                },
            },
            closer,
        ))
    }

    /// The run's results so far (at most `dashboard.max_history_frames`), remembering how
    /// each frame looks for its images.
    pub(crate) async fn frames(&self, run: &RunId) -> Result<Vec<FrameResult>, ApiError> {
        let results = read_frames(&self.bus, run, self.max_history).await?;
        for r in &results {
            self.looks.remember(r);
        }
        Ok(results)
    }

    /// The newest rejects of every run; when REJECTS cannot be read, none, with the reason
    /// (the runs still show, with ingest's counts).
    pub(crate) async fn rejects(&self) -> Arc<RejectIndex> {
        match self.rejects.current(&self.bus).await {
            Ok(index) => index,
            Err(e) => Arc::new(RejectIndex::unreadable(&e)),
        }
    }

    /// The run with its rejects, or `None` when ingest never recorded it.
    pub(crate) async fn run(&self, run: &RunId) -> Result<Option<RunSummary>, ApiError> {
        let rejects = self.rejects().await;
        read_run(&self.bus, run, &rejects).await
    }

    /// Every route, behind the token guard.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/api/runs", get(runs))
            .route("/api/runs/{run}", get(one_run))
            .route("/api/runs/{run}/frames", get(run_frames))
            .route("/api/runs/{run}/events", get(events))
            .route("/api/runs/{run}/fractions.csv", get(fraction_table))
            .route(
                "/api/runs/{run}/decisions",
                get(crate::decisions::run_decisions),
            )
            .route("/api/runs/{run}/frames/{seq}/{file}", get(file))
            .route(
                "/api/runs/{run}/classes",
                post(crate::labels::apply).layer(DefaultBodyLimit::max(crate::labels::MAX_BODY)),
            );
        Router::new()
            .route("/", get(assets::page))
            .route("/runs/{run}", get(assets::run_page))
            .route("/assets/{name}", get(assets::asset))
            .route("/healthz", get(health))
            .merge(api)
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.tokens.clone(),
                auth::guard,
            ))
            .with_state(self.clone())
    }
}

/// Serves the dashboard on `settings.bind` until `shutdown` completes.
pub async fn serve(
    bus: Bus,
    settings: &DashboardSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let (dash, closer) = Dashboard::new(bus, settings)?;
    let addr = settings.bind_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| DashboardError::Bind { addr, source })?;
    serve_on(dash, closer, listener, shutdown).await
}

/// Serves `dash` on `listener` (already bound: tests bind port 0) until `shutdown`.
pub async fn serve_on(
    dash: Dashboard,
    closer: watch::Sender<bool>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DashboardError> {
    let addr: SocketAddr = listener.local_addr().map_err(DashboardError::Serve)?;
    tracing::info!(
        url = %format!("http://{addr}/"),
        token = dash.tokens.read.is_some(),
        labelling = dash.tokens.write.is_some(),
        "dashboard serving"
    );
    let router = dash.router();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Live streams never end by themselves; end them so the server can stop.
            let _ = closer.send(true);
        })
        .await
        .map_err(DashboardError::Serve)
}

/// A run id from the path, or a 400 that says what is wrong with it.
pub(crate) fn run_id(text: &str) -> Result<RunId, ApiError> {
    RunId::parse(text).map_err(|e| ApiError::bad_request(format!("not a run id: {e}")))
}

async fn health(State(dash): State<Dashboard>) -> Response {
    if dash.bus.is_connected() {
        "ok\n".into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "NATS is not connected").into_response()
    }
}

async fn runs(State(dash): State<Dashboard>) -> Result<Response, ApiError> {
    let rejects = dash.rejects().await;
    Ok(Json(list_runs(&dash.bus, &rejects).await?).into_response())
}

async fn one_run(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    match dash.run(&run).await? {
        Some(summary) => Ok(Json(summary).into_response()),
        None => Err(ApiError::not_found(format!(
            "no run {run} has been recorded; is the instrument publishing, and ingest running?"
        ))),
    }
}

async fn run_frames(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    let results = dash.frames(&run).await?;
    Ok(Json(results).into_response())
}

async fn events(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    Ok(events::run_events(dash, run).into_response())
}

async fn fraction_table(
    State(dash): State<Dashboard>,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    fractions(&dash, &run_id(&run)?).await
}

async fn file(
    State(dash): State<Dashboard>,
    Path((run, seq, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let run = run_id(&run)?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| ApiError::bad_request(format!("frame {seq:?} is not a sequence number")))?;
    let file = FrameFile::parse(&name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no file {name:?}; a frame has frame.png, communities.png, overlay.png and labels.tiff"
        ))
    })?;
    frame_file(&dash, &run, seq, file).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such page; the dashboard starts at /")
}
