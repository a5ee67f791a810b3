//! `tessera up`, `tessera publish` and `tessera watch` as a user runs them, against a real
//! nats-server: a synthetic dose series goes through the services and every result is
//! printed by both the publisher (`--wait`) and a watcher.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_testkit::{ChildGuard, NatsServer};

fn tessera() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
}

#[test]
fn up_publish_and_watch_carry_a_run_end_to_end() {
    let nats = NatsServer::builder()
        .config("max_payload: 8MB")
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap();
    let url = nats.url();
    let _up = ChildGuard(
        tessera()
            .args([
                "up",
                "--nats",
                &url,
                "--embedders",
                "1",
                "--dashboard",
                "127.0.0.1:0",
            ])
            .env("TESSERA__MODEL__NAME", "tiny")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut watcher = ChildGuard(
        tessera()
            .args([
                "watch",
                "--nats",
                &url,
                "--instrument",
                "sim-1",
                "--count",
                "4",
            ])
            .args(["--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The watcher subscribes before anything is published; give it a moment to start.
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let publish = tessera()
        .args([
            "publish",
            "--nats",
            &url,
            "--synthetic",
            "4",
            "--size",
            "384",
        ])
        .args(["--rate", "0", "--run", "dose-1", "--wait"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&publish.stdout);
    assert!(
        publish.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&publish.stderr)
    );
    eprintln!(
        "{out}published and segmented in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("communit")).collect();
    assert_eq!(lines.len(), 4, "one line per result: {out}");
    assert!(out.contains("4 frames"), "{out}");

    let stdout = watcher.0.stdout.take().unwrap();
    let results: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(results.len(), 4);
    let doses: Vec<f64> = results
        .iter()
        .map(|r| r["dose"].as_f64().unwrap())
        .collect();
    for r in &results {
        assert_eq!(r["run"], "dose-1");
        assert!(r["overlay"].as_str().unwrap().ends_with(".overlay.png"));
        let total: f64 = r["communities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["area_fraction"].as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
    eprintln!("doses {doses:?}");
    assert!(watcher.0.wait().unwrap().success());
}

#[test]
fn bad_service_names_and_unreachable_servers_are_clear_errors() {
    let out = tessera()
        .args(["up", "--only", "ingest,embeder"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        text.contains("embeder") && text.contains("clusterer"),
        "{text}"
    );

    let out = tessera()
        .args([
            "publish",
            "--nats",
            "nats://127.0.0.1:1",
            "--synthetic",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("127.0.0.1:1"), "{text}");
}
