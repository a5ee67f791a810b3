//! [`serve_metrics`]: the HTTP endpoint of a service process (Prometheus metrics, health and
//! readiness), and [`probe`], its client for container health checks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::TelemetryError;
use crate::prometheus::{CONTENT_TYPE, Source, render};

/// Whether the process is ready for work: `Err` says why not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
struct Endpoint {
    sources: Arc<Vec<Source>>,
    ready: Readiness,
}

/// Serves, on `addr` until `shutdown` completes:
/// - `GET /metrics`: every registry of `sources` in Prometheus' text format;
/// - `GET /healthz`: 200 while the process serves at all (liveness);
/// - `GET /readyz`: 200 when `ready` says so, else 503 with its reason (readiness).
///
/// Returns the address bound (useful with port 0). A port already in use, or an address
/// this host does not have, is an error naming it and the setting to change.
pub async fn serve_metrics(
    addr: &str,
    sources: Vec<Source>,
    ready: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<SocketAddr, TelemetryError> {
    let bind_error = |reason: String| TelemetryError::Bind {
        addr: addr.to_string(),
        reason,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(e.to_string()))?;
    let bound = listener
        .local_addr()
        .map_err(|e| bind_error(e.to_string()))?;
    let endpoint = Endpoint {
        sources: Arc::new(sources),
        ready,
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(endpoint);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %bound, "serving /metrics, /healthz and /readyz");
    Ok(bound)
}

async fn metrics(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        render(&endpoint.sources),
    )
}

async fn readyz(State(endpoint): State<Endpoint>) -> (StatusCode, String) {
    match (endpoint.ready)() {
        Ok(()) => (StatusCode::OK, "ready\n".into()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// How long a `--health` probe waits for its answer (compose.yaml's and the chart's health
/// checks allow 3 s too).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET url` within `timeout`: `Ok` on a 2xx answer, else an error with the status and body
/// or the connection failure. What `tessera-<service> --health URL` runs, so that images
/// need neither a shell nor curl for their health checks.
pub fn probe(url: &str, timeout: Duration) -> Result<(), TelemetryError> {
    let failed = |reason: String| TelemetryError::Probe {
        url: url.to_string(),
        reason,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_default()
        .trim()
        .to_string();
    Err(failed(format!("{status}: {body}")))
}
