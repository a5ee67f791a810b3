//! What the command-line tests share: running the real `tessera` binary and reading what it
//! printed.

use std::process::{Command, Output};

/// Runs `tessera` with `args` and waits for it.
pub(crate) fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("running tessera")
}

/// Everything the run printed, standard output then standard error.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
