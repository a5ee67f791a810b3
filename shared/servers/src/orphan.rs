//! Servers left running by an owner that was killed: found by their pid file, and stopped
//! before a new server starts on the same data.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::terminate;

/// How long to wait for an orphan to exit after SIGTERM.
const WAIT: Duration = Duration::from_secs(10);

/// Stops the process named in `pid_file` if it is still running and is `binary` (its
/// command line says so, so a recycled pid is left alone), then removes the file.
pub(crate) fn stop(pid_file: &Path, binary: &str) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    if is(pid, binary) {
        tracing::warn!(pid, binary, pid_file = %pid_file.display(),
            "a server left running by an earlier start holds this data; stopping it");
        terminate(pid);
        let deadline = Instant::now() + WAIT;
        while is(pid, binary) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_file(pid_file);
}

/// Whether process `pid` runs `binary` (from `/proc`; false where there is none).
fn is(pid: u32, binary: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(binary))
}
