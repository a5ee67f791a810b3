//! [`LocalNats`]: a nats-server with JetStream on the loopback interface, its store, config,
//! log and pid file in one folder, kept across starts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{Supervised, free_port, http_ok, port_is_free};
use crate::{ServersError, io, orphan};

/// The oldest server with JetStream KV as async-nats 0.51 speaks it.
pub const MIN_NATS_VERSION: (u32, u32) = (2, 10);
/// How long a started server has to report itself healthy (JetStream included).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A nats-server this process started, stopped when dropped.
#[derive(Debug)]
pub struct LocalNats {
    process: Supervised,
    dir: PathBuf,
    port: u16,
    monitor_port: u16,
    version: String,
}

impl LocalNats {
    /// Starts `binary` (2.10 or newer) with JetStream, its store under `dir/jetstream`, on
    /// `127.0.0.1:port`, or on a free port when that one is taken or 0 (see
    /// [`LocalNats::url`]).
    /// Frames up to 8 MiB travel inline (`max_payload`), as the services expect. A server
    /// still running on `dir` from an earlier start whose owner was killed is stopped first.
    pub fn start(binary: &Path, dir: &Path, port: u16) -> Result<LocalNats, ServersError> {
        let version = nats_version(binary)?;
        std::fs::create_dir_all(dir).map_err(|e| io(format!("creating {}", dir.display()), e))?;
        let pid_file = dir.join("nats-server.pid");
        orphan::stop(&pid_file, "nats-server");
        let port = if port_is_free(port) {
            port
        } else {
            free_port()?
        };
        let monitor_port = free_port()?;
        let conf = dir.join("nats-server.conf");
        let log_file = dir.join("nats-server.log");
        let text = format!(
            "# Written by `tessera up` at each start; edits are lost.\n\
             server_name: tessera-up\n\
             listen: 127.0.0.1:{port}\n\
             http: 127.0.0.1:{monitor_port}\n\
             max_payload: 8MB\n\
             pid_file: {pid}\n\
             log_file: {log}\n\
             jetstream {{\n  store_dir: {store}\n  max_memory_store: 1GB\n  \
             # The streams reserve up to ~126 GiB (shared/protocol/src/streams.rs).\n  \
             max_file_store: 200GB\n}}\n",
            pid = quote(&pid_file),
            log = quote(&log_file),
            // The server keeps its streams in `<store_dir>/jetstream`.
            store = quote(dir),
        );
        std::fs::write(&conf, text).map_err(|e| io(format!("writing {}", conf.display()), e))?;
        let mut command = Command::new(binary);
        command.arg("-c").arg(&conf);
        let process = Supervised::start(
            "nats-server",
            command,
            &dir.join("stderr.log"),
            Some(&log_file),
            READY_TIMEOUT,
            || http_ok(monitor_port, "/healthz"),
        )?;
        Ok(LocalNats {
            process,
            dir: dir.to_path_buf(),
            port,
            monitor_port,
            version,
        })
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP monitoring port (`/varz`, `/jsz`, `/healthz`).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }

    /// The server's version, e.g. `2.15.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The JetStream store.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.join("jetstream")
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("nats-server.log")
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops the server gracefully; its store stays.
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// The version `binary --version` prints ("nats-server: v2.15.1" gives `2.15.1`), which must
/// be [`MIN_NATS_VERSION`] or newer.
pub fn nats_version(binary: &Path) -> Result<String, ServersError> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| io(format!("running {} --version", binary.display()), e))?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let version = text.rsplit('v').next().unwrap_or_default().to_string();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let Some((major, minor)) = parts.next().flatten().zip(parts.next().flatten()) else {
        return Err(ServersError::Unsuitable(format!(
            "{} --version printed {text:?}, not a nats-server version",
            binary.display()
        )));
    };
    if (major, minor) < MIN_NATS_VERSION {
        return Err(ServersError::Unsuitable(format!(
            "{} is nats-server {version}, but JetStream KV needs 2.10 or newer (Debian ships \
             2.9); run `python3 scripts/provision.py --only servers` and set TESSERA_CACHE, or \
             set TESSERA_NATS_SERVER to a newer binary",
            binary.display()
        )));
    }
    Ok(version)
}

/// A config-file string literal.
fn quote(path: &Path) -> String {
    let s = path.to_string_lossy();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
