//! The embedded provisioning scripts, and how they are run.
//!
//! The scripts are compiled into the binary, so an installed `tessera` needs no checkout. They
//! are written to `<cache>/scripts/<digest>/` and run with `$TESSERA_PYTHON` (default
//! `python3`). Their progress goes to our standard error as it happens; the last lines are kept
//! for the error message if they fail.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
};

use sha2::{Digest, Sha256};

use crate::ProvisionError;

/// The scripts, by their path under `scripts/` in the repository.
pub const FILES: &[(&str, &str)] = &[
    (
        "provision.py",
        include_str!("../../../scripts/provision.py"),
    ),
    (
        "tessera_provision/__init__.py",
        include_str!("../../../scripts/tessera_provision/__init__.py"),
    ),
    (
        "tessera_provision/efficientnet.py",
        include_str!("../../../scripts/tessera_provision/efficientnet.py"),
    ),
    (
        "tessera_provision/legacy_pth.py",
        include_str!("../../../scripts/tessera_provision/legacy_pth.py"),
    ),
    (
        "tessera_provision/onnx_util.py",
        include_str!("../../../scripts/tessera_provision/onnx_util.py"),
    ),
    (
        "tessera_provision/quantize.py",
        include_str!("../../../scripts/tessera_provision/quantize.py"),
    ),
    (
        "tessera_provision/raw_input.py",
        include_str!("../../../scripts/tessera_provision/raw_input.py"),
    ),
    (
        "tessera_provision/resnet50.py",
        include_str!("../../../scripts/tessera_provision/resnet50.py"),
    ),
    (
        "tessera_provision/samples.py",
        include_str!("../../../scripts/tessera_provision/samples.py"),
    ),
    (
        "tessera_provision/tiny.py",
        include_str!("../../../scripts/tessera_provision/tiny.py"),
    ),
];

/// Lines of script output kept for an error message.
const TAIL_LINES: usize = 30;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ProvisionError + '_ {
    move |source| ProvisionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the scripts under `cache` and returns the path of `provision.py`.
fn write_scripts(cache: &Path) -> Result<std::path::PathBuf, ProvisionError> {
    let mut hasher = Sha256::new();
    for (name, text) in FILES {
        hasher.update(name.as_bytes());
        hasher.update(text.as_bytes());
    }
    let dir = cache
        .join("scripts")
        .join(hex::encode(&hasher.finalize()[..8]));
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        std::fs::write(&path, text).map_err(io_err(&path))?;
    }
    Ok(dir.join("provision.py"))
}

/// Runs the provisioning script for the named steps (`runtime`, `models`, `samples`,
/// `runtime-gpu`, `resnet50`) with
/// `$TESSERA_PYTHON`, or `python3`.
pub fn run(cache: &Path, steps: &[&str]) -> Result<(), ProvisionError> {
    run_args(cache, steps, &[])
}

/// [`run`], with more arguments for the script (e.g. `--raw-input tiny@u8x64`).
pub fn run_args(cache: &Path, steps: &[&str], args: &[&str]) -> Result<(), ProvisionError> {
    let python = std::env::var("TESSERA_PYTHON").unwrap_or_else(|_| "python3".into());
    run_with(&python, cache, steps, args)
}

/// Runs the provisioning script for the named steps with the given interpreter.
pub fn run_with(
    python: &str,
    cache: &Path,
    steps: &[&str],
    args: &[&str],
) -> Result<(), ProvisionError> {
    std::fs::create_dir_all(cache).map_err(io_err(cache))?;
    let script = write_scripts(cache)?;
    tracing::info!(cache = %cache.display(), steps = ?steps, "provisioning");
    let mut child = Command::new(python)
        .arg(&script)
        .arg("--cache")
        .arg(cache)
        .arg("--only")
        .arg(steps.join(","))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ProvisionError::NoPython {
            python: python.to_string(),
            source,
        })?;
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  provision: {line}");
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    let status = child.wait().map_err(io_err(&script))?;
    if status.success() {
        return Ok(());
    }
    Err(ProvisionError::ScriptFailed {
        what: steps.join(", "),
        cache: cache.to_path_buf(),
        status: status.to_string(),
        tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Python file under `scripts/` that provisioning imports must be embedded.
    #[test]
    fn every_script_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
        let mut on_disk = vec!["provision.py".to_string()];
        for entry in std::fs::read_dir(root.join("tessera_provision")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".py") {
                on_disk.push(format!("tessera_provision/{name}"));
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "update script::FILES to match scripts/");
    }

    #[test]
    fn a_missing_interpreter_says_how_to_fix_it() {
        let cache = std::env::temp_dir().join(format!("tessera-py-{}", std::process::id()));
        let err = run_with("/nonexistent/python3", &cache, &["runtime"], &[]).unwrap_err();
        assert!(matches!(err, ProvisionError::NoPython { .. }), "{err}");
        assert!(err.to_string().contains("TESSERA_PYTHON"), "{err}");
        assert!(
            cache.join("scripts").is_dir(),
            "the scripts are written before the run"
        );
        std::fs::remove_dir_all(&cache).unwrap();
    }
}
