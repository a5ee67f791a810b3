//! The live pipeline end to end, against a real nats-server, a real redis-server and the
//! real ONNX models: every result arrives with the labels `tessera segment` gives, the cache
//! serves repeated chips, duplicates are processed once, a Redis outage does not stop a run,
//! and bad input is rejected with a reason while the services keep running.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tessera_bus::Bus;
use tessera_imaging::Raster;
use tessera_protocol::{
    ObjectRef, Pixels, Reject, RunSeries, Service, ServiceStatus, WireParams, decode, keys,
    streams, subjects,
};
use tessera_segment::{SegmentParams, segment};
use tessera_testkit::RedisServer;
use tessera_tests::deployed_encoder;
use tessera_tests::live::*;
use tessera_tests::scrape::{observations, scrape_until, value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_frames_give_the_labels_of_tessera_segment() {
    let nats = nats();
    let settings = settings(&nats, None, "efficientnet-lite0");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "e2e", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;

    // 8 small frames travel inline, 4 large ones through the object store.
    let frames: Vec<Raster> = (0..12)
        .map(|i| scene_frame(if i % 3 == 2 { 640 } else { 256 }, 100 + i))
        .collect();
    let t0 = Instant::now();
    inst.start_run(&start).await.unwrap();
    let mut via_object = 0;
    for (seq, raster) in frames.iter().enumerate() {
        let published = inst
            .publish_frame(&run, seq as u64, &frame_data(raster, seq as u64))
            .await
            .unwrap();
        via_object += usize::from(published.via_object_store);
    }
    inst.stop_run(&run_stop(&run, 12)).await.unwrap();
    assert_eq!(via_object, 4, "frames through the object store");
    let got = collect(&mut stream, 12, Duration::from_secs(600)).await;
    eprintln!("12 results in {:.2} s", t0.elapsed().as_secs_f64());

    let params = SegmentParams::default();
    let mut enc = deployed_encoder("efficientnet-lite0", params.chip);
    for (seq, raster) in frames.iter().enumerate() {
        let r = &got[&(seq as u64)];
        let (_, reference) = segment(&mut enc, raster, &params).unwrap();
        let ours = result_labels(&bus, r).await;
        let renaming = renaming(&reference.labels, &ours)
            .unwrap_or_else(|e| panic!("frame {seq}: labels differ from tessera segment: {e}"));
        let identity = renaming.iter().all(|(a, b)| a == b);
        eprintln!(
            "frame {seq} ({}²): {} communities, identical labels (ids {}), latency {:?} ms",
            raster.width,
            r.communities.len(),
            if identity {
                "the same"
            } else {
                "renamed for the run"
            },
            r.timings
                .iter()
                .find(|(s, _)| s == "publish_to_result")
                .map(|t| t.1 as u64),
        );
        assert_eq!(r.communities.len(), reference.communities.len());
        let total: f64 = r.communities.iter().map(|c| c.area_fraction).sum();
        assert!((total - 1.0).abs() < 1e-6, "fractions sum to {total}");
        let overlay = r.overlay.as_ref().expect("an overlay");
        let png = bus
            .get_object(&overlay.bucket, &overlay.name)
            .await
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    // The latest result and the series are kept in KV.
    let (latest, _) = bus
        .kv_get(streams::LATEST_KV.bucket, &keys::latest_key(&run))
        .await
        .unwrap()
        .expect("the run's latest result");
    assert!(!latest.is_empty());
    let (series, _) = bus
        .kv_get(streams::SERIES_KV.bucket, &keys::series_key(&run))
        .await
        .unwrap()
        .expect("the run's series");
    let series: RunSeries = decode(&series, &settings.protocol_limits()).unwrap();
    let seqs: Vec<u64> = series.points.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, (0..12).collect::<Vec<_>>());
    assert!(series.points.iter().all(|p| p.dose.is_some()));
    for seq in 0..12 {
        let (bytes, _) = bus
            .kv_get(streams::PROGRESS_KV.bucket, &keys::progress_key(&run, seq))
            .await
            .unwrap()
            .expect("the frame's progress");
        let p: tessera_protocol::FrameProgress =
            decode(&bytes, &settings.protocol_limits()).unwrap();
        assert_eq!(
            p.state,
            tessera_protocol::ProgressState::Done,
            "frame {seq}"
        );
        assert_eq!(p.received, p.batches);
    }
    assert!(services.is_running());
    services.stop().await.unwrap();
}

/// The process's `/metrics` counted what the two runs did: frames in and out, chips,
/// cache hits and misses, batch sizes and stage latencies.
fn assert_metrics_count(
    scraped: &prometheus_parse::Scrape,
    cold: &BTreeMap<u64, tessera_protocol::FrameResult>,
    warm: &BTreeMap<u64, tessera_protocol::FrameResult>,
) {
    let frames = (cold.len() + warm.len()) as f64;
    let chips: f64 = cold
        .values()
        .chain(warm.values())
        .map(|r| r.chips as f64)
        .sum();
    let hits: f64 = warm.values().map(|r| r.cache_hits as f64).sum();
    assert_eq!(value(scraped, "tessera_frames_total", "ingest"), frames);
    assert_eq!(value(scraped, "tessera_chips_total", "ingest"), chips);
    assert_eq!(value(scraped, "tessera_chips_total", "embedder"), chips);
    assert_eq!(value(scraped, "tessera_cache_hits_total", "embedder"), hits);
    assert_eq!(
        value(scraped, "tessera_cache_misses_total", "embedder"),
        chips - hits
    );
    assert_eq!(value(scraped, "tessera_frames_total", "clusterer"), frames);
    assert_eq!(value(scraped, "tessera_frames_total", "publisher"), frames);
    assert_eq!(value(scraped, "tessera_rejected_total", "ingest"), 0.0);
    for service in ["ingest", "embedder", "clusterer", "publisher"] {
        assert_eq!(value(scraped, "tessera_ready", service), 1.0, "{service}");
    }
    assert!(observations(scraped, "tessera_batch_chips", "embedder", None) > 0);
    for stage in ["embed", "publish_to_result"] {
        let seen = observations(
            scraped,
            "tessera_stage_seconds",
            "publisher",
            Some(("stage", stage)),
        );
        assert_eq!(seen as f64, frames, "stage {stage}");
    }
}

/// Publishes `frames` as run `name` and returns the results and the time they took.
async fn run_frames(
    bus: &Bus,
    settings: &tessera_settings::Settings,
    name: &str,
    frames: &[Raster],
) -> (BTreeMap<u64, tessera_protocol::FrameResult>, Duration) {
    let inst = instrument(bus, settings);
    let start = run_start(&inst, name, WireParams::default());
    let run = start.run.clone();
    let mut stream = results(bus, &inst, &run).await;
    let t0 = Instant::now();
    publish_run(&inst, &start, frames).await;
    let got = collect(&mut stream, frames.len(), Duration::from_secs(300)).await;
    (got.into_iter().collect(), t0.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_the_same_frames_comes_from_the_redis_cache() {
    let nats = nats();
    let redis = RedisServer::start().unwrap();
    let mut settings = settings(&nats, Some(&redis), "efficientnet-lite0");
    let port = tessera_testkit::free_port().unwrap();
    settings.telemetry.metrics_addr = format!("127.0.0.1:{port}");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let frames: Vec<Raster> = (0..4).map(|i| scene_frame(384, 200 + i)).collect();

    let (cold, cold_time) = run_frames(&bus, &settings, "cold", &frames).await;
    let (warm, warm_time) = run_frames(&bus, &settings, "warm", &frames).await;
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let frames_seen = (cold.len() + warm.len()) as f64;
    let scraped = tokio::task::spawn_blocking(move || {
        scrape_until(&metrics_url, Duration::from_secs(30), |s| {
            ["ingest", "clusterer", "publisher"]
                .iter()
                .all(|service| value(s, "tessera_frames_total", service) == frames_seen)
        })
    })
    .await
    .unwrap();
    assert_metrics_count(&scraped, &cold, &warm);
    for (seq, r) in &cold {
        assert_eq!(r.cache_hits, 0, "cold frame {seq}: every chip is new");
    }
    for (seq, r) in &warm {
        assert_eq!(
            r.cache_hits, r.chips,
            "warm frame {seq}: every chip from the cache"
        );
        let c = &cold[seq];
        assert_eq!(
            r.communities
                .iter()
                .map(|c| c.area_fraction)
                .collect::<Vec<_>>(),
            c.communities
                .iter()
                .map(|c| c.area_fraction)
                .collect::<Vec<_>>(),
            "cached embeddings give the same segmentation"
        );
    }
    eprintln!(
        "cold run {:.0} ms, warm run {:.0} ms: {:.1}× faster",
        cold_time.as_secs_f64() * 1e3,
        warm_time.as_secs_f64() * 1e3,
        cold_time.as_secs_f64() / warm_time.as_secs_f64()
    );
    services.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_published_twice_is_processed_once() {
    let nats = nats();
    let settings = settings(&nats, None, "tiny");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "dup", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let data = frame_data(&scene_frame(256, 7), 0);
    let first = inst.publish_frame(&run, 0, &data).await.unwrap();
    let second = inst.publish_frame(&run, 0, &data).await.unwrap();
    assert!(!first.ack.duplicate);
    assert!(second.ack.duplicate, "the stream drops the second copy");
    collect(&mut stream, 1, Duration::from_secs(120)).await;
    // Nothing more arrives, and the results stream holds the frame once.
    let more = tokio::time::timeout(Duration::from_secs(3), stream.next()).await;
    assert!(more.is_err(), "a second result arrived: {more:?}");
    let state = bus.stream_state(streams::RESULTS.name).await.unwrap();
    assert_eq!(state.messages, 1);
    services.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_when_redis_stops_in_the_middle() {
    let nats = nats();
    let mut redis = RedisServer::start().unwrap();
    let settings = settings(&nats, Some(&redis), "tiny");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let mut status = bus
        .subscribe(&subjects::status_subject(Service::Embedder))
        .await
        .unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "outage", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let frames: Vec<Raster> = (0..6).map(|i| scene_frame(256, 300 + i)).collect();
    inst.publish_frame(&run, 0, &frame_data(&frames[0], 0))
        .await
        .unwrap();
    collect(&mut stream, 1, Duration::from_secs(120)).await;
    redis.stop();
    for (seq, raster) in frames.iter().enumerate().skip(1) {
        inst.publish_frame(&run, seq as u64, &frame_data(raster, seq as u64))
            .await
            .unwrap();
    }
    inst.stop_run(&run_stop(&run, 6)).await.unwrap();
    let got = collect(&mut stream, 5, Duration::from_secs(120)).await;
    assert_eq!(got.len(), 5);
    // The embedder says in its status that it runs without the cache.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut degraded = false;
    while !degraded && Instant::now() < deadline {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(2), status.next()).await {
            let s: ServiceStatus = decode(&m.payload, &settings.protocol_limits()).unwrap();
            degraded = s.detail.get("cache").map(String::as_str) == Some("degraded");
        }
    }
    assert!(
        degraded,
        "the embedder's status never said the cache is degraded"
    );
    services.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_with_a_reason_and_the_services_keep_running() {
    let nats = nats();
    let settings = settings(&nats, None, "tiny");
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let mut rejects = bus
        .subscribe(&subjects::rejects_subject(Service::Ingest))
        .await
        .unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "bad", WireParams::default());
    let run = start.run.clone();
    inst.start_run(&start).await.unwrap();
    let frame_subject = subjects::acq_frame_subject(inst.id());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("malformed", b"\x93not msgpack at all".to_vec(), "frame"),
        (
            "wrong version",
            frame_message(&run, 1, |f| f.version = 99),
            "version",
        ),
        (
            "wrong shape",
            frame_message(&run, 2, |f| f.width = 65),
            "pixels.inline",
        ),
        (
            "missing object",
            frame_message(&run, 3, |f| {
                f.pixels = Pixels::Object(ObjectRef {
                    bucket: streams::FRAMES_STORE.bucket.into(),
                    name: "bad/3.raw".into(),
                    size: 64 * 64,
                    digest: None,
                })
            }),
            "bad/3.raw",
        ),
        (
            "empty frame",
            frame_message(&run, 4, |f| {
                f.width = 0;
                f.pixels = Pixels::Inline(Vec::new());
            }),
            "width",
        ),
        (
            "smaller than a chip",
            frame_message(&run, 5, |f| {
                f.width = 32;
                f.height = 32;
                f.pixels = Pixels::Inline((0..32 * 32).map(|i| (i % 251) as u8).collect());
            }),
            "chip",
        ),
    ];
    for (i, (name, payload, _)) in cases.iter().enumerate() {
        bus.publish(
            &frame_subject,
            Bytes::from(payload.clone()),
            &[],
            Some(&format!("bad-{i}")),
        )
        .await
        .unwrap_or_else(|e| panic!("publishing the {name} case: {e}"));
    }
    let limits = settings.protocol_limits();
    let mut reasons = Vec::new();
    while reasons.len() < cases.len() {
        let m = tokio::time::timeout(Duration::from_secs(30), rejects.next())
            .await
            .expect("a reject for every bad message")
            .unwrap();
        let r: Reject = decode(&m.payload, &limits).unwrap();
        reasons.push((r.msg_id.clone().unwrap_or_default(), r.reason));
    }
    for (i, (name, _, needle)) in cases.iter().enumerate() {
        let id = format!("bad-{i}");
        let (_, reason) = reasons
            .iter()
            .find(|(m, _)| *m == id)
            .unwrap_or_else(|| panic!("no reject for the {name} case: {reasons:?}"));
        eprintln!("{name}: {reason}");
        assert!(
            reason.contains(needle),
            "{name}: {reason:?} should mention {needle:?}"
        );
    }

    // The services are still up: a good frame of the same run goes through.
    let mut stream = results(&bus, &inst, &run).await;
    inst.publish_frame(&run, 10, &frame_data(&scene_frame(256, 9), 10))
        .await
        .unwrap();
    collect(&mut stream, 1, Duration::from_secs(120)).await;
    assert!(services.is_running());
    services.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_clusterer_loses_no_frame_and_finishes_none_twice() {
    let nats = nats();
    let mut settings = settings(&nats, None, "tiny");
    settings.ingest.batch_chips = 16;
    // The stopped clusterer's unacknowledged batches come back after this wait (30 s by default).
    settings.queues.clusterer_ack_wait_secs = 6;
    let others = Services::start(
        &settings,
        &[Service::Ingest, Service::Embedder, Service::Publisher],
    )
    .await;
    let clusterer = Services::start(&settings, &[Service::Clusterer]).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let mut embedded = bus.subscribe("tessera.embedded.>").await.unwrap();
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "restart", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let frames: Vec<Raster> = (0..8).map(|i| scene_frame(256, 600 + i)).collect();
    let publish = |seq: usize| frame_data(&frames[seq], seq as u64);
    for seq in 0..3 {
        inst.publish_frame(&run, seq as u64, &publish(seq))
            .await
            .unwrap();
    }
    let mut got = collect(&mut stream, 1, Duration::from_secs(120)).await;
    // Stop the clusterer while frames are in flight, publish the rest, start it again.
    clusterer.stop().await.unwrap();
    for seq in 3..8 {
        inst.publish_frame(&run, seq as u64, &publish(seq))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let clusterer = Services::start(&settings, &[Service::Clusterer]).await;
    while got.len() < 8 {
        got.extend(collect(&mut stream, 1, Duration::from_secs(120)).await);
    }
    assert_eq!(got.len(), 8);

    // A late copy of a batch of a finished frame is dropped, not finished again.
    let limits = settings.protocol_limits();
    let first = tokio::time::timeout(Duration::from_secs(5), embedded.next())
        .await
        .unwrap()
        .unwrap();
    let batch: tessera_protocol::EmbeddingBatch = decode(&first.payload, &limits).unwrap();
    bus.publish(
        &first.subject,
        first.payload.clone(),
        &[],
        Some("late-copy"),
    )
    .await
    .unwrap();
    let more = tokio::time::timeout(Duration::from_secs(3), stream.next()).await;
    assert!(
        more.is_err(),
        "frame {} was finished twice: {more:?}",
        batch.seq
    );
    let state = bus.stream_state(streams::RESULTS.name).await.unwrap();
    assert_eq!(state.messages, 8, "one result per frame");
    clusterer.stop().await.unwrap();
    others.stop().await.unwrap();
}

/// A classifier trained here on one labelled frame, stored in NATS, and named by the runs:
/// every result carries the classes `classify_frame` gives on the same embeddings, with the
/// class map and overlay stored and the class fractions in the series; an edit is used from
/// the next frame on and kept in the history; a missing classifier or another model's is
/// said in the result, and the communities still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_classifier_publishes_classes_beside_the_communities() {
    use tessera_fewshot::{ClassInfo, Method, classify_frame, train_on_frame};
    use tessera_workers::classifiers;

    let nats = nats();
    let settings = settings(&nats, None, "efficientnet-lite0");
    let limits = settings.protocol_limits();
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let inst = instrument(&bus, &settings);

    // Trained on a labelled three-phase scene; applied to two others.
    let params = SegmentParams::default();
    let mut enc = deployed_encoder("efficientnet-lite0", params.chip);
    let embedded = |raster: &Raster, enc: &mut tessera_embedding::Encoder| {
        let prepared =
            tessera_segment::prepare(raster, &params, &mut tessera_segment::Timings::default())
                .unwrap();
        let rows = enc.embed(&prepared.chips, params.chip).unwrap();
        (prepared, rows)
    };
    let config = |seed| tessera_synth::SceneConfig {
        width: 256,
        height: 256,
        seed,
        kind: tessera_synth::SceneKind::ThreePhase,
        noise: tessera_synth::NoiseLevel::Low,
        ..tessera_synth::SceneConfig::default()
    };
    let (train, truth) = tessera_tests::scene(&config(11));
    let (prepared, rows) = embedded(&train, &mut enc);
    let digest = enc.digest().to_string();
    let mask: Vec<u32> = truth.iter().map(|&t| t + 1).collect();
    let (examples, values) =
        tessera_fewshot::chip_examples_from_mask(&prepared.grid, &mask).unwrap();
    let classes: Vec<ClassInfo> = (0..values.len())
        .map(|i| ClassInfo {
            name: format!("phase-{i}"),
            colour: [40 * i as u8, 200, 90],
        })
        .collect();
    let trained = train_on_frame(
        "three-phase",
        classes,
        Method::Logistic,
        &on(&prepared, &rows, &digest),
        &examples,
        &params,
    )
    .unwrap();
    let (_, first) = classifiers::save(&bus, &limits, &trained, "alice", "first strokes")
        .await
        .unwrap();

    let frames: Vec<Raster> = [12, 13].map(|s| tessera_tests::scene(&config(s)).0).into();
    let named = |run: &str, classifier: &str| {
        run_start(
            &inst,
            run,
            WireParams {
                classifier: Some(classifier.into()),
                ..WireParams::default()
            },
        )
    };
    let start = named("classes", "three-phase");
    let mut stream = results(&bus, &inst, &start.run).await;
    publish_run(&inst, &start, &frames).await;
    let got = collect(&mut stream, frames.len(), Duration::from_secs(300)).await;
    for (seq, raster) in frames.iter().enumerate() {
        let r = &got[&(seq as u64)];
        let k = r.classes.as_ref().expect("classes in the result");
        assert_eq!(k.error, None, "frame {seq}");
        assert_eq!((k.classifier.as_str(), k.revision), ("three-phase", first));
        assert!(!r.communities.is_empty());
        let (p, rows) = embedded(raster, &mut enc);
        let want = classify_frame(&trained, &on(&p, &rows, &digest), &params).unwrap();
        assert_eq!(
            k.chip_classes_u32().unwrap(),
            want.chips.classes,
            "frame {seq}"
        );
        let fractions = want.area_fractions();
        for (i, c) in k.classes.iter().enumerate() {
            assert_eq!(c.name, format!("phase-{i}"));
            assert!((c.area_fraction - fractions[i]).abs() < 1e-9, "frame {seq}");
        }
        eprintln!(
            "frame {seq}: classes {:?}, unknown {:.3}, {:.1} ms of {:.1} ms clustering",
            k.classes
                .iter()
                .map(|c| (c.name.as_str(), c.area_fraction))
                .collect::<Vec<_>>(),
            k.unknown_fraction,
            stage(r, "classes"),
            r.timings
                .iter()
                .filter(|(s, _)| !["embed", "cache", "overlay", "publish_to_result"]
                    .contains(&s.as_str()))
                .map(|(_, ms)| ms)
                .sum::<f64>(),
        );
        let total: f64 =
            k.classes.iter().map(|c| c.area_fraction).sum::<f64>() + k.unknown_fraction;
        assert!((total - 1.0).abs() < 1e-9, "fractions sum to {total}");
        let map = k.labels.as_ref().expect("a stored class map");
        let tiff = bus.get_object(&map.bucket, &map.name).await.unwrap();
        let (_, _, stored) = tessera_imaging::decode_labels_tiff(&tiff).unwrap();
        let unknown = values.len() as u32;
        let painted: Vec<u16> = want
            .labels
            .iter()
            .map(|&l| if l == unknown { u16::MAX } else { l as u16 })
            .collect();
        assert_eq!(stored, painted, "frame {seq}: the class map");
        let overlay = k.overlay.as_ref().expect("a class overlay");
        let png = bus
            .get_object(&overlay.bucket, &overlay.name)
            .await
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
    let (series, _) = bus
        .kv_get(streams::SERIES_KV.bucket, &keys::series_key(&start.run))
        .await
        .unwrap()
        .expect("the run's series");
    let series: RunSeries = decode(&series, &limits).unwrap();
    for p in &series.points {
        let names: Vec<&str> = p.classes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), values.len(), "frame {}: {names:?}", p.seq);
        assert!(p.unknown.is_some());
    }

    // An edit (a class renamed) classifies the next run's frames, and the history keeps both.
    let mut edited = trained.clone();
    edited.classes[0].name = "matrix".into();
    let (_, second) = classifiers::save(&bus, &limits, &edited, "bob", "renamed phase-0")
        .await
        .unwrap();
    let k = one_frame(&bus, &inst, named("edited", "three-phase"), &frames[0]).await;
    assert_eq!((k.revision, k.classes[0].name.as_str()), (second, "matrix"));
    let history = classifiers::history(&bus, &limits, "three-phase")
        .await
        .unwrap();
    let who: Vec<(u64, &str, &str)> = history
        .iter()
        .map(|(rev, r)| {
            let r = r.as_ref().unwrap();
            (*rev, r.edited_by.as_str(), r.note.as_str())
        })
        .collect();
    assert_eq!(
        who,
        [
            (first, "alice", "first strokes"),
            (second, "bob", "renamed phase-0")
        ]
    );

    // No such classifier, and one made from another model's embeddings: said, not fatal.
    let k = one_frame(&bus, &inst, named("missing", "nobody"), &frames[0]).await;
    let why = k.error.unwrap();
    assert!(why.contains("no classifier is named nobody"), "{why}");
    assert!(why.contains("tessera classifier put"), "{why}");
    let mut other = trained.clone();
    other.name = "other-model".into();
    other.model_digest = "0000111122223333".into();
    classifiers::save(&bus, &limits, &other, "carol", "")
        .await
        .unwrap();
    let k = one_frame(&bus, &inst, named("other", "other-model"), &frames[0]).await;
    let why = k.error.unwrap();
    assert!(why.contains("same model"), "{why}");
    assert!(services.is_running());
    services.stop().await.unwrap();
}

/// The milliseconds of `stage` in `r`'s timings.
fn stage(r: &tessera_protocol::FrameResult, stage: &str) -> f64 {
    let t = r.timings.iter().find(|(s, _)| s == stage);
    t.map(|(_, ms)| *ms)
        .unwrap_or_else(|| panic!("no {stage} timing"))
}

/// A prepared frame and its embedding rows, as the classifier sees them.
fn on<'a>(
    p: &'a tessera_segment::Prepared,
    rows: &'a [f32],
    digest: &'a str,
) -> tessera_fewshot::EmbeddedFrame<'a> {
    tessera_fewshot::EmbeddedFrame {
        grid: &p.grid,
        normalized: &p.normalized,
        embeddings: rows,
        model_digest: digest,
    }
}

/// Publishes `raster` as the one frame of `start`'s run and returns its classes.
async fn one_frame(
    bus: &Bus,
    inst: &tessera_instrument::Instrument,
    start: tessera_protocol::RunStart,
    raster: &Raster,
) -> tessera_protocol::FrameClasses {
    let mut stream = results(bus, inst, &start.run).await;
    publish_run(inst, &start, std::slice::from_ref(raster)).await;
    let got = collect(&mut stream, 1, Duration::from_secs(120)).await;
    let r = &got[&0];
    assert!(!r.communities.is_empty(), "the communities still arrive");
    r.classes.clone().expect("classes, or why not")
}
