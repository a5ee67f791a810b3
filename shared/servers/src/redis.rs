//! [`LocalRedis`]: a redis-server on the loopback interface for the embedding cache, its
//! snapshot, log and pid file in one folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{Supervised, free_port, on_path, redis_pong};
use crate::{ServersError, io, orphan};

/// How long a started server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most memory the cache takes before it evicts the least recently used embeddings.
const MAX_MEMORY: &str = "512mb";

/// The redis-server to run: `TESSERA_REDIS_SERVER` when set, else `redis-server` on the
/// `PATH`; `None` when there is none.
pub fn find_redis_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TESSERA_REDIS_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    on_path("redis-server")
}

/// A redis-server this process started, stopped when dropped.
#[derive(Debug)]
pub struct LocalRedis {
    process: Supervised,
    dir: PathBuf,
    port: u16,
}

impl LocalRedis {
    /// Starts `binary` on a free loopback port with its snapshot in `dir` (saved as it
    /// stops, loaded at the next start), at most 512 MB, least recently used evicted. A
    /// server still running on `dir` from an earlier start whose owner was killed is
    /// stopped first.
    pub fn start(binary: &Path, dir: &Path) -> Result<LocalRedis, ServersError> {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("creating {}", dir.display()), e))?;
        let pid_file = dir.join("redis-server.pid");
        orphan::stop(&pid_file, "redis-server");
        let port = free_port()?;
        let mut command = Command::new(binary);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .arg("--pidfile")
            .arg(&pid_file)
            .args(["--daemonize", "no", "--save", "300 1", "--appendonly", "no"])
            .args([
                "--maxmemory",
                MAX_MEMORY,
                "--maxmemory-policy",
                "allkeys-lru",
            ]);
        let process = Supervised::start(
            "redis-server",
            command,
            &dir.join("redis-server.log"),
            None,
            READY_TIMEOUT,
            || redis_pong(port),
        )?;
        Ok(LocalRedis {
            process,
            dir: dir.to_path_buf(),
            port,
        })
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The folder of its snapshot and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops the server gracefully (it saves its snapshot).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}
