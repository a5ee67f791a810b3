//! What every service loop gets, and the one error they return.

use std::sync::Arc;

use tessera_bus::{Bus, BusError};
use tessera_protocol::Limits;
use tessera_settings::Settings;
use tessera_telemetry::Metrics;
use tokio_util::sync::CancellationToken;

/// Everything a service loop needs.
#[derive(Clone)]
pub struct Context {
    /// The connection to NATS.
    pub bus: Bus,
    /// The configuration.
    pub settings: Arc<Settings>,
    /// What the decoders accept.
    pub limits: Limits,
    /// Counters published in the service's status.
    pub metrics: Metrics,
    /// Cancelled to stop the loop.
    pub shutdown: CancellationToken,
    /// This copy's name (in status messages and embedding batches).
    pub instance: String,
}

impl Context {
    /// A context for `bus` and `settings`, with fresh metrics and shutdown token.
    pub fn new(bus: Bus, settings: Arc<Settings>, instance: String) -> Self {
        Context {
            bus,
            limits: settings.protocol_limits(),
            settings,
            metrics: Metrics::new(),
            shutdown: CancellationToken::new(),
            instance,
        }
    }
}

/// Why a service loop stopped with an error (bad input never stops one).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The bus failed in a way retrying will not fix (e.g. the consumer was deleted).
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The embedder could not load its runtime or model.
    #[error("loading the model: {0}")]
    Model(String),
    /// The embedding cache is misconfigured.
    #[error(transparent)]
    Cache(#[from] tessera_cache::CacheError),
    /// The configuration could not be loaded.
    #[error(transparent)]
    Settings(#[from] tessera_settings::SettingsError),
    /// Logging could not be set up.
    #[error(transparent)]
    Telemetry(#[from] tessera_telemetry::TelemetryError),
    /// A task of the service panicked or was cancelled.
    #[error("{0}")]
    Task(String),
}

/// `<hostname>-<pid>`, or `configured` when set: the default name of a service copy.
pub fn instance_name(configured: Option<&str>) -> String {
    if let Some(name) = configured.filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}
