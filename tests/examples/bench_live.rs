//! The live pipeline's benchmark (`scripts/bench_live.sh` runs it): 2048² frames through
//! NATS and Redis with one and with two `tessera-embedder` processes, against the same frames
//! through the single-process core (`tessera segment`'s stages and output encoding) in the
//! same run.
//!
//! `bench_live [FRAMES] [SIZE]` prints, for each embedder count:
//! - sequential latency: one frame at a time, instrument publish to result;
//! - pipelined throughput: every frame published at once, frames per second and the mean
//!   time per frame, against `tessera segment`'s time per frame;
//! - a warm-cache re-run of the same frames against the cold run.

// Benchmark code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_imaging::{LegendEntry, Raster, encode_labels_tiff, render_overlay};
use tessera_protocol::{Service, ServiceStatus, WireParams, decode, subjects};
use tessera_segment::{SegmentParams, segment};
use tessera_synth::{NoiseLevel, SceneConfig, generate, to_u16};
use tessera_testkit::{ChildGuard, RedisServer};
use tessera_tests::{deployed_encoder, live::*};

fn frames(n: usize, size: usize, seed: u64) -> Vec<Raster> {
    (0..n)
        .map(|i| {
            let s = generate(&SceneConfig {
                width: size,
                height: size,
                seed: seed + i as u64,
                noise: NoiseLevel::Medium,
                ..SceneConfig::default()
            })
            .unwrap();
            // 16-bit samples, as a detector sends them.
            let pixels = to_u16(&s.pixels).into_iter().map(f32::from).collect();
            Raster::new(size, size, pixels).unwrap()
        })
        .collect()
}

/// `tessera segment`'s work per frame: the stages, then the label map and overlay encoded.
fn single_process(frames: &[Raster]) -> f64 {
    let params = SegmentParams::default();
    let mut enc = deployed_encoder("efficientnet-lite0", params.chip);
    segment(&mut enc, &frames[0], &params).unwrap(); // warm-up
    let t = Instant::now();
    for f in frames {
        let (prepared, seg) = segment(&mut enc, f, &params).unwrap();
        let legend: Vec<LegendEntry> = Vec::new();
        encode_labels_tiff(&seg.labels, seg.width, seg.height).unwrap();
        render_overlay(&prepared.normalized, &seg.labels, 0.4, &legend).unwrap();
    }
    t.elapsed().as_secs_f64() / frames.len() as f64
}

fn embedder(settings: &tessera_settings::Settings, name: &str) -> ChildGuard {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("tessera-embedder");
    assert!(
        bin.is_file(),
        "build tessera-embedder first (scripts/bench_live.sh does)"
    );
    embedder_process(&bin, settings, name)
}

/// Waits until `n` embedder instances have published a status (their model is loaded).
async fn wait_for_embedders(bus: &Bus, n: usize) {
    let mut status = bus
        .subscribe(&subjects::status_subject(Service::Embedder))
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(60), status.next())
            .await
            .expect("embedders started")
            .unwrap();
        let s: ServiceStatus = decode(&m.payload, &Default::default()).unwrap();
        seen.insert(s.instance);
    }
}

/// Publishes `frames` as run `name`; `sequential`: one at a time, waiting for each result.
/// Returns (wall seconds, per-frame latencies in ms, cache hits, chips, mean stage times).
async fn run(
    bus: &Bus,
    settings: &tessera_settings::Settings,
    name: &str,
    frames: &[Raster],
    sequential: bool,
) -> (f64, Vec<f64>, u64, u64, String) {
    let inst = instrument(bus, settings);
    let start = run_start(&inst, name, WireParams::default());
    let run = start.run.clone();
    let mut stream = results(bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let data: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| frame_data(f, i as u64))
        .collect();
    let t0 = Instant::now();
    let mut sent = Vec::new();
    let mut got = std::collections::HashMap::new();
    for (seq, d) in data.iter().enumerate() {
        sent.push(t0.elapsed().as_secs_f64());
        inst.publish_frame(&run, seq as u64, d).await.unwrap();
        if sequential {
            let r = collect(&mut stream, 1, Duration::from_secs(300)).await;
            for (s, r) in r {
                got.insert(s, (t0.elapsed().as_secs_f64(), r));
            }
        }
    }
    while got.len() < frames.len() {
        let r = collect(&mut stream, 1, Duration::from_secs(300)).await;
        for (s, r) in r {
            got.insert(s, (t0.elapsed().as_secs_f64(), r));
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let latencies = (0..frames.len())
        .map(|s| (got[&(s as u64)].0 - sent[s]) * 1e3)
        .collect();
    let hits = got.values().map(|(_, r)| u64::from(r.cache_hits)).sum();
    let chips = got.values().map(|(_, r)| u64::from(r.chips)).sum();
    let mut stages: Vec<(String, f64)> = Vec::new();
    for (_, r) in got.values() {
        for (name, ms) in &r.timings {
            match stages.iter_mut().find(|(n, _)| n == name) {
                Some((_, t)) => *t += ms / frames.len() as f64,
                None => stages.push((name.clone(), ms / frames.len() as f64)),
            }
        }
    }
    let stages = stages
        .iter()
        .map(|(n, t)| format!("{n}={t:.0}"))
        .collect::<Vec<_>>()
        .join(" ");
    (wall, latencies, hits, chips, stages)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(6, |s| s.parse().unwrap());
    let size: usize = args.get(1).map_or(2048, |s| s.parse().unwrap());
    let frames_a = frames(n, size, 500);
    let frames_b = frames(n, size, 900);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());

    // The machine is shared and noisy: time the single-process path before and between the
    // live runs, and compare against its fastest pass (the conservative ratio).
    let mut single = single_process(&frames_a);
    println!(
        "RESULT single_process pass=1 size={size} frames={n} s_per_frame={single:.3} fps={:.2}",
        1.0 / single
    );
    let mut pipelined = Vec::new();
    for embedders in [1usize, 2] {
        if embedders > 1 {
            let again = single_process(&frames_a);
            println!(
                "RESULT single_process pass={embedders} size={size} frames={n} \
                 s_per_frame={again:.3} fps={:.2}",
                1.0 / again
            );
            single = single.min(again);
        }
        let nats = nats();
        let redis = RedisServer::start().unwrap();
        let mut settings = settings(&nats, Some(&redis), "efficientnet-lite0");
        let threads = (cores / embedders).max(1);
        settings.model.threads = threads;
        let services = Services::start(
            &settings,
            &[Service::Ingest, Service::Clusterer, Service::Publisher],
        )
        .await;
        let bus = Bus::connect(&settings.bus).await.unwrap();
        let _procs: Vec<ChildGuard> = (0..embedders)
            .map(|i| embedder(&settings, &format!("bench-{i}")))
            .collect();
        wait_for_embedders(&bus, embedders).await;

        // Each run's frames are new to the cache except the warm re-run's.
        let (_, seq_lat, _, _, seq_stages) =
            run(&bus, &settings, "sequential", &frames_b, true).await;
        let (cold_wall, cold_lat, cold_hits, chips, cold_stages) =
            run(&bus, &settings, "cold", &frames_a, false).await;
        let (warm_wall, warm_lat, warm_hits, _, warm_stages) =
            run(&bus, &settings, "warm", &frames_a, false).await;
        assert_eq!(cold_hits, 0, "the cold run found chips in the cache");
        println!(
            "RESULT live embedders={embedders} threads_each={threads} size={size} frames={n} \
             sequential_latency_ms={:.0} pipelined_s_per_frame={:.3} fps={:.2} \
             ratio_to_single_process={:.2} pipelined_latency_ms={:.0}",
            mean(&seq_lat),
            cold_wall / n as f64,
            n as f64 / cold_wall,
            cold_wall / n as f64 / single,
            mean(&cold_lat),
        );
        pipelined.push((embedders, cold_wall / n as f64));
        println!(
            "RESULT cache embedders={embedders} cold_s={cold_wall:.2} warm_s={warm_wall:.2} \
             speedup={:.1} warm_hits={warm_hits}/{chips} warm_latency_ms={:.0}",
            cold_wall / warm_wall,
            mean(&warm_lat)
        );
        let stage = |stages: &str, name: &str| -> f64 {
            stages
                .split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .map_or(0.0, |v| v.parse().unwrap())
        };
        let cold_embed = stage(&cold_stages, "embed") + stage(&cold_stages, "cache");
        let warm_embed = stage(&warm_stages, "embed") + stage(&warm_stages, "cache");
        println!(
            "RESULT embedding_stage embedders={embedders} cold_ms_per_frame={cold_embed:.0} \
             warm_ms_per_frame={warm_embed:.0} speedup={:.1}",
            cold_embed / warm_embed.max(0.001)
        );
        println!("    sequential stage means (ms): {seq_stages}");
        println!("    cold stage means (ms): {cold_stages}");
        println!("    warm stage means (ms): {warm_stages}");
        services.stop().await.unwrap();
    }
    for (embedders, per_frame) in pipelined {
        println!(
            "RESULT distributed_vs_single embedders={embedders} live_s_per_frame={per_frame:.3} \
             fastest_single_s_per_frame={single:.3} ratio={:.2}",
            per_frame / single
        );
    }
}
