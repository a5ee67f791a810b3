//! `tessera up`, `tessera publish`, `tessera watch` and `tessera topology` as a user runs
//! them, against a real nats-server: a synthetic dose series goes through the services and
//! every result is printed by both the publisher (`--wait`) and a watcher.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_testkit::{ChildGuard, NatsServer};

fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    // `tessera up` serves metrics; on a free port, beside other tests.
    cmd.env("TESSERA__TELEMETRY__METRICS_ADDR", "127.0.0.1:0");
    cmd
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

#[test]
fn topology_creates_once_then_finds_everything_unchanged() {
    let nats = NatsServer::builder()
        .config("max_payload: 8MB")
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap();
    let run = || {
        let out = tessera()
            .args(["topology", "--nats", &nats.url()])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout.lines().last().unwrap_or_default().to_string()
    };
    let first = run();
    assert!(
        first.contains(" created, 0 updated, 0 unchanged"),
        "{first}"
    );
    assert!(!first.contains(": 0 created"), "{first}");
    let second = run();
    assert!(second.contains(": 0 created, 0 updated, "), "{second}");
    assert!(!second.contains(" 0 unchanged"), "{second}");

    // No server: a clear error naming where it looked.
    drop(nats);
    let out = tessera()
        .args(["topology", "--nats", "nats://127.0.0.1:1"])
        .env("TESSERA__BUS__CONNECT_WAIT_MS", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}
