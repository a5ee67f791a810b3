//! The nats-server guard: a real `nats-server` (2.10 or newer, for JetStream KV) with
//! JetStream on, on free loopback ports (client and monitoring), with a temporary store and a
//! log file; killed when dropped, and its store deleted.
//!
//! Everything the server is told goes in a config file in the temporary directory, so extra
//! configuration (users, passwords, permissions, TLS) never shows in the process list.
//! [`NatsServer::stop`] and [`NatsServer::start_again`] keep the store and the port, so a test
//! can restart the server mid-run on a file store.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tessera_servers::Supervised;

use crate::{TestkitError, find_binary, free_port};

/// How long a started server has to report itself healthy (JetStream included).
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh port pairs a first start tries when a chosen port is taken.
const PORT_ATTEMPTS: usize = 3;

/// How to start a [`NatsServer`]: made by [`NatsServer::builder`].
#[derive(Debug, Clone, Default)]
pub struct NatsServerBuilder {
    extra_conf: String,
    jetstream_conf: String,
    name: Option<String>,
}

impl NatsServerBuilder {
    /// Appends `text` to the generated config file, after `listen`, `http`, `jetstream` and
    /// `log_file`; for example an `authorization { users = [...] }` block with subject
    /// permissions, an `accounts` block, or a `tls { ... }` block. Called twice, both are kept.
    pub fn config(mut self, text: &str) -> Self {
        self.extra_conf.push_str(text);
        self.extra_conf.push('\n');
        self
    }

    /// Appends `text` inside the generated `jetstream { ... }` block, e.g.
    /// `max_file_store: 200GB` (by default the server allows 75% of the free disk).
    pub fn jetstream(mut self, text: &str) -> Self {
        self.jetstream_conf.push_str(text);
        self.jetstream_conf.push('\n');
        self
    }

    /// The server's name (`server_name`), shown in its log and in `INFO`.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Starts the server and waits until it is healthy with JetStream enabled.
    pub fn start(self) -> Result<NatsServer, TestkitError> {
        let binary = find_binary("nats-server", "TESSERA_NATS_SERVER")?;
        let version = check_version(&binary)?;
        let dir = tempfile::Builder::new()
            .prefix("tessera-nats-")
            .tempdir()
            .map_err(|source| io("creating the nats-server temporary directory", source))?;
        let mut server = NatsServer {
            binary,
            version,
            builder: self,
            dir,
            port: 0,
            monitor_port: 0,
            process: None,
        };
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            server.monitor_port = free_port()?;
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                // A port may have been taken between `free_port` and the bind: try others.
                Err(e) if e.to_string().contains("address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| TestkitError::NotReady("nats-server did not start".into())))
    }
}

/// A running `nats-server` with JetStream, owned by this guard.
///
/// `Drop` kills the server and deletes its store and log.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    version: String,
    builder: NatsServerBuilder,
    dir: tempfile::TempDir,
    port: u16,
    monitor_port: u16,
    process: Option<Supervised>,
}

impl NatsServer {
    /// Starts a nats-server with JetStream on and no authentication.
    pub fn start() -> Result<Self, TestkitError> {
        Self::builder().start()
    }

    /// Starts a nats-server whose config file also holds `extra_conf` (see
    /// [`NatsServerBuilder::config`]).
    pub fn with_config(extra_conf: &str) -> Result<Self, TestkitError> {
        Self::builder().config(extra_conf).start()
    }

    /// A builder for servers with extra configuration.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
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

    /// The JetStream store directory (kept across [`NatsServer::stop`]).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats-server.log")
    }

    /// The last `lines` lines of the server's log (and of anything it wrote to stderr).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        for name in ["stderr.log", "nats-server.log"] {
            if let Ok(mut f) = File::open(self.dir.path().join(name)) {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                text.push_str(&s);
            }
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Supervised::is_running)
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s); the store and the
    /// port are kept for [`NatsServer::start_again`]. Stopping a stopped server does nothing.
    pub fn stop(&mut self) -> Result<(), TestkitError> {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
        Ok(())
    }

    /// Kills the server at once (SIGKILL), as a crash would; the store and the port are kept.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts the server again after [`NatsServer::stop`] or [`NatsServer::kill`], on the same
    /// ports with the same store and configuration, and waits until it is healthy. Does
    /// nothing if it is running.
    pub fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.is_running() {
            return Ok(());
        }
        self.spawn_and_wait()
    }

    /// [`NatsServer::stop`], then [`NatsServer::start_again`].
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop()?;
        self.start_again()
    }

    fn write_config(&self) -> Result<PathBuf, TestkitError> {
        let path = self.dir.path().join("nats-server.conf");
        let name = self.builder.name.as_deref().unwrap_or("tessera-test");
        let text = format!(
            "server_name: {name}\n\
             listen: 127.0.0.1:{port}\n\
             http: 127.0.0.1:{mport}\n\
             log_file: {log}\n\
             jetstream {{\n  store_dir: {store}\n{js}}}\n\
             {extra}",
            name = quote(name),
            port = self.port,
            mport = self.monitor_port,
            log = quote(&self.log_path().to_string_lossy()),
            store = quote(&self.store_dir().to_string_lossy()),
            js = self.builder.jetstream_conf,
            extra = self.builder.extra_conf,
        );
        std::fs::write(&path, text)
            .map_err(|source| io("writing the nats-server config", source))?;
        Ok(path)
    }

    fn spawn_and_wait(&mut self) -> Result<(), TestkitError> {
        let conf = self.write_config()?;
        let mut command = Command::new(&self.binary);
        command.arg("-c").arg(&conf);
        let monitor_port = self.monitor_port;
        let process = Supervised::start(
            "nats-server",
            command,
            &self.dir.path().join("stderr.log"),
            Some(&self.log_path()),
            READY_TIMEOUT,
            || healthz(monitor_port),
        )
        .map_err(|e| {
            TestkitError::NotReady(format!(
                "nats-server {} ({}) on 127.0.0.1:{}: {e}",
                self.version,
                self.binary.display(),
                self.port
            ))
        })?;
        self.process = Some(process);
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        // The TempDir field deletes the store and the log after this.
    }
}

fn io(context: &str, source: std::io::Error) -> TestkitError {
    TestkitError::Io {
        context: context.into(),
        source,
    }
}

/// A config-file string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `nats-server --version` ("nats-server: v2.15.1") must say 2.10 or newer.
fn check_version(binary: &Path) -> Result<String, TestkitError> {
    tessera_servers::nats_version(binary).map_err(|e| TestkitError::NotReady(e.to_string()))
}

/// `GET /healthz` on the monitoring port answers 200: the server is up and JetStream is
/// enabled and current.
fn healthz(monitor_port: u16) -> bool {
    tessera_servers::http_ok(monitor_port, "/healthz")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpStream;

    use super::*;

    fn server() -> Option<NatsServer> {
        match NatsServer::start() {
            Ok(s) => Some(s),
            Err(TestkitError::NotFound { .. }) => {
                eprintln!("nats-server not installed: skipping");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn client_ping(port: u16) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        if !buf[..n].starts_with(b"INFO ") {
            return false;
        }
        s.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .unwrap();
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).contains("PONG")
    }

    #[test]
    fn starts_stops_restarts_and_cleans_up() {
        let Some(mut s) = server() else { return };
        assert!(s.url().starts_with("nats://127.0.0.1:"));
        assert!(client_ping(s.port()));
        assert!(s.store_dir().is_dir(), "JetStream store exists");
        let port = s.port();
        s.stop().unwrap();
        assert!(!client_ping(port));
        assert!(s.store_dir().is_dir(), "stop keeps the store");
        s.start_again().unwrap();
        assert_eq!(s.port(), port);
        assert!(client_ping(port));
        s.restart().unwrap();
        assert!(client_ping(port));
        let dir = s.dir.path().to_path_buf();
        drop(s);
        assert!(!dir.exists(), "drop deletes the store");
        assert!(!client_ping(port));
    }

    #[test]
    fn bad_config_reports_the_log_tail() {
        let err = match NatsServer::with_config("this is { not valid") {
            Err(TestkitError::NotFound { .. }) => return,
            Err(e) => e.to_string(),
            Ok(_) => panic!("a broken config must not start"),
        };
        assert!(err.contains("exited"), "{err}");
        assert!(err.contains("Parse error"), "the log tail says why: {err}");
        assert_eq!(err.matches("Parse error").count(), 1, "not retried: {err}");
    }

    #[test]
    fn extra_config_is_applied() {
        let conf = "authorization { users = [ { user: alice, password: s3cret } ] }";
        let s = match NatsServer::with_config(conf) {
            Err(TestkitError::NotFound { .. }) => return,
            r => r.unwrap(),
        };
        // Without credentials the server says the connection is not authorised.
        let mut c = TcpStream::connect(("127.0.0.1", s.port())).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("\"auth_required\":true"));
    }
}
