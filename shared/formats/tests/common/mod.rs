//! Shared by the real-file tests: where the provisioned instrument files are.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;

use tessera_formats::{Acquisition, Companions, ReadLimits, read};

/// `$TESSERA_CACHE/instrument-files` (default `~/.cache/tessera/instrument-files`).
pub fn instrument_dir() -> PathBuf {
    let cache = std::env::var_os("TESSERA_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tessera")
        });
    cache.join("instrument-files")
}

/// The path of a provisioned instrument file, by its path inside its package (as in
/// `scripts/tessera_provision/instrument_files.tsv`, with `!/` written `/`). Panics with the
/// way out when it is missing.
pub fn instrument_file(rel: &str) -> PathBuf {
    let p = instrument_dir().join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run `python3 scripts/provision.py --only instrument-files` \
         (scripts/test.sh does) with the same TESSERA_CACHE",
        p.display()
    );
    p
}

/// Companion files from the same folder as the file read.
pub struct Beside(pub PathBuf);

impl Companions for Beside {
    fn read(&self, file_name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(file_name)).ok()
    }
}

/// Reads a provisioned instrument file with the default limits, companions from its folder.
pub fn read_instrument(rel: &str) -> Acquisition {
    let p = instrument_file(rel);
    let bytes = std::fs::read(&p).unwrap();
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    read(
        &name,
        &bytes,
        &Beside(p.parent().unwrap().to_path_buf()),
        &ReadLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Asserts `a` is within a relative `tol` of `b`.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}
