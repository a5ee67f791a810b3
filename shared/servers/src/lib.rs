//! The servers `tessera up` starts for itself when none is configured: a nats-server with
//! JetStream (loopback only, its store under a data directory) and a redis-server for the
//! embedding cache. Each runs as a child process owned by a guard, which waits until the
//! server answers, and stops it gracefully (SIGTERM, then SIGKILL) when stopped or dropped,
//! leaving its data for the next start. A server left running by a `tessera up` that was
//! killed is found by its pid file and stopped before a new one starts on the same data.
//!
//! # Layout
//! - `process.rs`: [`Supervised`], a child process with a log file, a readiness wait and a
//!   graceful stop; the probes ([`http_ok`], [`redis_pong`]), [`free_port`], [`on_path`]
//!   and [`tail`] (also what the test kit's guards use).
//! - `nats.rs`: [`LocalNats`], [`nats_version`].
//! - `redis.rs`: [`LocalRedis`], [`find_redis_server`].

mod nats;
mod orphan;
mod process;
mod redis;

use std::path::PathBuf;

pub use nats::{LocalNats, MIN_NATS_VERSION, nats_version};
pub use process::{Supervised, free_port, http_ok, on_path, port_is_free, redis_pong, tail};
pub use redis::{LocalRedis, find_redis_server};

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServersError {
    /// A file or folder could not be written or read, or a process could not be started.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path or binary.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The binary is not a server this build can use (e.g. nats-server older than 2.10).
    #[error("{0}")]
    Unsuitable(String),
    /// The server exited or did not answer in time; the message quotes its log.
    #[error("{0}")]
    NotReady(String),
    /// The binary is missing.
    #[error("{binary} not found at {path}: {hint}")]
    Missing {
        /// Which server.
        binary: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The way out.
        hint: &'static str,
    },
}

pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ServersError {
    ServersError::Io {
        context: context.into(),
        source,
    }
}
