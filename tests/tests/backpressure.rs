//! Backpressure: frames arrive faster than the embedder keeps up and the work queue is far
//! too small to hold them. Ingest waits for room instead of dropping or dead-lettering
//! anything, the backlog shows in the status messages (the ingest consumer's lag, the
//! `waiting_for_room` gauge and the `full_waits` counter), the queue never holds more than
//! its limit, and every frame still gives exactly one result. And when more frames are in
//! assembly than the clusterer takes at once, their batches wait in the clusterer instead of
//! being retried towards the dead-letter queue.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_protocol::{Service, ServiceStatus, WireParams, decode, subjects};
use tessera_tests::live::*;

const FRAMES: u64 = 6;
const PAYLOAD: usize = 128 * 1024;
const WORK_BYTES: i64 = 2 * PAYLOAD as i64;

/// The most of each figure seen in the status messages of one service.
#[derive(Debug, Default, Clone)]
struct Seen {
    lag: u64,
    waiting: i64,
    full_waits: u64,
    parked: i64,
    retried: u64,
}

fn watch_status(bus: &Bus, service: Service) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (bus, out) = (bus.clone(), seen.clone());
    tokio::spawn(async move {
        let mut sub = bus
            .subscribe(&subjects::status_subject(service))
            .await
            .unwrap();
        while let Some(m) = sub.next().await {
            let s: ServiceStatus = decode(&m.payload, &Default::default()).unwrap();
            let num = |k: &str| s.detail.get(k).and_then(|v| v.parse::<i64>().ok());
            let mut seen = out.lock().unwrap();
            seen.lag = seen.lag.max(s.lag);
            seen.waiting = seen.waiting.max(num("waiting_for_room").unwrap_or(0));
            seen.full_waits = seen.full_waits.max(num("full_waits").unwrap_or(0) as u64);
            // A counter: the parked_batches gauge is often back at 0 by the next status.
            seen.parked = seen.parked.max(num("batches_parked").unwrap_or(0));
            seen.retried = seen.retried.max(num("retried").unwrap_or(0) as u64);
        }
    });
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_work_queue_slows_ingest_down_and_loses_nothing() {
    let nats = nats();
    let mut settings = settings(&nats, None, "tiny");
    settings.limits.max_payload_bytes = PAYLOAD;
    settings.limits.inline_max_bytes = PAYLOAD as u64 / 2;
    settings.queues.work_max_bytes = WORK_BYTES;
    settings.queues.full_retry_ms = 100;
    settings.embedder.linger_ms = 0;
    let services = Services::start(&settings, &Services::ALL).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let ingest = watch_status(&bus, Service::Ingest);

    // Sample the work queue's size while the run goes on.
    let most = Arc::new(Mutex::new(0u64));
    let sampler = {
        let (bus, most) = (bus.clone(), most.clone());
        tokio::spawn(async move {
            loop {
                if let Ok(s) = bus.stream_state("WORK").await {
                    let mut m = most.lock().unwrap();
                    *m = (*m).max(s.bytes);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "backpressure", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    // Every frame at once: each needs several queues' worth of chips.
    let frames: Vec<_> = (0..FRAMES).map(|i| scene_frame(256, 40 + i)).collect();
    publish_run(&inst, &start, &frames).await;
    let got = collect_once(
        &mut stream,
        FRAMES as usize,
        Duration::from_secs(300),
        Duration::from_secs(2),
    )
    .await;
    sampler.abort();
    // A status tick after the last result, so the counters are final.
    tokio::time::sleep(Duration::from_millis(800)).await;

    let chips: u32 = got.values().map(|r| r.chips).sum();
    let seen = ingest.lock().unwrap().clone();
    let most = *most.lock().unwrap();
    eprintln!(
        "{FRAMES} frames, {chips} chips through a {WORK_BYTES}-byte work queue: at most {most} \
         bytes queued; ingest status: {seen:?}"
    );
    assert!(
        most <= WORK_BYTES as u64,
        "WORK held {most} bytes, over its {WORK_BYTES}"
    );
    assert!(
        seen.full_waits > 0,
        "ingest never found the queue full: {seen:?}"
    );
    assert!(
        seen.waiting >= 1,
        "no status showed ingest waiting: {seen:?}"
    );
    assert!(
        seen.lag >= 1,
        "no status showed a backlog at ingest: {seen:?}"
    );
    for stream in ["DLQ", "REJECTS"] {
        let n = bus.stream_state(stream).await.unwrap().messages;
        assert_eq!(n, 0, "{stream} holds {n} messages");
    }
    assert!(services.is_running());
    services.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_beyond_max_open_frames_wait_in_the_clusterer_and_are_never_retried() {
    let nats = nats();
    let mut settings = settings(&nats, None, "tiny");
    settings.clusterer.max_open_frames = 1;
    // Many small batches per frame, and two embedders: the frames' batches interleave.
    settings.ingest.batch_chips = 8;
    settings.embedder.linger_ms = 0;
    let services = Services::start(
        &settings,
        &[
            Service::Ingest,
            Service::Embedder,
            Service::Embedder,
            Service::Clusterer,
            Service::Publisher,
        ],
    )
    .await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let clusterer = watch_status(&bus, Service::Clusterer);
    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "parking", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    let frames: Vec<_> = (0..8).map(|i| scene_frame(256, 70 + i)).collect();
    publish_run(&inst, &start, &frames).await;
    collect_once(
        &mut stream,
        frames.len(),
        Duration::from_secs(300),
        Duration::from_secs(2),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let seen = clusterer.lock().unwrap().clone();
    eprintln!(
        "{} frames, one open at a time; clusterer status: {seen:?}",
        frames.len()
    );
    assert!(seen.parked > 0, "no batch ever waited: {seen:?}");
    assert_eq!(seen.retried, 0, "the clusterer retried batches: {seen:?}");
    for stream in ["DLQ", "REJECTS"] {
        let n = bus.stream_state(stream).await.unwrap().messages;
        assert_eq!(n, 0, "{stream} holds {n} messages");
    }
    services.stop().await.unwrap();
}
