//! The soak (`scripts/soak.sh` runs it): a steady stream of frames for a fixed time through
//! the four services, each in its own process, with a real nats-server (file store) and a
//! real redis-server, and the default model.
//!
//! `soak [MINUTES] [SIZE] [FPS]` first measures what the machine sustains (a burst of frames
//! published at once), then publishes distinct SIZE² frames at FPS (default: 80 % of the
//! measured rate) for MINUTES. Every 15 s it prints the queue lags and each service's RSS;
//! at the end, throughput, latency percentiles (instrument publish to result), frames lost or
//! duplicated, lag, and each service's memory after the first minute (the means of its two
//! halves and the slope).

// Benchmark code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_protocol::{Service, ServiceStatus, WireParams, decode, streams, subjects};
use tessera_testkit::{ChildGuard, NatsServer, RedisServer};
use tessera_tests::live::*;

const SERVICES: [(Service, &str); 4] = [
    (Service::Ingest, "tessera-ingest"),
    (Service::Embedder, "tessera-embedder"),
    (Service::Clusterer, "tessera-clusterer"),
    (Service::Publisher, "tessera-publisher"),
];

/// Resident memory of process `pid`, in MiB, from /proc.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// nats-server's resident memory in MiB, from its monitoring endpoint.
async fn nats_mib(nats: &NatsServer) -> f64 {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], nats.monitor_port()));
    let Ok(r) = tessera_testkit::http::request(addr, "GET", "/varz", &[]).await else {
        return f64::NAN;
    };
    let text = String::from_utf8_lossy(&r.body).into_owned();
    text.split("\"mem\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |b| b / 1024.0 / 1024.0)
}

/// Publish time and result time of each frame, by sequence number.
#[derive(Default)]
struct Book {
    sent: HashMap<u64, Instant>,
    done: HashMap<u64, Instant>,
    duplicates: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Waits until every service has published a status (its model is loaded, its consumer open).
async fn wait_for_services(bus: &Bus) {
    for (service, _) in SERVICES {
        let mut sub = bus
            .subscribe(&subjects::status_subject(service))
            .await
            .unwrap();
        let m = tokio::time::timeout(Duration::from_secs(120), sub.next())
            .await
            .unwrap_or_else(|_| panic!("{} did not start", service.as_str()))
            .unwrap();
        let _: ServiceStatus = decode(&m.payload, &Default::default()).unwrap();
    }
}

/// The backlog of each consumer: messages not yet delivered plus those not yet acked.
async fn lags(bus: &Bus) -> Vec<u64> {
    let mut out = Vec::new();
    for c in &streams::CONSUMERS {
        let l = bus
            .consumer_lag(c.stream, c.durable)
            .await
            .unwrap_or_default();
        out.push(l.num_pending + l.num_ack_pending);
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let minutes: f64 = args.first().map_or(10.0, |s| s.parse().unwrap());
    let size: usize = args.get(1).map_or(512, |s| s.parse().unwrap());
    let fixed_fps: Option<f64> = args.get(2).map(|s| s.parse().unwrap());

    let nats = nats();
    let redis = RedisServer::start().unwrap();
    let mut settings = settings(&nats, Some(&redis), "efficientnet-lite0");
    settings.telemetry.status_interval_ms = 1000;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    tessera_workers::up::ensure_topology(&bus, &settings)
        .await
        .unwrap();
    let procs: Vec<(&str, ChildGuard)> = SERVICES
        .iter()
        .map(|(service, bin)| {
            let p = service_process(&service_binary(bin), &settings, *service, bin);
            (*bin, p)
        })
        .collect();
    wait_for_services(&bus).await;

    let inst = instrument(&bus, &settings);
    let book = Arc::new(Mutex::new(Book::default()));

    // 1. What the machine sustains: a burst of frames published at once.
    let burst = 6u64;
    let start = run_start(&inst, "soak-calibrate", WireParams::default());
    let mut stream = results(&bus, &inst, &start.run).await;
    inst.start_run(&start).await.unwrap();
    let t = Instant::now();
    for seq in 0..burst {
        let f = scene_frame(size, 10_000 + seq);
        inst.publish_frame(&start.run, seq, &frame_data(&f, seq))
            .await
            .unwrap();
    }
    collect(&mut stream, burst as usize, Duration::from_secs(600)).await;
    let sustained = burst as f64 / t.elapsed().as_secs_f64();
    inst.stop_run(&run_stop(&start.run, burst)).await.unwrap();
    let fps = fixed_fps.unwrap_or(0.8 * sustained);
    println!(
        "RESULT soak_calibration size={size} burst={burst} sustained_fps={sustained:.3} \
         soak_fps={fps:.3}"
    );

    // 2. The steady stream.
    let start = run_start(&inst, "soak", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let collector = {
        let book = book.clone();
        tokio::spawn(async move {
            while let Some(Ok(r)) = stream.next().await {
                let mut b = book.lock().unwrap();
                if b.done.insert(r.seq, Instant::now()).is_some() {
                    b.duplicates += 1;
                }
            }
        })
    };
    let names: Vec<&str> = SERVICES.iter().map(|(s, _)| s.as_str()).collect();
    println!(
        "SAMPLE columns: t_s published results lag[{}] rss_mib[{} nats-server]",
        streams::CONSUMERS
            .iter()
            .map(|c| c.durable)
            .collect::<Vec<_>>()
            .join(" "),
        names.join(" ")
    );
    let t0 = Instant::now();
    let total = Duration::from_secs_f64(minutes * 60.0);
    let mut samples: Vec<(f64, Vec<f64>)> = Vec::new();
    let mut max_lag = vec![0u64; streams::CONSUMERS.len()];
    let mut next_sample = Duration::ZERO;
    let mut seq = 0u64;
    while t0.elapsed() < total {
        let due = Duration::from_secs_f64(seq as f64 / fps);
        if t0.elapsed() >= due {
            let f = scene_frame(size, 20_000 + seq);
            book.lock().unwrap().sent.insert(seq, Instant::now());
            inst.publish_frame(&run, seq, &frame_data(&f, seq))
                .await
                .unwrap();
            seq += 1;
        }
        if t0.elapsed() >= next_sample {
            next_sample += Duration::from_secs(15);
            let lag = lags(&bus).await;
            for (m, l) in max_lag.iter_mut().zip(&lag) {
                *m = (*m).max(*l);
            }
            let mut rss: Vec<f64> = procs.iter().map(|(_, p)| rss_mib(p.0.id())).collect();
            rss.push(nats_mib(&nats).await);
            let done = book.lock().unwrap().done.len();
            println!(
                "SAMPLE {:.0} {seq} {done} lag={:?} rss_mib=[{}]",
                t0.elapsed().as_secs_f64(),
                lag,
                rss.iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            samples.push((t0.elapsed().as_secs_f64(), rss));
        }
        let wait = Duration::from_secs_f64(seq as f64 / fps).saturating_sub(t0.elapsed());
        tokio::time::sleep(wait.min(Duration::from_millis(200))).await;
    }
    let published = seq;
    let steady = t0.elapsed().as_secs_f64();
    inst.stop_run(&run_stop(&run, published)).await.unwrap();

    // 3. Drain, then the figures.
    let drain = Instant::now();
    while book.lock().unwrap().done.len() < published as usize
        && drain.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // late duplicates would show here
    collector.abort();
    let (latencies, in_window, results, duplicates) = {
        let b = book.lock().unwrap();
        let mut latencies: Vec<f64> = b
            .done
            .iter()
            .filter_map(|(s, done)| Some(done.duration_since(*b.sent.get(s)?).as_secs_f64() * 1e3))
            .collect();
        latencies.sort_by(f64::total_cmp);
        let in_window = b
            .done
            .values()
            .filter(|d| d.duration_since(t0).as_secs_f64() <= steady)
            .count();
        (latencies, in_window, b.done.len(), b.duplicates)
    };
    let lost = published as usize - results;
    println!(
        "RESULT soak minutes={minutes} size={size} target_fps={fps:.3} published={published} \
         results={results} lost={lost} duplicates={duplicates} throughput_fps={:.3} drain_s={:.1}",
        in_window as f64 / steady,
        drain.elapsed().as_secs_f64()
    );
    println!(
        "RESULT soak_latency_ms p50={:.0} p90={:.0} p99={:.0} max={:.0}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    let end_lag = lags(&bus).await;
    for (i, c) in streams::CONSUMERS.iter().enumerate() {
        println!(
            "RESULT soak_lag consumer={}/{} max={} at_end={}",
            c.stream, c.durable, max_lag[i], end_lag[i]
        );
    }
    // Memory after warm-up (model loaded, caches filled: from the first minute on): the mean
    // of the first half against the second, and the least-squares slope.
    let warm: Vec<&(f64, Vec<f64>)> = samples.iter().filter(|(t, _)| *t >= 60.0).collect();
    let warm = if warm.len() >= 4 {
        warm
    } else {
        samples.iter().collect()
    };
    let half = warm.len() / 2;
    let mut who: Vec<&str> = names.clone();
    who.push("nats-server");
    for (i, name) in who.iter().enumerate() {
        let ys: Vec<f64> = warm.iter().map(|(_, r)| r[i]).collect();
        let xs: Vec<f64> = warm.iter().map(|(t, _)| t / 60.0).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (mx, my) = (mean(&xs), mean(&ys));
        let slope = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>()
            / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
        println!(
            "RESULT soak_rss_mib service={name} first_half_mean={:.1} second_half_mean={:.1} \
             min={:.1} max={:.1} slope_mib_per_min={slope:+.2}",
            mean(&ys[..half]),
            mean(&ys[half..]),
            ys.iter().copied().fold(f64::INFINITY, f64::min),
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
    }
}
