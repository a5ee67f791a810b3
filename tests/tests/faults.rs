//! Faults in a live pipeline against a real nats-server and redis-server (issue 5, "nothing
//! lost"): an embedder killed mid-batch again and again, the clusterer and the publisher each
//! killed and restarted, nats-server restarted on its file store, Redis killed and restarted,
//! and a poison message dead-lettered. In every case each accepted frame gives exactly one
//! result (on the results subject, and once in RESULTS), with the labels `tessera segment`
//! gives.
//!
//! Killed services run as separate processes (the service binaries, built on first use by
//! [`service_binary`]); the others run in the test process. Every test has a hard time
//! limit, so a hang fails instead of blocking CI. A killed service's messages come back after
//! its consumer's ack wait, so the tests shorten the clusterer's and the publisher's
//! (`queues.*_ack_wait_secs`, 60 s by default) to a few seconds, keep the embedders' default
//! (4 s, with progress acks every second), and wait for events rather than for fixed times.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tessera_bus::{Bus, DLQ_DELIVERIES_HEADER, DLQ_REASON_HEADER, DLQ_STREAM_HEADER};
use tessera_imaging::Raster;
use tessera_instrument::{Instrument, ResultStream};
use tessera_protocol::{
    EmbeddingBatch, FrameResult, InstrumentId, RunId, Service, WireParams, decode,
    streams::{self, CLUSTERER_CONSUMER, EMBEDDER_CONSUMER, PUBLISHER_CONSUMER},
    subjects,
};
use tessera_segment::{SegmentParams, segment};
use tessera_settings::Settings;
use tessera_testkit::{ChildGuard, NatsServer, RedisServer};
use tessera_tests::deployed_encoder;
use tessera_tests::live::*;

/// The model of every test: small and fast, so 50-frame runs take seconds.
const MODEL: &str = "tiny";
/// Side of the frames.
const SIDE: usize = 256;
/// The most a test may take, ack-wait redeliveries included.
const LIMIT: Duration = Duration::from_secs(240);
/// How long to wait for results once every frame is published.
const RESULTS_WITHIN: Duration = Duration::from_secs(200);
/// How long to listen for an extra (duplicate) result after the last one.
const QUIET: Duration = Duration::from_secs(3);

/// Runs a test body under [`LIMIT`].
async fn bounded(what: &str, body: impl Future<Output = ()>) {
    let t0 = Instant::now();
    if tokio::time::timeout(LIMIT, body).await.is_err() {
        panic!("{what} did not finish within {LIMIT:?}");
    }
    eprintln!("{what}: {:.1} s", t0.elapsed().as_secs_f64());
}

/// Settings for `nats` (and `redis`) with many small chip batches per frame, and ack waits of
/// a few seconds, so that a killed service's messages come back soon. The embedders' ack wait
/// and progress acks are the defaults.
fn fault_settings(nats: &NatsServer, redis: Option<&RedisServer>) -> Settings {
    let mut s = settings(nats, redis, MODEL);
    s.ingest.batch_chips = 16;
    s.model.threads = 1;
    s.queues.clusterer_ack_wait_secs = 6;
    s.queues.publisher_ack_wait_secs = 6;
    s
}

/// `n` distinct frames.
fn frames(n: usize, seed: u64) -> Vec<Raster> {
    (0..n as u64).map(|i| scene_frame(SIDE, seed + i)).collect()
}

/// An instrument with its run started, and the run's results subscribed to.
struct Run {
    inst: Instrument,
    run: RunId,
    results: ResultStream,
}

impl Run {
    async fn start(bus: &Bus, settings: &Settings, name: &str) -> Run {
        let inst = instrument(bus, settings);
        let start = run_start(&inst, name, WireParams::default());
        let run = start.run.clone();
        let results = results(bus, &inst, &run).await;
        inst.start_run(&start).await.unwrap();
        Run { inst, run, results }
    }

    /// Publishes `raster` as frame `seq`, retrying while the server is away (the same
    /// message id each time, so at most one copy is accepted).
    async fn publish(&self, seq: u64, raster: &Raster) {
        let data = frame_data(raster, seq);
        let mut tries = 0;
        while let Err(e) = self.inst.publish_frame(&self.run, seq, &data).await {
            tries += 1;
            assert!(tries < 30, "publishing frame {seq}: {e}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn stop(&self, frames: u64) {
        self.inst
            .stop_run(&run_stop(&self.run, frames))
            .await
            .unwrap();
    }
}

/// Every frame `0..n` has exactly one result: seen once on the subject (checked while
/// collecting), and stored once in RESULTS, which holds nothing else.
async fn assert_one_result_per_frame(
    bus: &Bus,
    run: &Run,
    got: &HashMap<u64, FrameResult>,
    n: usize,
) {
    let mut seqs: Vec<u64> = got.keys().copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..n as u64).collect::<Vec<_>>(), "results seen");
    let mut stored: Vec<u64> = stored_results(bus, &run.inst, &run.run)
        .await
        .iter()
        .map(|r| r.seq)
        .collect();
    stored.sort_unstable();
    assert_eq!(stored, (0..n as u64).collect::<Vec<_>>(), "results stored");
    let state = bus.stream_state(streams::RESULTS.name).await.unwrap();
    assert_eq!(
        state.messages, n as u64,
        "RESULTS holds one result per frame"
    );
}

/// Every result's label map is `tessera segment`'s for its frame (`frame_of(seq)` indexes
/// `rasters`), up to the run's renaming of the communities.
async fn assert_labels(
    bus: &Bus,
    got: &HashMap<u64, FrameResult>,
    rasters: &[Raster],
    frame_of: impl Fn(u64) -> usize,
) {
    let params = SegmentParams::default();
    let references: Vec<Vec<u32>> = tokio::task::block_in_place(|| {
        let mut enc = deployed_encoder(MODEL, params.chip);
        rasters
            .iter()
            .map(|r| segment(&mut enc, r, &params).unwrap().1.labels)
            .collect()
    });
    let mut seqs: Vec<u64> = got.keys().copied().collect();
    seqs.sort_unstable();
    for seq in seqs {
        let ours = result_labels(bus, &got[&seq]).await;
        renaming(&references[frame_of(seq)], &ours)
            .unwrap_or_else(|e| panic!("frame {seq}: labels differ from tessera segment: {e}"));
    }
}

/// Redeliveries of `stream`/`durable` so far, once every message has been delivered.
fn redeliveries(nats: &NatsServer, stream: &str, durable: &str) -> u64 {
    let (deliveries, last_seq, _) = consumer_deliveries(nats, stream, durable);
    deliveries.saturating_sub(last_seq)
}

/// How long after `since` the consumer `stream`/`durable` first delivers a message again,
/// its redeliveries having been `before`; at most `within`.
async fn redelivered_after(
    nats: &NatsServer,
    (stream, durable): (&str, &str),
    before: u64,
    since: Instant,
    within: Duration,
) -> Duration {
    loop {
        let now = tokio::task::block_in_place(|| redeliveries(nats, stream, durable));
        if now > before {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < within,
            "nothing of {stream}/{durable} delivered again within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The milliseconds from the instrument's publish to the result, as the publisher measured
/// them (`publish_to_result`).
fn latency_ms(r: &FrameResult) -> f64 {
    r.timings
        .iter()
        .find(|(stage, _)| stage == "publish_to_result")
        .map(|(_, ms)| *ms)
        .unwrap_or_else(|| panic!("frame {}: no publish_to_result timing", r.seq))
}

/// Kills a service process at once (SIGKILL), as a crash would, and reaps it.
fn crash(child: &mut ChildGuard) {
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}

/// (a) One embedder keeps working while another is killed with SIGKILL mid-batch, three
/// times, in a 24-frame run (8 frames a life, each finished before the next kill): the killed
/// copies' chip batches are back in work within 5 s (the default ack wait, 4 s), every frame
/// completes once and within 10 s of its publish, and
/// nothing but the killed copies' batches is delivered twice (the steady embedder keeps what
/// it took ahead alive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedders_killed_mid_batch_lose_no_chip_and_finish_no_frame_twice() {
    // Built before the clock starts: a first build takes minutes.
    let bin = service_binary("tessera-embedder");
    bounded("embedder killed three times", async {
        let nats = nats();
        let mut settings = fault_settings(&nats, None);
        settings.embedder.pull_batch = 4;
        settings.embedder.max_batch_chips = 32;
        let services = Services::start(
            &settings,
            &[Service::Ingest, Service::Clusterer, Service::Publisher],
        )
        .await;
        let bus = Bus::connect(&settings.bus).await.unwrap();
        let limits = settings.protocol_limits();
        let mut embedded = bus.subscribe("tessera.embedded.>").await.unwrap();
        let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
        let _steady = embedder_process(&bin, &settings, "embedder-a");
        let mut victim = embedder_process(&bin, &settings, "embedder-b1");

        let mut run = Run::start(&bus, &settings, "kill-embedder").await;
        const N: usize = 24;
        const KILLS: usize = 3;
        let rasters = frames(N, 1000);
        let per = N / KILLS;
        let mut got = HashMap::new();
        for life in 1..=KILLS {
            let chunk = (life - 1) * per..life * per;
            while let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(200), embedded.next()).await
            {
                let b: EmbeddingBatch = decode(&m.payload, &limits).unwrap();
                *by_worker.entry(b.worker).or_default() += 1;
            }
            for (seq, r) in rasters.iter().enumerate().take(chunk.end).skip(chunk.start) {
                run.publish(seq as u64, r).await;
            }
            // Wait until this copy has embedded a batch of this chunk (the earlier ones were
            // counted): it is at work, with more taken ahead.
            let name = format!("embedder-b{life}");
            loop {
                let m = tokio::time::timeout(Duration::from_secs(60), embedded.next())
                    .await
                    .unwrap_or_else(|_| panic!("{name} embedded nothing within 60 s"))
                    .unwrap();
                let b: EmbeddingBatch = decode(&m.payload, &limits).unwrap();
                *by_worker.entry(b.worker.clone()).or_default() += 1;
                if b.worker == name {
                    break;
                }
            }
            let work = (streams::WORK.name, EMBEDDER_CONSUMER.durable);
            let before = tokio::task::block_in_place(|| redeliveries(&nats, work.0, work.1));
            crash(&mut victim);
            let killed = Instant::now();
            victim = embedder_process(&bin, &settings, &format!("embedder-b{}", life + 1));
            let back =
                redelivered_after(&nats, work, before, killed, Duration::from_secs(30)).await;
            eprintln!("killed {name}: its batches back in work after {back:.1?}");
            assert!(
                back < Duration::from_secs(5),
                "{name}'s chip batches came back after {back:?}, not within 5 s"
            );
            // The chunk's frames all finish before the next kill: each kill's redeliveries
            // are its own, and no frame is held by two victims.
            collect_more(&mut run.results, &mut got, chunk.end, RESULTS_WITHIN).await;
        }
        run.stop(N as u64).await;
        assert_no_more(&mut run.results, QUIET).await;
        assert_one_result_per_frame(&bus, &run, &got, N).await;

        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(200), embedded.next()).await
        {
            let b: EmbeddingBatch = decode(&m.payload, &limits).unwrap();
            *by_worker.entry(b.worker).or_default() += 1;
        }
        let redelivered = redeliveries(&nats, streams::WORK.name, EMBEDDER_CONSUMER.durable);
        eprintln!("batches embedded per copy: {by_worker:?}; {redelivered} redeliveries");
        assert!(
            by_worker.get("embedder-a").is_some_and(|&n| n > 0),
            "the steady embedder worked: {by_worker:?}"
        );
        // A killed copy held at most what it took ahead and one model call's worth.
        let e = &settings.embedder;
        let held = e.pull_batch + e.max_batch_chips / settings.ingest.batch_chips as usize;
        assert!(
            redelivered > 0 && redelivered <= (KILLS * held) as u64,
            "{redelivered} batches redelivered: some, and only what {KILLS} killed copies \
             held (at most {held} each)"
        );
        let mut latencies: Vec<(u64, f64)> = got.values().map(|r| (r.seq, latency_ms(r))).collect();
        latencies.sort_by(|a, b| b.1.total_cmp(&a.1));
        eprintln!(
            "slowest frames (seq, ms from publish to result): {:?}",
            &latencies[..5]
        );
        assert!(
            latencies[0].1 < 10_000.0,
            "frame {} took {:.0} ms from publish to result; a killed embedder's frames should \
             take under 10 s",
            latencies[0].0,
            latencies[0].1
        );
        let lag = bus
            .consumer_lag(streams::WORK.name, EMBEDDER_CONSUMER.durable)
            .await
            .unwrap();
        assert_eq!(
            (lag.num_pending, lag.num_ack_pending),
            (0, 0),
            "every chip batch acknowledged"
        );
        assert_labels(&bus, &got, &rasters, |seq| seq as usize).await;
        assert!(services.is_running());
        services.stop().await.unwrap();
    })
    .await;
}

/// (b) A service process (`tessera-clusterer` or `tessera-publisher`) is killed with SIGKILL
/// after the first results of a 12-frame run, while it holds unacknowledged work (or after
/// 10 s of waiting for that), and a new one started: every frame completes once. Returns
/// the consumer's redeliveries and whether the killed process held work.
async fn kill_and_restart(service: Service, bin: &Path) -> (u64, bool) {
    let nats = nats();
    let settings = fault_settings(&nats, None);
    let in_process: Vec<Service> = Services::ALL
        .into_iter()
        .filter(|s| *s != service)
        .collect();
    let services = Services::start(&settings, &in_process).await;
    let mut process = service_process(bin, &settings, service, &format!("{service}-1"));
    let bus = Bus::connect(&settings.bus).await.unwrap();
    let mut run = Run::start(&bus, &settings, &format!("kill-{service}")).await;
    let consumer = match service {
        Service::Clusterer => &CLUSTERER_CONSUMER,
        _ => &PUBLISHER_CONSUMER,
    };
    const N: usize = 12;
    const FIRST: usize = 4;
    let rasters = frames(N, 2000);
    for (seq, r) in rasters.iter().enumerate().take(FIRST) {
        run.publish(seq as u64, r).await;
    }
    let mut got = HashMap::new();
    collect_more(&mut run.results, &mut got, 3, RESULTS_WITHIN).await;
    // The rest only now, so that the process is at work on them when it is killed: had all
    // twelve gone at once, it could have finished them all before the kill.
    for (seq, r) in rasters.iter().enumerate().skip(FIRST) {
        run.publish(seq as u64, r).await;
    }
    run.stop(N as u64).await;
    let holding = freeze_holding_work(&process, &bus, consumer.stream, consumer.durable).await;
    crash(&mut process);
    eprintln!(
        "killed {service}-1 after {} results, holding work: {holding}",
        got.len()
    );
    let _process = service_process(bin, &settings, service, &format!("{service}-2"));
    collect_more(&mut run.results, &mut got, N, RESULTS_WITHIN).await;
    assert_no_more(&mut run.results, QUIET).await;
    assert_one_result_per_frame(&bus, &run, &got, N).await;
    assert_labels(&bus, &got, &rasters, |seq| seq as usize).await;
    assert!(services.is_running());
    services.stop().await.unwrap();
    (
        redeliveries(&nats, consumer.stream, consumer.durable),
        holding,
    )
}

/// Freezes `process` (SIGSTOP) at a moment when `durable` on `stream` has messages delivered
/// to it and not acknowledged, as the server sees once the frozen process's last acks have
/// landed; thaws it and tries again otherwise, for up to 10 s. The process is left frozen,
/// holding that work, for the kill. Whether it was caught holding work.
async fn freeze_holding_work(process: &ChildGuard, bus: &Bus, stream: &str, durable: &str) -> bool {
    let pid = process.0.id().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    let pending = || async {
        bus.consumer_lag(stream, durable)
            .await
            .unwrap()
            .num_ack_pending
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if pending().await > 0 {
            signal("-STOP");
            // Acks it sent before it stopped are on their way; let them land.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if pending().await > 0 {
                return true;
            }
            signal("-CONT");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// (b) The clusterer, killed while it holds open frames, and restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_clusterer_process_loses_no_frame_and_finishes_none_twice() {
    let bin = service_binary("tessera-clusterer");
    bounded("clusterer killed and restarted", async {
        let (redelivered, holding) = kill_and_restart(Service::Clusterer, &bin).await;
        eprintln!("{redelivered} embedding batches redelivered");
        assert!(holding, "the clusterer was killed while it held batches");
        assert!(
            redelivered > 0,
            "the killed clusterer's held batches were redelivered"
        );
    })
    .await;
}

/// (b) The publisher, killed mid-run and restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_publisher_process_loses_no_frame_and_publishes_none_twice() {
    let bin = service_binary("tessera-publisher");
    bounded("publisher killed and restarted", async {
        let (redelivered, _) = kill_and_restart(Service::Publisher, &bin).await;
        eprintln!("{redelivered} segmentations redelivered");
    })
    .await;
}

/// (c) nats-server is restarted (SIGTERM, then started again on the same port and file
/// store) mid-run: the services reconnect, their pull consumers resume, and the run
/// completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_across_a_nats_server_restart() {
    bounded("nats-server restarted", async {
        let mut nats = nats();
        let settings = fault_settings(&nats, None);
        let services = Services::start(&settings, &Services::ALL).await;
        let bus = Bus::connect(&settings.bus).await.unwrap();
        let mut run = Run::start(&bus, &settings, "nats-restart").await;
        const N: usize = 12;
        let rasters = frames(N, 3000);
        for (seq, r) in rasters.iter().enumerate().take(N / 2) {
            run.publish(seq as u64, r).await;
        }
        let mut got = HashMap::new();
        collect_more(&mut run.results, &mut got, 2, RESULTS_WITHIN).await;
        tokio::task::block_in_place(|| nats.restart()).unwrap();
        eprintln!("nats-server restarted after {} results", got.len());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !bus.is_connected() {
            assert!(Instant::now() < deadline, "the client did not reconnect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for (seq, r) in rasters.iter().enumerate().skip(N / 2) {
            run.publish(seq as u64, r).await;
        }
        run.stop(N as u64).await;
        // RESULTS is the truth: this subscriber misses what is published while it is still
        // reconnecting. What it does see, it must see once.
        let deadline = Instant::now() + RESULTS_WITHIN;
        let stored = loop {
            let stored = stored_results(&bus, &run.inst, &run.run).await;
            if stored.len() >= N {
                break stored;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {N} results stored within {RESULTS_WITHIN:?}",
                stored.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        while let Ok(Some(Ok(r))) = tokio::time::timeout(QUIET, run.results.next()).await {
            let seq = r.seq;
            assert!(
                got.insert(seq, r).is_none(),
                "a second result for frame {seq}"
            );
        }
        eprintln!("{} of {N} results seen live", got.len());
        let got: HashMap<u64, FrameResult> = stored.into_iter().map(|r| (r.seq, r)).collect();
        assert_one_result_per_frame(&bus, &run, &got, N).await;
        assert_labels(&bus, &got, &rasters, |seq| seq as usize).await;
        assert!(services.is_running(), "the services survived the restart");
        services.stop().await.unwrap();
    })
    .await;
}

/// (d) Redis is killed and started again (empty) mid-run: the embedder goes on with cache
/// misses, then serves hits again once the cache is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_degrades_to_misses_while_redis_is_down_and_recovers_to_hits() {
    bounded("redis killed and restarted", async {
        let nats = nats();
        let mut redis = RedisServer::start().unwrap();
        let settings = fault_settings(&nats, Some(&redis));
        let services = Services::start(&settings, &Services::ALL).await;
        let bus = Bus::connect(&settings.bus).await.unwrap();
        let mut run = Run::start(&bus, &settings, "redis-restart").await;
        // Two frames, published again and again: frame `seq` is raster `seq % 2`.
        let rasters = frames(2, 4000);
        let mut got = HashMap::new();
        let mut next = 0u64;
        let mut round = async |run: &mut Run, got: &mut HashMap<u64, FrameResult>| {
            let first = next;
            for _ in 0..2 {
                run.publish(next, &rasters[(next % 2) as usize]).await;
                next += 1;
            }
            collect_more(&mut run.results, got, next as usize, RESULTS_WITHIN).await;
            (first..next)
                .map(|s| (got[&s].cache_hits, got[&s].chips))
                .collect::<Vec<_>>()
        };
        let cold = round(&mut run, &mut got).await;
        assert!(cold.iter().all(|&(hits, _)| hits == 0), "cold: {cold:?}");
        let warm = round(&mut run, &mut got).await;
        assert!(warm.iter().all(|&(h, n)| h == n), "warm: {warm:?}");

        redis.stop();
        let down = round(&mut run, &mut got).await;
        assert!(
            down.iter().all(|&(hits, _)| hits == 0),
            "Redis down: cache misses, {down:?}"
        );

        redis.start_again().unwrap();
        // The embedder probes Redis every second; the empty cache fills on the next misses.
        let deadline = Instant::now() + Duration::from_secs(60);
        let recovered = loop {
            let r = round(&mut run, &mut got).await;
            if r.iter().all(|&(h, n)| h == n) {
                break r;
            }
            assert!(
                Instant::now() < deadline,
                "no cache hits after Redis came back"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        eprintln!(
            "cold {cold:?}, warm {warm:?}, down {down:?}, recovered {recovered:?} after {} rounds",
            next / 2
        );
        let n = next as usize;
        run.stop(next).await;
        assert_no_more(&mut run.results, QUIET).await;
        assert_one_result_per_frame(&bus, &run, &got, n).await;
        assert_labels(&bus, &got, &rasters, |seq| (seq % 2) as usize).await;
        assert!(services.is_running());
        services.stop().await.unwrap();
    })
    .await;
}

/// (e) A run asks for a model no embedder serves: every embedder retries its chip batches
/// until `max_deliver`, then they land on `tessera.dlq.WORK` with the reason. A run beside it
/// completes untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_chip_batch_is_dead_lettered_and_the_run_beside_it_completes() {
    bounded("poison message dead-lettered", async {
        let nats = nats();
        let settings = fault_settings(&nats, None);
        let services = Services::start(&settings, &Services::ALL).await;
        let bus = Bus::connect(&settings.bus).await.unwrap();
        let dlq = subjects::dlq_subject(streams::WORK.name).unwrap();
        let mut dead = bus.subscribe(&dlq).await.unwrap();
        let mut work = bus.subscribe("tessera.work.>").await.unwrap();

        // The poison: a run on another instrument whose chips ask for another model.
        let other = Instrument::new(
            bus.clone(),
            InstrumentId::new("tem-2").unwrap(),
            settings.protocol_limits(),
        );
        let wrong_model = WireParams {
            model: Some("efficientnet-lite0".into()),
            ..WireParams::default()
        };
        let poison_start = run_start(&other, "poison", wrong_model);
        other.start_run(&poison_start).await.unwrap();
        let poison = poison_start.run.clone();
        other
            .publish_frame(&poison, 0, &frame_data(&scene_frame(SIDE, 5000), 0))
            .await
            .unwrap();

        let mut run = Run::start(&bus, &settings, "beside-poison").await;
        const N: usize = 6;
        let rasters = frames(N, 5100);
        for (seq, r) in rasters.iter().enumerate() {
            run.publish(seq as u64, r).await;
        }
        run.stop(N as u64).await;
        let got = collect_once(&mut run.results, N, RESULTS_WITHIN, QUIET).await;
        assert_one_result_per_frame(&bus, &run, &got, N).await;
        assert_labels(&bus, &got, &rasters, |seq| seq as usize).await;

        // How many chip batches the poison frame was cut into.
        let limits = settings.protocol_limits();
        let mut batches = std::collections::BTreeSet::new();
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(200), work.next()).await
        {
            let b: tessera_protocol::ChipBatch = decode(&m.payload, &limits).unwrap();
            if b.run == poison {
                batches.insert(b.batch);
            }
        }
        let poison_batches = batches.len();
        assert!(poison_batches > 0);
        // Deliveries are retried after 1, 2, 4 and 8 s: the fifth is dead-lettered.
        for _ in 0..poison_batches {
            let m = tokio::time::timeout(Duration::from_secs(60), dead.next())
                .await
                .expect("the poison batches reach the dead-letter subject")
                .unwrap();
            let header = |name: &str| {
                tessera_bus::header(&m.headers, name)
                    .unwrap_or_else(|| panic!("the dead letter has no {name}: {:?}", m.headers))
                    .to_string()
            };
            let reason = header(DLQ_REASON_HEADER);
            eprintln!("dead letter: {reason}");
            assert!(
                reason.contains("efficientnet-lite0") && reason.contains(MODEL),
                "the reason names the model asked for and the one served: {reason}"
            );
            assert_eq!(header(DLQ_STREAM_HEADER), streams::WORK.name);
            assert_eq!(
                header(DLQ_DELIVERIES_HEADER),
                EMBEDDER_CONSUMER.max_deliver.to_string()
            );
            let b: tessera_protocol::ChipBatch = decode(&m.payload, &limits).unwrap();
            assert_eq!(b.run, poison, "only the poison run's batches");
        }
        let state = bus.stream_state(streams::DLQ.name).await.unwrap();
        assert_eq!(state.messages, poison_batches as u64, "DLQ holds each once");
        let lag = bus
            .consumer_lag(streams::WORK.name, EMBEDDER_CONSUMER.durable)
            .await
            .unwrap();
        assert_eq!((lag.num_pending, lag.num_ack_pending), (0, 0));
        assert!(services.is_running());
        services.stop().await.unwrap();
    })
    .await;
}
