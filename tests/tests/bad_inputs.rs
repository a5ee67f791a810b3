//! The bad-input corpus (`tests/corpus/bad-inputs`, issue 5): every case, delivered to a real
//! nats-server and the four services running in this process, gets its documented outcome —
//! for most, exactly one `Reject` from the expected service with a reason naming the problem
//! — memory stays bounded, and the services go on serving a good run afterwards.
//!
//! `tests/corpus/bad-inputs/cases.json` lists the cases, how each is delivered and what must
//! come back; `tests/corpus/make_bad_inputs.py` writes the files.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tessera_bus::Bus;
use tessera_instrument::{FrameSource, Instrument};
use tessera_protocol::{
    Dtype, Frame, InstrumentId, PROTOCOL_VERSION, Pixels, Reject, RunId, WireParams, decode,
    encode, streams, subjects,
};
use tessera_synth::SceneKind;
use tessera_tests::live::*;

/// The whole test must finish within this, so that a hang fails instead of blocking CI.
const TOTAL: Duration = Duration::from_secs(240);
/// The services' payload limit in this test (the server allows 8 MB), so that an oversized
/// message can reach ingest.
const SERVICE_MAX_PAYLOAD: usize = 4 * 1024 * 1024;
/// How much this process's resident memory may grow over the corpus and the good run.
const RSS_GROWTH_LIMIT_KB: u64 = 300 * 1024;
/// The corpus must stay small.
const CORPUS_MAX_BYTES: u64 = 1024 * 1024;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/bad-inputs")
}

/// This process's resident set size (`VmRSS`), in kB.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

fn dtype(name: &str) -> Dtype {
    serde_json::from_value(Value::String(name.into())).unwrap()
}

/// What the test waits for after delivering a case.
#[derive(Debug)]
struct Expected {
    id: String,
    service: String,
    reason: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_reason_memory_stays_bounded_and_the_services_keep_serving() {
    tokio::time::timeout(TOTAL, run_corpus())
        .await
        .unwrap_or_else(|_| panic!("the corpus did not finish within {TOTAL:?}: a hang"));
}

async fn run_corpus() {
    let t0 = Instant::now();
    let manifest: Value =
        serde_json::from_slice(&read("cases.json")).expect("cases.json is valid JSON");
    let cases = manifest["cases"].as_array().unwrap();
    check_manifest(cases);

    let nats = nats();
    let mut settings = settings(&nats, None, "tiny");
    settings.limits.max_payload_bytes = SERVICE_MAX_PAYLOAD;
    let limits = settings.protocol_limits();
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let mut rejects = bus.subscribe("tessera.rejects.>").await.unwrap();
    let inst = instrument(&bus, &settings);
    assert_eq!(inst.id().as_str(), text(&manifest, "instrument"));

    // Setup (cases.json "setup"): run corpus with a good frame 0, run corpus-stopped stopped.
    let start = run_start(&inst, "corpus", WireParams::default());
    let run = start.run.clone();
    let mut corpus_results = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let frame0 = frame_data(&scene_of(SceneKind::OrderDisorder, 256, 1), 0);
    inst.publish_frame(&run, 0, &frame0).await.unwrap();
    let stopped = run_start(&inst, "corpus-stopped", WireParams::default());
    inst.start_run(&stopped).await.unwrap();
    inst.stop_run(&run_stop(&stopped.run, 0)).await.unwrap();
    // The first frame loads the model: wait for it before taking the baseline.
    collect(&mut corpus_results, 1, Duration::from_secs(120)).await;
    let rss_before = rss_kb();

    let mut expected = Vec::new();
    for case in cases {
        if let Some(e) = deliver(&bus, &inst, &run, case, &frame0).await {
            expected.push(e);
        }
    }
    let delivered = t0.elapsed();

    // Exactly one reject per case, from the expected service, naming the problem.
    let mut got: HashMap<String, Vec<Reject>> = HashMap::new();
    let wanted = |got: &HashMap<String, Vec<Reject>>| {
        expected
            .iter()
            .all(|e| got.contains_key(&format!("corpus-{}", e.id)))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while !wanted(&got) {
        let m = match tokio::time::timeout_at(deadline, rejects.next()).await {
            Ok(m) => m.expect("the rejects subscription ended"),
            Err(_) => {
                let missing: Vec<_> = expected
                    .iter()
                    .filter(|e| !got.contains_key(&format!("corpus-{}", e.id)))
                    .map(|e| &e.id)
                    .collect();
                panic!("no reject within 90 s for {missing:?}; got {got:#?}");
            }
        };
        let r: Reject = decode(&m.payload, &limits).unwrap();
        let id = r.msg_id.clone().unwrap_or_else(|| r.subject.clone());
        got.entry(id).or_default().push(r);
    }
    // Anything more (a second reject for a case, a reject for a good frame) shows up here.
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(3), rejects.next()).await {
        let r: Reject = decode(&m.payload, &limits).unwrap();
        let id = r.msg_id.clone().unwrap_or_else(|| r.subject.clone());
        got.entry(id).or_default().push(r);
    }
    for e in &expected {
        let key = format!("corpus-{}", e.id);
        let rs = got.remove(&key).unwrap();
        assert_eq!(rs.len(), 1, "{}: {} rejects: {rs:#?}", e.id, rs.len());
        let r = &rs[0];
        eprintln!("{:<28} {}: {}", e.id, r.service, r.reason);
        assert_eq!(
            r.service, e.service,
            "{}: rejected by the wrong service",
            e.id
        );
        assert!(
            r.reason.contains(&e.reason),
            "{}: the reason {:?} should contain {:?}",
            e.id,
            r.reason,
            e.reason
        );
        assert!(
            r.reason.len() >= 30 && r.reason.contains(' '),
            "{}: the reason {:?} does not say what is wrong",
            e.id,
            r.reason
        );
    }
    assert!(got.is_empty(), "unexpected rejects: {got:#?}");

    // Frame 0 of run corpus was segmented once, whatever came again under its number.
    let more = tokio::time::timeout(Duration::from_secs(2), corpus_results.next()).await;
    assert!(more.is_err(), "a second result for run corpus: {more:?}");

    // The services keep serving: a good run of three frames, a result per frame.
    let good = run_start(&inst, "after-corpus", WireParams::default());
    let mut stream = results(&bus, &inst, &good.run).await;
    inst.start_run(&good).await.unwrap();
    for seq in 0..3u64 {
        let data = frame_data(&scene_of(SceneKind::OrderDisorder, 256, 10 + seq), seq);
        inst.publish_frame(&good.run, seq, &data).await.unwrap();
    }
    inst.stop_run(&run_stop(&good.run, 3)).await.unwrap();
    let got = collect(&mut stream, 3, Duration::from_secs(120)).await;
    assert_eq!(got.len(), 3);
    for (seq, r) in &got {
        assert!(
            r.chips > 0 && !r.communities.is_empty(),
            "frame {seq}: {r:?}"
        );
    }
    assert!(services.is_running(), "a service stopped");

    let rss_after = rss_kb();
    eprintln!(
        "{} cases ({} rejects) in {:.1} s (delivered in {:.1} s); VmRSS {} MB before the \
         corpus, {} MB after it and the good run",
        cases.len(),
        expected.len(),
        t0.elapsed().as_secs_f64(),
        delivered.as_secs_f64(),
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(
        rss_after < rss_before + RSS_GROWTH_LIMIT_KB,
        "resident memory grew from {rss_before} kB to {rss_after} kB"
    );
    services.stop().await.unwrap();
}

/// At least 30 cases with unique ids, every file present, the corpus under 1 MiB, and every
/// category the issue names covered.
fn check_manifest(cases: &[Value]) {
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut ids = std::collections::HashSet::new();
    let mut categories = BTreeMap::new();
    for c in cases {
        assert!(ids.insert(text(c, "id")), "duplicate id {}", text(c, "id"));
        *categories.entry(text(c, "category")).or_insert(0) += 1;
        for name in [c.get("file"), c.pointer("/object/file")]
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            assert!(corpus_dir().join(name).is_file(), "{name} is missing");
        }
        text(c, "what");
        text(&c["expect"], "outcome");
    }
    let size: u64 = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(size < CORPUS_MAX_BYTES, "the corpus takes {size} bytes");
    for category in [
        "truncated image",
        "corrupt image",
        "zero-byte image",
        "decompression bomb",
        "wrong dtype",
        "wrong shape",
        "NaN or Inf pixels",
        "constant image",
        "random bytes",
        "wrong version",
        "missing fields",
        "oversized",
        "dangling object reference",
        "unknown run",
        "run stop before run start",
        "duplicate sequence number",
    ] {
        assert!(
            categories.contains_key(category),
            "no case of {category}: {categories:?}"
        );
    }
}

/// Delivers `case`; returns the reject to wait for, or checks its other outcome here.
async fn deliver(
    bus: &Bus,
    inst: &Instrument,
    run: &RunId,
    case: &Value,
    frame0: &tessera_instrument::FrameData,
) -> Option<Expected> {
    let id = text(case, "id").to_string();
    let expect = &case["expect"];
    let outcome = text(expect, "outcome");
    let reason = text(expect, "reason").to_string();
    let msg_id = format!("corpus-{id}");
    let instrument = InstrumentId::new(
        case.get("instrument")
            .and_then(Value::as_str)
            .unwrap_or("tem-1"),
    )
    .unwrap();
    let subject = match case.get("subject").and_then(Value::as_str) {
        Some("start") => subjects::acq_start_subject(&instrument),
        Some("stop") => subjects::acq_stop_subject(&instrument),
        _ => subjects::acq_frame_subject(&instrument),
    };
    let payload: Vec<u8> = match text(case, "delivery") {
        "image-file" => {
            assert_eq!(outcome, "refused-by-instrument", "{id}");
            let path = corpus_dir().join(text(case, "file"));
            let source = FrameSource::Files {
                paths: vec![path],
                signal: None,
            };
            let result = tokio::task::spawn_blocking(move || source.frame(0))
                .await
                .unwrap_or_else(|e| panic!("{id}: decoding panicked: {e}"));
            let err = match result {
                Ok(f) => panic!("{id}: decoded as a {} × {} frame", f.width, f.height),
                Err(e) => e.to_string(),
            };
            eprintln!("{id:<28} instrument: {err}");
            assert!(
                err.contains(&reason),
                "{id}: {err:?} should contain {reason:?}"
            );
            return None;
        }
        "frame-pixels" => {
            let f = &case["frame"];
            let frame = Frame {
                version: PROTOCOL_VERSION,
                run: run.clone(),
                seq: num(f, "seq"),
                timestamp_ms: 1,
                width: num(f, "width") as u32,
                height: num(f, "height") as u32,
                dtype: dtype(text(f, "dtype")),
                pixel_size_nm: None,
                dose: None,
                scalars: BTreeMap::new(),
                pixels: Pixels::Inline(read(text(case, "file"))),
            };
            encode(&frame).unwrap()
        }
        "raw-subject" => read(text(case, "file")),
        "object-ref" => {
            let o = &case["object"];
            bus.put_object(
                streams::FRAMES_STORE.bucket,
                text(o, "name"),
                &read(text(o, "file")),
            )
            .await
            .unwrap();
            read(text(case, "file"))
        }
        "generated" => {
            let g = &case["generate"];
            match text(g, "kind") {
                "oversized" => {
                    let mut p = vec![0u8; num(g, "bytes") as usize];
                    p[0] = 0xdf;
                    p
                }
                "duplicate-same-msg-id" => {
                    assert_eq!(outcome, "deduplicated", "{id}");
                    let p = inst
                        .publish_frame(run, num(g, "seq"), frame0)
                        .await
                        .unwrap();
                    assert!(p.ack.duplicate, "{id}: the stream kept the second copy");
                    eprintln!("{id:<28} nats-server: dropped as a duplicate");
                    return None;
                }
                "duplicate-seq-new-msg-id" => frame_message(run, num(g, "seq"), |f| {
                    f.timestamp_ms = 2;
                    f.pixels = Pixels::Inline(read("px-gray-u8-64x64.raw"));
                }),
                other => panic!("{id}: unknown generator {other}"),
            }
        }
        other => panic!("{id}: unknown delivery {other}"),
    };
    let published = bus
        .publish(&subject, Bytes::from(payload), &[], Some(&msg_id))
        .await;
    match outcome {
        "refused-at-publish" => {
            let err = published.expect_err(&id).to_string();
            eprintln!("{id:<28} nats-server: {err}");
            assert!(
                err.contains(&reason),
                "{id}: {err:?} should contain {reason:?}"
            );
            None
        }
        "reject" => {
            let ack = published.unwrap_or_else(|e| panic!("{id}: publishing failed: {e}"));
            assert!(!ack.duplicate, "{id}: dropped as a duplicate");
            Some(Expected {
                id,
                service: text(expect, "service").to_string(),
                reason,
            })
        }
        other => panic!("{id}: unknown outcome {other}"),
    }
}
