//! Reading a file in a child process (see `files.rs`): the child writes the acquisition as
//! [`tessera_formats::wire`] bytes; a crash (a signal), a hang (past a time limit) or an error
//! there becomes an [`InstrumentError`] that names the file and the way out.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_formats::ReadLimits;

use crate::InstrumentError;

/// The longest a child may take: 60 s, plus one second per 20 MB of file.
fn time_limit(file_bytes: usize) -> Duration {
    Duration::from_secs(60 + (file_bytes / 20_000_000) as u64)
}

/// Reads `path` with `reader read-file`, within [`time_limit`].
pub(crate) fn read(
    reader: &Path,
    path: &Path,
    file_bytes: usize,
    limits: &ReadLimits,
) -> Result<tessera_formats::Acquisition, InstrumentError> {
    let failed =
        |why: String| InstrumentError::Invalid(format!("reading {}: {why}", path.display()));
    let mut child = Command::new(reader)
        .arg("read-file")
        .args(["--max-pixels", &limits.max_pixels.to_string()])
        .args(["--max-pages", &limits.max_pages.to_string()])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            failed(format!(
                "could not start the reader {}: {e}",
                reader.display()
            ))
        })?;
    // Drained on their own threads, so a large acquisition never blocks the child on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let limit = time_limit(file_bytes);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "the HDF5 reader did not finish within {} s; the file is damaged (libhdf5 \
                     loops on some damage) or far larger than it should be: check it with \
                     h5dump, or re-export it",
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(failed(format!("waiting for the reader: {e}"))),
        }
    };
    let bytes = out.join().ok().and_then(Result::ok).unwrap_or_default();
    let message = err.join().unwrap_or_default();
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        return Err(match status.signal() {
            Some(sig) => failed(format!(
                "libhdf5 crashed on this file (signal {sig}); the file is damaged: re-export it \
                 from the instrument software, or check it with h5dump"
            )),
            None => failed(
                message
                    .trim()
                    .trim_start_matches("error: ")
                    .lines()
                    .last()
                    .unwrap_or("the reader failed")
                    .to_string(),
            ),
        });
    }
    tessera_formats::wire::decode(&bytes).map_err(|e| failed(e.to_string()))
}
