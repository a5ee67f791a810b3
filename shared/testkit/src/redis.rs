//! The redis-server guard: a real `redis-server` on a free loopback port, with no
//! persistence, a temporary working directory and a log file; killed when dropped.
//!
//! A password, when set, goes in a config file in the temporary directory, so it never
//! shows in the process list.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TestkitError, find_binary, free_port, tail};

/// How long a started server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many fresh ports [`RedisServer::start`] tries when the chosen one is taken.
const PORT_ATTEMPTS: usize = 3;

/// A running `redis-server`, owned by this guard.
///
/// `Drop` kills the server and deletes its directory. [`RedisServer::stop`] and
/// [`RedisServer::start_again`] simulate an outage on the same port.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    password: Option<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a redis-server with no authentication.
    pub fn start() -> Result<Self, TestkitError> {
        Self::start_inner(None)
    }

    /// Starts a redis-server that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> Result<Self, TestkitError> {
        Self::start_inner(Some(password.to_owned()))
    }

    fn start_inner(password: Option<String>) -> Result<Self, TestkitError> {
        let binary = find_binary("redis-server", "TESSERA_REDIS_SERVER")?;
        let dir = tempfile::Builder::new()
            .prefix("tessera-redis-")
            .tempdir()
            .map_err(|source| TestkitError::Io {
                context: "creating the redis-server temporary directory".into(),
                source,
            })?;
        if let Some(pw) = &password {
            std::fs::write(
                dir.path().join("auth.conf"),
                format!("requirepass \"{pw}\"\n"),
            )
            .map_err(|source| TestkitError::Io {
                context: "writing the redis-server auth config".into(),
                source,
            })?;
        }
        let mut server = Self {
            binary,
            port: 0,
            password,
            dir,
            child: None,
        };
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.spawn_and_wait() {
                Ok(()) => return Ok(server),
                // The port may have been taken between `free_port` and the bind: try another.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| TestkitError::NotReady("redis-server did not start".into())))
    }

    /// `redis://[:password@]127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/", self.port),
            None => self.url_without_password(),
        }
    }

    /// `redis://127.0.0.1:PORT/`, for passing the password separately.
    pub fn url_without_password(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The loopback port the server listens on (kept across [`stop`](Self::stop)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server process is running (started and not stopped).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it; the port number is kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port after [`stop`](Self::stop); the data is gone
    /// (no persistence). Does nothing if it is running.
    pub fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.is_running() {
            return Ok(());
        }
        self.stop();
        self.spawn_and_wait()
    }

    /// The last lines of the server's log (stdout and stderr of every start).
    pub fn log_tail(&self) -> String {
        tail(&self.log_path(), 20)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn spawn_and_wait(&mut self) -> Result<(), TestkitError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|source| TestkitError::Io {
                context: "opening the redis-server log".into(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| TestkitError::Io {
            context: "duplicating the redis-server log handle".into(),
            source,
        })?;
        let mut cmd = Command::new(&self.binary);
        if self.password.is_some() {
            // The config file must come first on redis-server's command line.
            cmd.arg(self.dir.path().join("auth.conf"));
        }
        cmd.args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = cmd.spawn().map_err(|source| TestkitError::Io {
            context: format!("starting {}", self.binary.display()),
            source,
        })?;
        self.child = Some(child);
        match self.wait_ready() {
            Ok(()) => Ok(()),
            Err(why) => {
                self.stop();
                Err(TestkitError::NotReady(format!(
                    "redis-server on port {} not ready: {why}\n--- log tail ({}) ---\n{}",
                    self.port,
                    self.log_path().display(),
                    self.log_tail()
                )))
            }
        }
    }

    /// Polls with `[AUTH] PING` over plain RESP until `+PONG`, the process exits, or
    /// [`READY_TIMEOUT`] passes.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("redis-server exited early ({status})"));
            }
            match ping(addr, self.password.as_deref()) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!("no PONG within {READY_TIMEOUT:?} (last: {last})"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One RESP round trip: `AUTH` (if any) then `PING`; `Ok` on `+PONG`.
fn ping(addr: SocketAddr, password: Option<&str>) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let mut request = Vec::new();
    if let Some(pw) = password {
        request
            .extend_from_slice(format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{pw}\r\n", pw.len()).as_bytes());
    }
    request.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    stream
        .write_all(&request)
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = stream.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed".into());
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if text.contains("+PONG\r\n") {
            return Ok(());
        }
        if let Some(err) = text.lines().find(|l| l.starts_with('-')) {
            // Never echo the request: it holds the password. Redis's own errors don't.
            return Err(format!("server replied {err}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_stops_and_starts_again_on_the_same_port() -> Result<(), TestkitError> {
        let mut server = RedisServer::start()?;
        let port = server.port();
        assert!(ping(SocketAddr::from(([127, 0, 0, 1], port)), None).is_ok());
        server.stop();
        assert!(ping(SocketAddr::from(([127, 0, 0, 1], port)), None).is_err());
        server.start_again()?;
        assert_eq!(server.port(), port);
        assert!(ping(SocketAddr::from(([127, 0, 0, 1], port)), None).is_ok());
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/"));
        Ok(())
    }

    #[test]
    fn password_is_required_and_kept_off_the_command_line() -> Result<(), TestkitError> {
        let server = RedisServer::start_with_password("s3cret-pw")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
        assert!(ping(addr, Some("s3cret-pw")).is_ok());
        let err = ping(addr, None).unwrap_err();
        assert!(err.contains("NOAUTH"), "{err}");
        assert!(ping(addr, Some("wrong")).is_err());
        #[cfg(target_os = "linux")]
        if let Some(child) = &server.child {
            let cmdline =
                std::fs::read(format!("/proc/{}/cmdline", child.id())).map_err(|source| {
                    TestkitError::Io {
                        context: "reading the server's command line".into(),
                        source,
                    }
                })?;
            assert!(!String::from_utf8_lossy(&cmdline).contains("s3cret-pw"));
        }
        assert_eq!(
            server.url(),
            format!("redis://:s3cret-pw@127.0.0.1:{}/", server.port())
        );
        Ok(())
    }

    #[test]
    fn drop_deletes_the_directory() -> Result<(), TestkitError> {
        let server = RedisServer::start()?;
        let dir = server.dir.path().to_path_buf();
        assert!(dir.is_dir());
        drop(server);
        assert!(!dir.exists());
        Ok(())
    }
}
