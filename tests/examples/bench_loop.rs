//! The closed loop's benchmark (`scripts/bench_loop.sh` runs it): a synthetic irradiation
//! series run by an instrument that obeys (`tessera_instrument::obey`, lockstep: each frame
//! waits for its decision), through nats-server and the services in this process (ingest,
//! embedder, clusterer, publisher, decider), under a policy of five rules that the decider
//! evaluates on every frame.
//!
//! `bench_loop [FRAMES] [SIZE]` prints, per frame and as p50/p99 over the frames after the
//! first (the model's warm-up):
//! - last chip embedded → decision: from the frame's last embedding batch on
//!   `tessera.embedded.<run>` to its decision, both as this process hears them (so it counts
//!   clustering, painting, the overlay, publishing the result and deciding);
//! - result → decision: the decider's own part;
//! - instrument publish → decision: what the microscope waits for, from the frame's stamp
//!   (taken just before it is published) to the decider's (just before it publishes), in
//!   whole milliseconds of the same clock.

// Benchmark code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_instrument::{DoseSeries, LoopEvent, LoopOptions, obey};
use tessera_protocol::{EmbeddingBatch, FrameResult, WireParams, decode, subjects};
use tessera_tests::live::*;

const POLICY: &str = r#"
name = "bench"

[[rule]]
name = "disorder past 0.9"
when = "threshold"
community = 1
above = 0.9
frames = 2
action = "stop"

[[rule]]
name = "fast growth"
when = "rate"
community = 1
above = 0.5
action = { do = "notify", message = "disorder grows fast" }

[[rule]]
name = "new phase"
when = "new_community"
min_fraction = 0.02
action = { do = "notify", message = "a new phase" }

[[rule]]
name = "unsure"
when = "low_confidence"
margin = 0.001
area = 0.5
action = { do = "acquire_roi", goal = "low_confidence", magnification = 4 }

[[rule]]
name = "nothing happens"
when = "unchanged"
tolerance = 0.0001
frames = 50
action = "stop"
"#;

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
    v[rank.min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frames: u64 = args.get(1).map_or(12, |a| a.parse().unwrap());
    let size: u32 = args.get(2).map_or(1024, |a| a.parse().unwrap());
    let nats = nats();
    let settings = settings(&nats, None, "efficientnet-lite0");
    let services = Services::start(&settings, &Services::WITH_DECIDER).await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let inst = instrument(&bus, &settings);
    let series = DoseSeries::new(size, frames, 3).unwrap();
    let start = run_start(&inst, "bench-loop", WireParams::default());
    let run = start.run.clone();
    store_policy(&bus, &settings, &run, POLICY, "bench.toml").await;

    // When this process hears each frame's last embedding batch and its result.
    let heard: Arc<Mutex<HashMap<(&'static str, u64), Instant>>> = Arc::default();
    // Each frame's acquisition stamp (set just before it was published), from its result.
    let stamped: Arc<Mutex<HashMap<u64, u64>>> = Arc::default();
    let limits = settings.protocol_limits();
    let mut embedded = bus
        .subscribe(&subjects::embedded_subject(&run))
        .await
        .unwrap();
    let mut results = bus
        .subscribe(&subjects::results_subject(inst.id(), &run))
        .await
        .unwrap();
    let h = heard.clone();
    tokio::spawn(async move {
        while let Some(m) = embedded.next().await {
            let now = Instant::now();
            if let Ok(b) = decode::<EmbeddingBatch>(&m.payload, &limits) {
                // The last batch to arrive, whichever its index.
                h.lock().unwrap().insert(("embedded", b.seq), now);
            }
        }
    });
    let (h, st) = (heard.clone(), stamped.clone());
    tokio::spawn(async move {
        while let Some(m) = results.next().await {
            let now = Instant::now();
            if let Ok(r) = decode::<FrameResult>(&m.payload, &limits) {
                let stages: Vec<String> = r
                    .timings
                    .iter()
                    .map(|(s, ms)| format!("{s} {ms:.0}"))
                    .collect();
                eprintln!("frame {} stages (ms): {}", r.seq, stages.join(", "));
                h.lock().unwrap().insert(("result", r.seq), now);
                st.lock().unwrap().insert(r.seq, r.timestamp_ms);
            }
        }
    });

    let mut published = HashMap::new();
    let mut decided = HashMap::new();
    let options = LoopOptions {
        rate_hz: 0.0,
        decision_timeout: Duration::from_secs(300),
        ..LoopOptions::default()
    };
    let summary = obey(&inst, start, &series, &options, |e| match e {
        LoopEvent::Published { seq, .. } => {
            published.insert(seq, ());
        }
        LoopEvent::Decided(d) => {
            decided.insert(d.seq, (Instant::now(), d.decided_ms));
        }
        _ => {}
    })
    .await
    .unwrap();
    let heard = heard.lock().unwrap().clone();
    let stamped = stamped.lock().unwrap().clone();
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
    let (mut embedded_to, mut result_to, mut publish_to) = (Vec::new(), Vec::new(), Vec::new());
    println!("frame  embedded→decision  result→decision  publish→decision (ms)");
    for seq in 0..summary.frames {
        let (Some(&(d, decided_ms)), Some(()), Some(&stamp)) =
            (decided.get(&seq), published.get(&seq), stamped.get(&seq))
        else {
            println!("{seq:5}  no decision");
            continue;
        };
        let p = decided_ms.saturating_sub(stamp) as f64;
        let e = heard.get(&("embedded", seq)).map(|&t| ms(t, d));
        let r = heard.get(&("result", seq)).map(|&t| ms(t, d));
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        println!("{seq:5}  {:>17}  {:>15}  {:>16.1}", show(e), show(r), p);
        if seq > 0 {
            embedded_to.extend(e);
            result_to.extend(r);
            publish_to.push(p);
        }
    }
    for (what, v, target) in [
        ("last chip embedded → decision", &embedded_to, "≤ 50 ms p99"),
        ("result → decision (the decider)", &result_to, ""),
        (
            "instrument publish → decision",
            &publish_to,
            "≤ 1500 ms p99",
        ),
    ] {
        if v.is_empty() {
            continue;
        }
        println!(
            "{what}: p50 {:.1} ms, p99 {:.1} ms over {} frames of {size}² {target}",
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.len()
        );
    }
    services.stop().await.unwrap();
}
