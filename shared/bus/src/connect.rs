//! [`Bus`] and [`Bus::connect`]: one NATS connection with its JetStream context.
//!
//! `connect` does not use async-nats's `retry_on_initial_connect`: with it, `connect` returns
//! at once with a client that is not connected, and a wrong `bus.url` shows up only as
//! timeouts later. Instead `connect` fails with a clear error, unless `bus.connect_wait_ms`
//! asks it to keep trying for a while. Once connected, the client reconnects forever, with a
//! backoff from 0 to 2 s, and logs each disconnect and reconnect.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use tokio::sync::broadcast;

use crate::error::chain;
use crate::{BusConfig, BusError};

/// Longest pause between two reconnect attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// A connection to NATS and its JetStream context. Cheap to clone; clones share the
/// connection. Every method is safe to call from many tasks at once.
#[derive(Clone)]
pub struct Bus {
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) url: String,
    pub(crate) kv: Arc<Mutex<HashMap<String, jetstream::kv::Store>>>,
    pub(crate) objects: Arc<Mutex<HashMap<String, jetstream::object_store::ObjectStore>>>,
    /// The server's permission refusals (`Permissions Violation for Publish to "x"`), which
    /// arrive as asynchronous `-ERR`s rather than as answers to the refused operation.
    pub(crate) refusals: broadcast::Sender<String>,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects to NATS as `config` says. Fails with [`BusError::Unreachable`] ("cannot reach
    /// NATS at ...: connection refused; is nats-server running?") when no server answers
    /// within `bus.connect_wait_ms` (default: at once), [`BusError::Auth`] when the login is
    /// refused, [`BusError::Tls`] or [`BusError::Config`] when the settings cannot work.
    pub async fn connect(config: &BusConfig) -> Result<Bus, BusError> {
        config.validate()?;
        let url = config.display_url();
        let deadline = Instant::now() + Duration::from_millis(config.connect_wait_ms);
        let mut attempt: u32 = 0;
        let (refusals, _) = broadcast::channel(64);
        let client = loop {
            match try_connect(config, &url, &refusals).await {
                Ok(client) => break client,
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    attempt += 1;
                    let pause = reconnect_delay(attempt as usize + 1);
                    tracing::warn!(url = %url, attempt, error = %e, "NATS not reachable yet; retrying");
                    tokio::time::sleep(pause.min(deadline - Instant::now())).await;
                }
                Err(e) => return Err(e),
            }
        };
        let builder = jetstream::context::ContextBuilder::new().timeout(config.request_timeout());
        let js = match &config.js_domain {
            Some(domain) => builder.domain(domain).build(client.clone()),
            None => builder.build(client.clone()),
        };
        tracing::info!(url = %url, name = %config.name, "connected to NATS");
        Ok(Bus {
            client,
            js,
            url,
            kv: Arc::default(),
            objects: Arc::default(),
            refusals,
        })
    }

    /// The server URL(s), passwords redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection is up right now (it may drop and come back at any time).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The largest message the server accepts (`max_payload`), in bytes; 0 before the first
    /// connection.
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Sends everything buffered to the server and waits until it has been written.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::classify("flushing the NATS connection", &e))
    }
}

/// Waits until the server refuses `kind` (`"publish"` or `"subscription"`) on exactly
/// `subject` (or, when `subject` ends with a dot, on any subject starting with it), and
/// returns what it said; pending forever if it never does.
pub(crate) async fn refused(
    refusals: &mut broadcast::Receiver<String>,
    kind: &str,
    subject: &str,
) -> String {
    let quoted = if subject.ends_with('.') {
        format!("\"{subject}")
    } else {
        format!("\"{subject}\"")
    };
    loop {
        match refusals.recv().await {
            Ok(msg) if msg.to_lowercase().contains(kind) && msg.contains(&quoted) => return msg,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Backoff between reconnect attempts: 0, then 100 ms doubling up to 2 s.
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(8);
    (Duration::from_millis(100) * 2u32.pow(exp)).min(MAX_RECONNECT_DELAY)
}

async fn try_connect(
    config: &BusConfig,
    url: &str,
    refusals: &broadcast::Sender<String>,
) -> Result<async_nats::Client, BusError> {
    let events_url = url.to_string();
    let refusals = refusals.clone();
    let mut options = ConnectOptions::new()
        .name(&config.name)
        .connection_timeout(config.connect_timeout())
        .request_timeout(Some(config.request_timeout()))
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let url = events_url.clone();
            if let Event::ServerError(ServerError::Other(msg)) = &event {
                if msg.to_lowercase().contains("permissions violation") {
                    // No receiver: nobody is waiting for this refusal; the log line says it.
                    let _ = refusals.send(msg.clone());
                }
            }
            async move { log_event(&url, &event) }
        });
    if let (Some(user), Some(password)) = (&config.user, &config.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    if let Some(seed) = &config.nkey {
        options = options.nkey(seed.clone());
    }
    if let Some(path) = &config.creds_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| BusError::Config(format!("bus.creds_file {}: {e}", path.display())))?;
    }
    if let Some(tls) = &config.tls {
        options = options.require_tls(true);
        for (what, path) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
            if let Some(p) = path.as_ref().filter(|p| !p.is_file()) {
                return Err(BusError::Config(format!(
                    "bus.tls.{what} {} is not a readable file",
                    p.display()
                )));
            }
        }
        if let Some(ca) = &tls.ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
    }
    let urls = config.urls();
    options
        .connect(urls.as_slice())
        .await
        .map_err(|e| connect_error(config, url, &e))
}

fn connect_error(config: &BusConfig, url: &str, e: &async_nats::ConnectError) -> BusError {
    let mut detail = chain(e);
    for secret in config.secrets() {
        detail = detail.replace(&secret, "****");
    }
    let url = url.to_string();
    match e.kind() {
        ConnectErrorKind::ServerParse => {
            BusError::Config(format!("bus.url {url} is not a usable NATS URL: {detail}"))
        }
        ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
            BusError::Auth { url, detail }
        }
        ConnectErrorKind::Tls => BusError::Tls { url, detail },
        ConnectErrorKind::TimedOut => BusError::Unreachable {
            url,
            detail: format!(
                "no answer within {} ms (bus.connect_timeout_ms)",
                config.connect_timeout_ms
            ),
        },
        ConnectErrorKind::Dns | ConnectErrorKind::Io | ConnectErrorKind::MaxReconnects => {
            let lower = detail.to_lowercase();
            // async-nats reports a failed TLS handshake (an untrusted server certificate, a
            // server requiring TLS that the client did not configure) as an I/O error.
            if ["certificate", "tls", "handshake"]
                .iter()
                .any(|w| lower.contains(w))
            {
                return BusError::Tls { url, detail };
            }
            let detail = if lower.contains("refused") {
                "connection refused".to_string()
            } else {
                detail
            };
            BusError::Unreachable { url, detail }
        }
    }
}

fn log_event(url: &str, event: &Event) {
    match event {
        Event::Connected => tracing::info!(url = %url, "NATS connection (re)established"),
        Event::Disconnected => {
            tracing::warn!(url = %url, "NATS connection lost; reconnecting in the background")
        }
        Event::LameDuckMode => {
            tracing::warn!(url = %url, "NATS server entering lame-duck mode; it will go away soon")
        }
        Event::SlowConsumer(sid) => {
            tracing::warn!(url = %url, subscription = sid, "NATS slow consumer: messages dropped")
        }
        Event::ServerError(err) => tracing::warn!(url = %url, error = %err, "NATS server error"),
        Event::ClientError(err) => tracing::warn!(url = %url, error = %err, "NATS client error"),
        Event::Draining | Event::Closed => tracing::info!(url = %url, event = %event, "NATS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_cap() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(100));
        assert_eq!(reconnect_delay(3), Duration::from_millis(200));
        assert_eq!(reconnect_delay(50), MAX_RECONNECT_DELAY);
    }
}
