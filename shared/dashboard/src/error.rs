//! [`DashboardError`], for starting and running the server, and [`ApiError`], the reply to a
//! request that cannot be served.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_bus::BusError;

/// Why the dashboard cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The settings are not usable (bad address, missing token).
    #[error(transparent)]
    Settings(#[from] tessera_settings::SettingsError),
    /// The address cannot be bound.
    #[error(
        "cannot serve the dashboard on {addr}: {source}; is another program using the port? \
         Choose another with dashboard.bind (TESSERA__DASHBOARD__BIND)"
    )]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the dashboard's HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// A request that cannot be served: a status and a sentence for the person who asked.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<BusError> for ApiError {
    fn from(e: BusError) -> Self {
        let status = if matches!(e, BusError::NotFound(_)) {
            return ApiError::not_found(e.to_string());
        } else if e.is_transient() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_GATEWAY
        };
        tracing::warn!(error = %e, "dashboard request failed on NATS");
        ApiError::new(status, format!("NATS: {e}"))
    }
}

impl From<tessera_protocol::ProtocolError> for ApiError {
    fn from(e: tessera_protocol::ProtocolError) -> Self {
        tracing::warn!(error = %e, "a stored message could not be decoded");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("a stored message could not be decoded: {e}"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message + "\n",
        )
            .into_response()
    }
}
