//! `tessera read-file` (hidden): reads one file in this process and writes the acquisition as
//! `tessera_formats::wire` bytes to stdout. The other commands run it as a child process for
//! HDF5 files, so that libhdf5 crashing or hanging on a damaged file costs one file, not the
//! command (`tessera_instrument::files`). Its address space is capped at what the limits
//! allow the largest signal, so a decompression bomb inside libhdf5 stops here too.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use rustix::process::{Resource, Rlimit, setrlimit};
use tessera_formats::{ReadLimits, max_values, wire};
use tessera_instrument::{InstrumentError, files};

use crate::cli::ReadFileArgs;

pub(crate) fn run(args: &ReadFileArgs) -> Result<ExitCode> {
    let limits = ReadLimits {
        max_pixels: args.max_pixels,
        max_pages: args.max_pages,
    };
    // Twice the largest signal's f32 values (the data and its conversion), plus 1 GiB for the
    // program and libhdf5's own buffers.
    let cap = max_values(&limits)
        .saturating_mul(8)
        .saturating_add(1 << 30);
    setrlimit(
        Resource::As,
        Rlimit {
            current: Some(cap),
            maximum: Some(cap),
        },
    )
    .context("capping the reader's memory")?;
    let bytes =
        std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    match files::decode_in_process(&args.path, &bytes, &limits) {
        Ok(a) => {
            let out = wire::encode(&a)?;
            std::io::stdout().lock().write_all(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(InstrumentError::Format { source, .. }) => {
            // The parent names the file; the reader's message says what is wrong with it.
            eprintln!("{source}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
