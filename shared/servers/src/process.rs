//! [`Supervised`]: a server as a child process, with its output in a log file, a wait until
//! it answers, and a graceful stop; and the probes that tell when a server answers.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ServersError, io};

/// How long a stop waits after SIGTERM before it kills.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Log lines quoted when a server does not start.
const TAIL_LINES: usize = 20;

/// A server running as a child process, stopped when dropped.
#[derive(Debug)]
pub struct Supervised {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Supervised {
    /// Starts `command` with its output appended to `log`, then polls `ready` every 25 ms
    /// for up to `timeout`. A server that exits or does not become ready is an error that
    /// quotes the end of `log` (and of `extra_log`, the server's own log file, if any).
    pub fn start(
        name: &'static str,
        mut command: Command,
        log: &Path,
        extra_log: Option<&Path>,
        timeout: Duration,
        ready: impl Fn() -> bool,
    ) -> Result<Supervised, ServersError> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| io(format!("opening {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| io(format!("opening {}", log.display()), e))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io(format!("starting {name} ({:?})", command.get_program()), e))?;
        let mut s = Supervised {
            name,
            child: Some(child),
            log: log.to_path_buf(),
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                s.child = None;
                return Err(s.not_ready(&format!("exited ({status}) as it started"), extra_log));
            }
            if ready() {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                s.kill();
                return Err(s.not_ready(&format!("did not answer within {timeout:?}"), extra_log));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The file its output goes to.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Stops it: SIGTERM, then SIGKILL after 10 s. Stopping a stopped server does nothing.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if terminate(child.id()) {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            tracing::warn!(
                server = self.name,
                "did not stop within 10 s of SIGTERM; killing it"
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills it at once (SIGKILL), as a crash would. Killing a stopped server does nothing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn not_ready(&self, what: &str, extra_log: Option<&Path>) -> ServersError {
        let mut text = tail(&self.log, TAIL_LINES);
        if let Some(extra) = extra_log {
            text.push('\n');
            text.push_str(&tail(extra, TAIL_LINES));
        }
        ServersError::NotReady(format!(
            "{} {what}; the end of its log ({}):\n{text}",
            self.name,
            self.log.display()
        ))
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGTERM to `pid`; whether it was sent.
pub(crate) fn terminate(pid: u32) -> bool {
    #[cfg(unix)]
    {
        i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .is_some_and(|pid| {
                rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
            })
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// The last `n` lines of a file, or a note saying why there are none.
pub fn tail(path: &Path, n: usize) -> String {
    let mut text = String::new();
    match File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(no log: {e})"),
    }
}

/// The first `binary` on the `PATH`.
pub fn on_path(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(binary))
        .find(|p| p.is_file())
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> Result<u16, ServersError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| io("finding a free loopback port", e))
}

/// Whether `127.0.0.1:port` can be bound now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Whether `GET path` on `127.0.0.1:port` answers 200.
pub fn http_ok(port: u16, path: &str) -> bool {
    let Some(mut s) = connect(port) else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let head = read_some(&mut s, 12);
    head.starts_with("HTTP/1.") && head.get(9..12) == Some("200")
}

/// Whether a Redis server on `127.0.0.1:port` answers `PING` with `PONG`.
pub fn redis_pong(port: u16) -> bool {
    let Some(mut s) = connect(port) else {
        return false;
    };
    s.write_all(b"PING\r\n").is_ok() && read_some(&mut s, 7).starts_with("+PONG")
}

fn connect(port: u16) -> Option<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    Some(s)
}

fn read_some(s: &mut TcpStream, want: usize) -> String {
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < want {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
