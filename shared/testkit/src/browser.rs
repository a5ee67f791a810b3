//! The browser guard: a real `chromedriver` on a free loopback port driving a headless
//! Chromium through a WebDriver session ([`fantoccini`], plain HTTP, no TLS).
//!
//! chromedriver is `$TESSERA_CHROMEDRIVER` or `chromedriver` on `PATH` (Debian's
//! `chromium-driver`, which `scripts/install-browser.sh` installs); `$TESSERA_CHROMIUM`
//! overrides the browser binary. [`Browser::close`] ends the session, which makes chromedriver
//! quit Chromium; `Drop` does the same synchronously when `close` was not called (a failing
//! test), kills Chromium by its process id if that fails, and then kills chromedriver, so no
//! browser outlives its test.
//!
//! The helpers poll every 100 ms and fail with an error naming what they waited for and the
//! page's URL. [`Browser::screenshot`] saves PNGs under `$TESSERA_TEST_ARTIFACTS`, else
//! `<workspace>/target/test-artifacts/`, for CI to keep.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{ChildGuard, TestkitError, find_binary, free_port, tail};

/// How long a started chromedriver has to report itself ready on `/status`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening the session (starting Chromium) may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one WebDriver command may take (a page load included).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `Drop` waits for chromedriver to end the session and quit Chromium.
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the `wait_*` helpers poll.
const POLL: Duration = Duration::from_millis(100);
/// How many times an element replaced under a read is found again before giving up.
const STALE_RETRIES: usize = 5;
/// How many fresh ports [`Browser::start`] tries when the chosen one is taken.
const PORT_ATTEMPTS: usize = 3;
/// Log lines quoted in a start-up error.
const TAIL_LINES: usize = 30;
/// Chromium's command line: headless, fit for containers (root, small `/dev/shm`, no GPU),
/// quiet, and a desktop-sized window.
const CHROMIUM_ARGS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
];

/// A headless Chromium behind a chromedriver, both owned by this guard.
///
/// Call [`Browser::close`] at the end of a test; `Drop` cleans up when it was not called.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    session_id: Option<String>,
    browser_pid: Option<u32>,
    port: u16,
    /// Dropped (killed) after the session is ended.
    driver: Option<ChildGuard>,
    dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free loopback port, waits until it is ready and opens a
    /// session with a headless Chromium.
    pub async fn start() -> Result<Self, TestkitError> {
        let binary = find_binary("chromedriver", "TESSERA_CHROMEDRIVER").map_err(|_| {
            TestkitError::Browser(
                "chromedriver not found (looked at $TESSERA_CHROMEDRIVER, $TESSERA_CACHE/venv/bin \
                 and PATH); run scripts/install-browser.sh, which installs Debian's chromium and \
                 chromium-driver, or set TESSERA_CHROMEDRIVER to its path"
                    .into(),
            )
        })?;
        let dir = tempfile::Builder::new()
            .prefix("tessera-browser-")
            .tempdir()
            .map_err(|source| io("creating the chromedriver temporary directory", source))?;
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let driver = spawn_driver(&binary, port, dir.path())?;
            match wait_ready(port, driver).await {
                Ok(driver) => return Self::open_session(port, driver, dir).await,
                // The port may have been taken between `free_port` and the bind: try another.
                Err(why) => last = Some(why),
            }
        }
        let why = last.unwrap_or_else(|| "no attempt made".into());
        Err(TestkitError::NotReady(format!(
            "chromedriver not ready: {why}\n--- log tail ({}) ---\n{}",
            dir.path().join("chromedriver.log").display(),
            tail(&dir.path().join("chromedriver.log"), TAIL_LINES)
        )))
    }

    /// Opens the session on a ready chromedriver.
    async fn open_session(
        port: u16,
        driver: ChildGuard,
        dir: tempfile::TempDir,
    ) -> Result<Self, TestkitError> {
        let mut options = json!({ "args": CHROMIUM_ARGS });
        if let Some(binary) = std::env::var_os("TESSERA_CHROMIUM") {
            options["binary"] = Value::String(binary.to_string_lossy().into_owned());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{port}");
        let connect = builder.connect(&webdriver);
        let why = match tokio::time::timeout(SESSION_TIMEOUT, connect).await {
            Ok(Ok(client)) => {
                let browser_pid = client
                    .capabilities()
                    .and_then(|c| c.get("goog:processID"))
                    .and_then(Value::as_u64)
                    .and_then(|pid| u32::try_from(pid).ok());
                let session_id = client.session_id().await.ok().flatten();
                return Ok(Self {
                    client,
                    session_id,
                    browser_pid,
                    port,
                    driver: Some(driver),
                    dir,
                });
            }
            Ok(Err(e)) => format!("opening the session: {e}"),
            Err(_) => format!("opening the session took over {SESSION_TIMEOUT:?}"),
        };
        drop(driver);
        let log = dir.path().join("chromedriver.log");
        Err(TestkitError::Browser(format!(
            "headless Chromium did not start ({why}); is chromium installed (run \
             scripts/install-browser.sh) or $TESSERA_CHROMIUM right?\n--- chromedriver log tail \
             ({}) ---\n{}",
            log.display(),
            tail(&log, TAIL_LINES)
        )))
    }

    /// The WebDriver client, for anything the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// chromedriver's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the Chromium this session drives, as chromedriver reports it.
    pub fn browser_pid(&self) -> Option<u32> {
        self.browser_pid
    }

    /// The last lines of chromedriver's log.
    pub fn log_tail(&self) -> String {
        tail(&self.log_path(), TAIL_LINES)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("chromedriver.log")
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<(), TestkitError> {
        self.command(&format!("loading {url}"), self.client.goto(url))
            .await
    }

    /// The page's current URL (or why it could not be read).
    pub async fn url(&self) -> String {
        match tokio::time::timeout(COMMAND_TIMEOUT, self.client.current_url()).await {
            Ok(Ok(url)) => url.to_string(),
            Ok(Err(e)) => format!("(unknown: {e})"),
            Err(_) => "(unknown: no answer)".into(),
        }
    }

    /// The value of the JavaScript expression `js` (run as `return (js);`).
    pub async fn eval(&self, js: &str) -> Result<Value, TestkitError> {
        self.command(
            &format!("evaluating `{js}`"),
            self.client.execute(&format!("return ({js});"), Vec::new()),
        )
        .await
    }

    /// The rendered text of the first element matching the CSS selector `css`.
    ///
    /// A page may replace the element between finding it and reading it (the dashboard
    /// redraws its badges on every server event); then it is found again, up to
    /// `STALE_RETRIES` times, so a read never fails on a redraw it did not care about.
    pub async fn text(&self, css: &str) -> Result<String, TestkitError> {
        let what = format!("reading the text of `{css}`");
        let mut tries = 0;
        loop {
            let element = self
                .command(&what, self.client.find(Locator::Css(css)))
                .await?;
            match tokio::time::timeout(COMMAND_TIMEOUT, element.text()).await {
                Ok(Ok(text)) => return Ok(text),
                Ok(Err(e)) if e.is_stale_element_reference() && tries < STALE_RETRIES => {
                    tries += 1;
                }
                Ok(Err(e)) => return Err(TestkitError::Browser(format!("{what}: {e}"))),
                Err(_) => {
                    return Err(TestkitError::Browser(format!(
                        "{what}: no answer within {COMMAND_TIMEOUT:?}"
                    )));
                }
            }
        }
    }

    /// Waits until an element matches the CSS selector `css`, polling every 100 ms.
    pub async fn wait_for_element(
        &self,
        css: &str,
        timeout: Duration,
    ) -> Result<Element, TestkitError> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left.max(POLL), self.client.find(Locator::Css(css))).await {
                Ok(Ok(element)) => return Ok(element),
                Ok(Err(e)) if e.is_no_such_element() => last = "no match".into(),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "no answer from the browser".into(),
            }
            if Instant::now() >= deadline {
                return Err(self
                    .timeout_error(&format!("an element matching `{css}`"), timeout, &last)
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the JavaScript expression `js` is truthy, polling every 100 ms; an
    /// expression that throws counts as false (the last error is quoted on timeout).
    pub async fn wait_until(&self, js: &str, timeout: Duration) -> Result<(), TestkitError> {
        let deadline = Instant::now() + timeout;
        let script = format!("return Boolean({js});");
        let mut last;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left.max(POLL), self.client.execute(&script, Vec::new()))
                .await
            {
                Ok(Ok(Value::Bool(true))) => return Ok(()),
                Ok(Ok(v)) => last = v.to_string(),
                Ok(Err(e)) => last = format!("threw {e}"),
                Err(_) => last = "no answer from the browser".into(),
            }
            if Instant::now() >= deadline {
                return Err(self
                    .timeout_error(&format!("until `{js}`"), timeout, &last)
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn timeout_error(&self, what: &str, timeout: Duration, last: &str) -> TestkitError {
        TestkitError::Browser(format!(
            "timed out after {timeout:?} waiting for {what} on {} (last: {last})",
            self.url().await
        ))
    }

    /// Saves a PNG of the viewport as `<artifacts>/<name>.png` (see [`artifacts_dir`]) and
    /// returns its path. Characters other than letters, digits, `-`, `_` and `.` in `name`
    /// become `_`.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, TestkitError> {
        let png = self
            .command(
                &format!("taking screenshot {name}"),
                self.client.screenshot(),
            )
            .await?;
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|source| io(&format!("creating {}", dir.display()), source))?;
        let stem: String = name
            .trim_end_matches(".png")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{stem}.png"));
        std::fs::write(&path, png)
            .map_err(|source| io(&format!("writing {}", path.display()), source))?;
        Ok(path)
    }

    /// Ends the session (chromedriver quits Chromium) and stops chromedriver.
    pub async fn close(mut self) {
        let closed = tokio::time::timeout(QUIT_TIMEOUT, self.client.clone().close()).await;
        if matches!(closed, Ok(Ok(()))) {
            // Nothing left for `Drop` but chromedriver itself.
            self.session_id = None;
            self.browser_pid = None;
        }
    }

    /// Runs one WebDriver command with [`COMMAND_TIMEOUT`].
    async fn command<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<T, fantoccini::error::CmdError>>,
    ) -> Result<T, TestkitError> {
        match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(TestkitError::Browser(format!("{what}: {e}"))),
            Err(_) => Err(TestkitError::Browser(format!(
                "{what}: no answer within {COMMAND_TIMEOUT:?}"
            ))),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Without `close`, fantoccini would end the session from a background task after
        // chromedriver is gone; end it here, synchronously, so chromedriver quits Chromium.
        let ended = match self.session_id.take() {
            Some(id) => delete_session(self.port, &id),
            None => true,
        };
        drop(self.driver.take());
        if !ended && let Some(pid) = self.browser_pid.take() {
            kill_browser(pid);
        }
    }
}

/// Where screenshots and other test artifacts go: `$TESSERA_TEST_ARTIFACTS`, else
/// `<workspace>/target/test-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TESSERA_TEST_ARTIFACTS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate lives at <workspace>/shared/testkit.
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .join("target/test-artifacts")
}

fn spawn_driver(binary: &Path, port: u16, dir: &Path) -> Result<ChildGuard, TestkitError> {
    let log_path = dir.join("chromedriver.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| io("opening the chromedriver log", source))?;
    let log_err = log
        .try_clone()
        .map_err(|source| io("duplicating the chromedriver log handle", source))?;
    // chromedriver and Chromium put the profile and other scratch directories under $TMPDIR;
    // keep them in the guard's directory, deleted with it.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|source| io("creating the browser's temporary directory", source))?;
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|source| io(&format!("starting {}", binary.display()), source))?;
    Ok(ChildGuard(child))
}

/// Polls `GET /status` until `"ready": true`, the process exits, or [`READY_TIMEOUT`] passes.
/// On failure the guard is dropped (chromedriver killed).
async fn wait_ready(port: u16, mut driver: ChildGuard) -> Result<ChildGuard, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::from("no answer yet");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = driver.0.try_wait() {
            return Err(format!(
                "chromedriver on port {port} exited early ({status})"
            ));
        }
        match tokio::time::timeout(Duration::from_secs(1), status(port)).await {
            Ok(Ok(body)) if body.contains("\"ready\":true") => return Ok(driver),
            Ok(Ok(body)) => last = format!("not ready: {body}"),
            Ok(Err(e)) => last = e,
            Err(_) => last = "no answer to GET /status".into(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "chromedriver on port {port}: not ready within {READY_TIMEOUT:?} (last: {last})"
    ))
}

/// chromedriver's `GET /status` body.
async fn status(port: u16) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .map_err(|e| format!("write: {e}"))?;
    // chromedriver sends `Connection: close` but keeps the connection open: read up to
    // `Content-Length`, not to the end.
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        reply.extend_from_slice(&buf[..n]);
        if let Some(body) = complete_body(&reply) {
            return Ok(body);
        }
        if n == 0 {
            return Err(format!(
                "connection closed mid-reply: {}",
                String::from_utf8_lossy(&reply)
            ));
        }
    }
}

/// The body of a complete HTTP reply (headers and `Content-Length` bytes), if `reply` is one.
fn complete_body(reply: &[u8]) -> Option<String> {
    let end = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&reply[..end]);
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let body = &reply[end + 4..];
    (body.len() >= length).then(|| String::from_utf8_lossy(&body[..length]).into_owned())
}

/// `DELETE /session/{id}` over a blocking socket (for `Drop`); whether chromedriver answered
/// 200, having quit Chromium.
fn delete_session(port: u16, id: &str) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(QUIT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let request = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    // chromedriver answers once Chromium has quit; the status line is all that matters (it
    // keeps the connection open despite `Connection: close`).
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    while !reply.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    reply.starts_with(b"HTTP/1.1 200")
}

/// SIGKILLs Chromium's main process; its helpers and crash handler follow it.
fn kill_browser(pid: u32) {
    #[cfg(unix)]
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn io(context: &str, source: std::io::Error) -> TestkitError {
    TestkitError::Io {
        context: context.into(),
        source,
    }
}
