//! The `tessera` command: segments micrographs on one machine with no services, runs the
//! synthetic demo, scores segmentations against ground truth, and provisions the runtime and
//! models into the local cache.

mod classes;
mod cli;
mod commands;
mod engine;
mod inputs;
mod output;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // HDF5 files are read in a child `tessera read-file`: libhdf5 can crash on a damaged one.
    if !matches!(cli.command, cli::Command::ReadFile(_))
        && let Ok(me) = std::env::current_exe()
    {
        tessera_instrument::files::isolate_hdf5_with(me);
    }
    // `tessera up` logs as the services do, from [telemetry] (its command sets that up): a
    // subscriber installed here first would keep its own filter and colours instead.
    if !matches!(cli.command, cli::Command::Up(_)) {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .with_ansi(tessera_telemetry::ansi())
            .with_writer(std::io::stderr)
            .init();
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the message before
/// it already includes (library errors often print their source inside their own message).
pub(crate) fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}
