//! The Python dashboard example, `docs/examples/subscribe_results.py`, against the live
//! pipeline: it subscribes, a run goes through the four services, and the script prints every
//! frame's result once, as the test itself saw it, and saves each overlay from the object
//! store. The Python instrument example, `docs/examples/obey_decisions.py`, hears a run's
//! decisions, carries them out and answers each. Needs `python3 scripts/provision.py --only clients` (nats-py and msgpack in the
//! cache's venv); `scripts/test.sh` provisions it.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tessera_bus::Bus;
use tessera_protocol::{FrameResult, WireParams};
use tessera_synth::SceneKind;
use tessera_testkit::ChildGuard;
use tessera_tests::live::*;

/// Frames in the run.
const FRAMES: u64 = 4;
/// How long the script may take to connect and subscribe.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the pipeline (and then the script) may take for the whole run.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The cache venv's Python, checked to import nats-py and msgpack; the failure says how to
/// provision them.
fn client_python() -> PathBuf {
    let python = tessera_tests::cache().root().join("venv/bin/python");
    let fix = "run `python3 scripts/provision.py --only clients` (it installs nats-py and msgpack \
               into $TESSERA_CACHE/venv)";
    assert!(python.is_file(), "{} is missing: {fix}", python.display());
    let out = Command::new(&python)
        .args(["-c", "import nats, msgpack"])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {fix}", python.display()));
    assert!(
        out.status.success(),
        "{} cannot import nats and msgpack ({}): {fix}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    python
}

/// Sends each line `reader` yields to a channel, from a thread.
fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_prints_every_result_of_a_run() {
    let python = client_python();
    let nats = nats();
    let settings = settings(&nats, None, "tiny");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let overlays = std::env::temp_dir().join(format!("tessera-py-overlays-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&overlays);

    let t0 = Instant::now();
    let mut child = ChildGuard(
        Command::new(&python)
            .arg(workspace_root().join("docs/examples/subscribe_results.py"))
            .args(["--url", &nats.url(), "--json"])
            .args(["--count", &FRAMES.to_string()])
            .arg("--save-overlays")
            .arg(&overlays)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", python.display())),
    );
    let stdout = lines(child.0.stdout.take().unwrap());
    let stderr = lines(child.0.stderr.take().unwrap());

    // Wait until the script's subscription is active, so it misses no result.
    let mut errors = Vec::new();
    loop {
        match stderr.recv_timeout(SUBSCRIBE_TIMEOUT.saturating_sub(t0.elapsed())) {
            Ok(line) if line.starts_with("subscribed to ") => {
                assert_eq!(line, "subscribed to tessera.results.>");
                break;
            }
            Ok(line) => errors.push(line),
            Err(e) => panic!(
                "the script did not subscribe within {SUBSCRIBE_TIMEOUT:?} ({e}); its stderr:\n{}",
                errors.join("\n")
            ),
        }
    }
    eprintln!(
        "the script subscribed after {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    // A run of small frames with the tiny model; the test watches the results too.
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "py", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    for seq in 0..FRAMES {
        inst.publish_frame(
            &run,
            seq,
            &frame_data(&scene_of(SceneKind::OrderDisorder, 256, 900 + seq), seq),
        )
        .await
        .unwrap();
    }
    inst.stop_run(&run_stop(&run, FRAMES)).await.unwrap();
    let got: BTreeMap<u64, FrameResult> = collect(&mut stream, FRAMES as usize, RUN_TIMEOUT)
        .await
        .into_iter()
        .collect();

    // The script exits by itself after --count results.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the script is still running 30 s after the last result; its stderr:\n{}",
            stderr.try_iter().collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    errors.extend(stderr.iter());
    assert!(
        status.success(),
        "the script ended with {status}; its stderr:\n{}",
        errors.join("\n")
    );
    eprintln!(
        "the script printed {FRAMES} results and exited after {:.2} s",
        t0.elapsed().as_secs_f64()
    );

    // One JSON line per frame, each as the test saw the result.
    let printed: Vec<String> = stdout.iter().collect();
    assert_eq!(
        printed.len(),
        FRAMES as usize,
        "stdout:\n{}",
        printed.join("\n")
    );
    let mut seqs = Vec::new();
    for line in &printed {
        let v = serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let seq = v["seq"].as_u64().unwrap();
        seqs.push(seq);
        let r = got
            .get(&seq)
            .unwrap_or_else(|| panic!("the script printed seq {seq}, not in the run: {line}"));
        assert_eq!(v["run"].as_str().unwrap(), "py", "{line}");
        assert_eq!(v["instrument"].as_str().unwrap(), "tem-1", "{line}");
        assert_eq!(v["dose"].as_f64().unwrap(), r.dose.unwrap(), "{line}");
        let communities = v["communities"].as_array().unwrap();
        assert_eq!(communities.len(), r.communities.len(), "{line}");
        let mut total = 0.0;
        for (c, expected) in communities.iter().zip(&r.communities) {
            let color = c["color"].as_str().unwrap();
            assert!(
                color.len() == 7
                    && color.starts_with('#')
                    && color[1..].chars().all(|ch| ch.is_ascii_hexdigit()),
                "colour {color:?}: {line}"
            );
            assert_eq!(c["id"].as_u64().unwrap(), u64::from(expected.id), "{line}");
            assert_eq!(color, expected.color, "{line}");
            let fraction = c["area_fraction"].as_f64().unwrap();
            assert!((fraction - expected.area_fraction).abs() < 1e-12, "{line}");
            total += fraction;
        }
        assert!(
            (total - 1.0).abs() < 1e-6,
            "fractions sum to {total}: {line}"
        );

        // The overlay it saved is the one in the object store.
        let saved = v["overlay_file"].as_str().unwrap();
        let o = r.overlay.as_ref().expect("an overlay");
        assert_eq!(
            v["overlay"].as_str().unwrap(),
            format!("{}/{}", o.bucket, o.name)
        );
        let png = std::fs::read(saved).unwrap_or_else(|e| panic!("reading {saved}: {e}"));
        assert_eq!(png, bus.get_object(&o.bucket, &o.name).await.unwrap());
        assert_eq!(&png[1..4], b"PNG");
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..FRAMES).collect::<Vec<_>>(),
        "each frame exactly once"
    );
    let _ = std::fs::remove_dir_all(&overlays);
    assert!(services.is_running());
    services.stop().await.unwrap();
}

const OBEY_POLICY: &str = r#"
[[rule]]
name = "unsure"
when = "low_confidence"
margin = 1000.0
area = 0.01
action = { do = "acquire_roi", goal = "low_confidence", magnification = 4 }

[[rule]]
name = "enough"
when = "threshold"
community = 0
above = 0.0
frames = 2
action = "stop"
"#;

/// The Python instrument example, `docs/examples/obey_decisions.py`: it hears a run's
/// decisions, carries each action out (here: refuses a magnification beyond its own, obeys
/// the stop) and answers each on the run's acks subject, which the decider's stream keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_instrument_example_obeys_and_answers_decisions() {
    use tessera_protocol::{DecisionAck, decode, streams, subjects};
    let python = client_python();
    let nats = nats();
    let settings = settings(&nats, None, "tiny");
    let services = Services::start(&settings, &Services::WITH_DECIDER).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "py-obey", WireParams::default());
    let run = start.run.clone();
    let limits = settings.protocol_limits();
    store_policy(&bus, &settings, &run, OBEY_POLICY, "py.toml").await;

    let mut child = ChildGuard(
        Command::new(&python)
            .arg(workspace_root().join("docs/examples/obey_decisions.py"))
            .args([
                "--url",
                &nats.url(),
                "--instrument",
                "tem-1",
                "--run",
                "py-obey",
            ])
            .args(["--max-magnification", "2", "--exit-on-stop"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", python.display())),
    );
    let stdout = lines(child.0.stdout.take().unwrap());
    let stderr = lines(child.0.stderr.take().unwrap());
    let line = stderr.recv_timeout(SUBSCRIBE_TIMEOUT).unwrap();
    assert_eq!(line, "subscribed to tessera.decisions.tem-1.py-obey");

    let frames: Vec<_> = (0..3)
        .map(|seq| scene_of(SceneKind::OrderDisorder, 256, 950 + seq))
        .collect();
    publish_run(&inst, &start, &frames).await;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the script did not stop within {RUN_TIMEOUT:?}; its stderr:\n{}",
            stderr.try_iter().collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let errors: Vec<String> = stderr.try_iter().collect();
    assert!(status.success(), "{status}; stderr:\n{}", errors.join("\n"));
    let printed: Vec<serde_json::Value> = stdout
        .try_iter()
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    eprintln!("the script answered: {printed:?}");
    // Frame 0: a region at 4× (refused, beyond its 2×); frame 1: the stop (obeyed).
    assert_eq!(printed.len(), 2, "{printed:?}");
    assert_eq!(printed[0]["action"], "acquire_roi");
    assert_eq!(printed[0]["executed"], false);
    assert!(printed[0]["detail"].as_str().unwrap().contains("beyond"));
    assert_eq!(
        (printed[1]["action"].as_str(), printed[1]["seq"].as_u64()),
        (Some("stop"), Some(1))
    );
    assert_eq!(printed[1]["executed"], true);
    // The answers are in the stream, readable by Tessera as DecisionAcks.
    let stored = bus
        .replay(
            streams::DECISIONS.name,
            &subjects::acks_subject(inst.id(), &run),
            usize::MAX,
        )
        .await
        .unwrap();
    let acks: Vec<DecisionAck> = stored
        .iter()
        .map(|m| decode(&m.payload, &limits).unwrap())
        .collect();
    let got: Vec<(u64, &str, bool)> = acks
        .iter()
        .map(|a| (a.seq, a.action.as_str(), a.executed))
        .collect();
    assert_eq!(got, [(0, "acquire_roi", false), (1, "stop", true)]);
    services.stop().await.unwrap();
}
