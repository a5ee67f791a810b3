//! `tessera up`, `tessera publish`, `tessera watch` and `tessera topology` as a user runs
//! them, against real servers: `tessera up` starts its own, a synthetic dose series goes
//! through the services and every result is printed by both the publisher (`--wait`) and a
//! watcher, and a folder with bad files ends in a summary.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_imaging::encode_png_gray16;
use tessera_synth::{NoiseLevel, SceneConfig, generate, to_u16};
use tessera_testkit::{ChildGuard, NatsServer};

fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    // `tessera up` serves metrics; on a free port, beside other tests.
    cmd.env("TESSERA__TELEMETRY__METRICS_ADDR", "127.0.0.1:0");
    cmd
}

/// `tessera up` with nothing configured, as on a fresh machine: it starts its own
/// nats-server and redis-server, carries a synthetic run to a watcher and to `publish
/// --wait`, and a folder with unreadable files and a constant image to a summary; Ctrl-C
/// stops it and the servers it started, and leaves their data.
#[test]
fn up_with_nothing_configured_carries_runs_and_stops_its_servers() {
    let data = tempfile::tempdir().unwrap();
    let mut up = Graceful(ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["up", "--data"])
            .arg(data.path())
            .env("TESSERA__MODEL__NAME", "tiny")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let block = read_block(&mut up.0);
    let url = field(&block, "NATS").split(' ').next().unwrap().to_string();
    assert!(url.starts_with("nats://127.0.0.1:"), "{block}");
    let nats_pid = pid_in(field(&block, "NATS"));
    let redis_pid = block
        .contains("redis-server, started here")
        .then(|| pid_in(field(&block, "cache")));
    assert!(
        field(&block, "metrics").starts_with("http://127.0.0.1:"),
        "{block}"
    );
    assert!(!field(&block, "metrics").contains(":9090/"), "{block}");
    assert!(field(&block, "dashboard").starts_with("http://"), "{block}");

    let mut watcher = ChildGuard(
        tessera()
            .args(["watch", "--nats", &url, "--instrument", "sim-1", "--json"])
            .args(["--count", "4"])
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
    assert!(
        out.contains("summary: 4 sent, 4 segmented, 0 rejected, 0 skipped"),
        "{out}"
    );

    let stdout = watcher.0.stdout.take().unwrap();
    let results: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .take(4)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(results.len(), 4);
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
    assert!(watcher.0.wait().unwrap().success());

    publish_a_folder_with_bad_files(&url);
    a_watcher_stops_on_sigterm(&url);

    signal(&up.0, rustix::process::Signal::INT);
    let status = wait_for(&mut up.0, Duration::from_secs(20)).expect("tessera up stops on Ctrl-C");
    assert!(status.success(), "{status}");
    assert!(
        !alive(nats_pid),
        "nats-server {nats_pid} outlived tessera up"
    );
    if let Some(pid) = redis_pid {
        assert!(!alive(pid), "redis-server {pid} outlived tessera up");
    }
    let store = data.path().join("nats/jetstream");
    assert!(
        std::fs::read_dir(&store).unwrap().next().is_some(),
        "the store is kept"
    );
}

/// Good images, a truncated PNG, a text file named .tif and a constant image: the good ones
/// are segmented, the unreadable ones skipped with their reason, the constant one rejected
/// by ingest, and `--wait` ends with the summary and exit status 2.
fn publish_a_folder_with_bad_files(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let scene = |seed| {
        let s = generate(&SceneConfig {
            width: 256,
            height: 256,
            seed,
            noise: NoiseLevel::Low,
            ..SceneConfig::default()
        })
        .unwrap();
        encode_png_gray16(256, 256, &to_u16(&s.pixels)).unwrap()
    };
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus/bad-inputs");
    let truncated = std::fs::read(format!("{corpus}/img-truncated.png")).unwrap();
    let files: [(&str, Vec<u8>); 5] = [
        ("a-good.png", scene(1)),
        ("b-truncated.png", truncated),
        ("c-notes.tif", b"notes, not an image".to_vec()),
        (
            "d-constant.png",
            encode_png_gray16(64, 64, &[1000; 64 * 64]).unwrap(),
        ),
        ("e-good.png", scene(2)),
    ];
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let out = tessera()
        .args([
            "publish", "--nats", url, "--rate", "0", "--run", "folder-1", "--wait",
        ])
        .args(["--timeout", "120"])
        .arg(dir.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let both = format!("{stdout}\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "{both}");
    assert!(stderr.contains("b-truncated.png: reading"), "{both}");
    assert!(stderr.contains("c-notes.tif: reading"), "{both}");
    assert!(
        !stderr.contains("\u{1b}["),
        "no colour codes off a terminal: {both}"
    );
    assert!(
        stdout.contains("d-constant.png) rejected by ingest") && stdout.contains("constant"),
        "{both}"
    );
    assert!(
        stdout.contains("summary: 3 sent, 2 segmented, 1 rejected, 2 skipped"),
        "{both}"
    );
}

/// `tessera watch` ends cleanly on SIGTERM, started in the background as a script would.
fn a_watcher_stops_on_sigterm(url: &str) {
    let mut watcher = ChildGuard(
        tessera()
            .args(["watch", "--nats", url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(watcher.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("watching"), "{line}");
    signal(&watcher, rustix::process::Signal::TERM);
    let status = wait_for(&mut watcher, Duration::from_secs(5)).expect("watch stops on SIGTERM");
    assert!(status.success(), "{status}");
}

/// A `tessera up` stopped with SIGTERM when the test ends, so that a failing test does not
/// leave the servers it started running (a SIGKILL would).
struct Graceful(ChildGuard);

impl Drop for Graceful {
    fn drop(&mut self) {
        if matches!(self.0.0.try_wait(), Ok(None)) {
            signal(&self.0, rustix::process::Signal::TERM);
            let _ = wait_for(&mut self.0, Duration::from_secs(15));
        }
    }
}

/// The block `tessera up` prints before it serves (up to the "Ctrl-C" line).
fn read_block(up: &mut ChildGuard) -> String {
    let mut block = String::new();
    let mut reader = BufReader::new(up.0.stdout.take().unwrap());
    while !block.contains("Ctrl-C") {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("tessera up ended before it was ready: {block}");
        }
        block.push_str(&line);
    }
    block
}

/// The text of the block's line for `what`.
fn field<'a>(block: &'a str, what: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| {
            l.trim_start()
                .strip_prefix(what)?
                .strip_prefix(' ')
                .map(str::trim)
        })
        .unwrap_or_else(|| panic!("no {what} line in {block}"))
}

fn pid_in(text: &str) -> i32 {
    let after = text
        .split("pid ")
        .nth(1)
        .unwrap_or_else(|| panic!("no pid in {text}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or_default()
            .trim_start()
            .starts_with('Z')
    })
}

fn signal(child: &ChildGuard, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.0.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

fn wait_for(child: &mut ChildGuard, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.0.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
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
