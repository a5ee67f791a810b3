//! A real nats-server started on a data folder: it answers, keeps its store across starts,
//! and a server left running by a killed owner is stopped before the next one starts.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tessera_servers::{LocalNats, http_ok};

/// `TESSERA_NATS_SERVER`, else the provisioned one (`scripts/provision.py --only servers`).
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TESSERA_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("TESSERA_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/tessera"));
    let p = cache.join("venv/bin/nats-server");
    assert!(
        p.is_file(),
        "no nats-server at {}: run scripts/provision.py --only servers",
        p.display()
    );
    p
}

fn running(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

#[test]
fn a_server_answers_keeps_its_store_and_replaces_an_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let first = LocalNats::start(&binary(), dir.path(), 0).unwrap();
    assert!(http_ok(first.monitor_port(), "/healthz"));
    assert!(first.url().starts_with("nats://127.0.0.1:"));
    assert!(first.store_dir().is_dir());
    let orphan = first.pid().unwrap();
    // Its owner "dies" without stopping it, as a killed `tessera up` would.
    std::mem::forget(first);
    assert!(running(orphan));

    let mut second = LocalNats::start(&binary(), dir.path(), 0).unwrap();
    assert!(!running(orphan), "the orphan on the same data was stopped");
    assert!(http_ok(second.monitor_port(), "/healthz"));
    let pid = second.pid().unwrap();
    second.stop();
    assert!(!running(pid), "stop stops it");
    assert!(second.store_dir().is_dir(), "stop keeps the store");
}
