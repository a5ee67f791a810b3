//! A live pipeline for tests: a real nats-server (and optionally redis-server), the four
//! services running in this process, and an instrument to publish with.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_imaging::{NO_LABEL, NO_LABEL_U16, Raster, decode_labels_tiff};
use tessera_instrument::{FrameData, Instrument, ResultFilter, ResultStream, watch};
use tessera_protocol::{
    FrameResult, InstrumentId, PROTOCOL_VERSION, RunId, RunStart, RunStop, Service, StopReason,
    WireParams,
};
use tessera_settings::Settings;
use tessera_testkit::{ChildGuard, NatsServer, RedisServer};
use tessera_workers::{CancellationToken, up};
use tokio::task::JoinHandle;

/// The nats-server configuration the tests use: 8 MB payloads, as `deploy/nats` sets.
pub const NATS_CONFIG: &str = "max_payload: 8MB";

/// Starts a nats-server with JetStream, 8 MB payloads and room for the streams' limits.
pub fn nats() -> NatsServer {
    NatsServer::builder()
        .config(NATS_CONFIG)
        .jetstream("max_file_store: 1TB")
        .start()
        .expect("starting nats-server (scripts/test.sh installs it)")
}

/// Settings for services talking to `nats` (and `redis`, if given), with `model`.
pub fn settings(nats: &NatsServer, redis: Option<&RedisServer>, model: &str) -> Settings {
    let mut s = Settings::default();
    s.bus.url = nats.url();
    s.cache.url = redis.map(RedisServer::url);
    s.model.name = model.to_string();
    s.model.cache_dir = Some(crate::cache().root().to_path_buf());
    s.telemetry.status_interval_ms = 300;
    // Many services run side by side: each serves its metrics on a free port.
    s.telemetry.metrics_addr = "127.0.0.1:0".into();
    s
}

/// Services running in this process; stopped when dropped.
pub struct Services {
    shutdown: CancellationToken,
    handle: Option<JoinHandle<Result<(), tessera_workers::WorkerError>>>,
}

impl Services {
    /// Starts `services` with `settings` and waits until the topology exists.
    pub async fn start(settings: &Settings, services: &[Service]) -> Services {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tessera_telemetry::init(&settings.telemetry, "tests");
        }
        let bus = Bus::connect(&settings.bus)
            .await
            .expect("connecting to NATS");
        up::ensure_topology(&bus, settings)
            .await
            .expect("creating the topology");
        let shutdown = CancellationToken::new();
        let services = services.to_vec();
        let settings = Arc::new(settings.clone());
        let token = shutdown.clone();
        let handle =
            tokio::spawn(async move { up::run_services(bus, settings, &services, token).await });
        Services {
            shutdown,
            handle: Some(handle),
        }
    }

    /// Every service: ingest, one embedder, clusterer, publisher.
    pub const ALL: [Service; 4] = [
        Service::Ingest,
        Service::Embedder,
        Service::Clusterer,
        Service::Publisher,
    ];

    /// [`Services::ALL`] and the closed loop's decider.
    pub const WITH_DECIDER: [Service; 5] = [
        Service::Ingest,
        Service::Embedder,
        Service::Clusterer,
        Service::Publisher,
        Service::Decider,
    ];

    /// Stops the services and returns how they ended.
    pub async fn stop(mut self) -> Result<(), tessera_workers::WorkerError> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(h) => h.await.expect("the services task panicked"),
            None => Ok(()),
        }
    }

    /// Whether the services are still running (none failed).
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An instrument called `tem-1` on `bus`.
pub fn instrument(bus: &Bus, settings: &Settings) -> Instrument {
    Instrument::new(
        bus.clone(),
        InstrumentId::new("tem-1").expect("a valid instrument id"),
        settings.protocol_limits(),
    )
}

/// A run start with default parameters.
pub fn run_start(instrument: &Instrument, run: &str, params: WireParams) -> RunStart {
    RunStart {
        version: PROTOCOL_VERSION,
        run: RunId::new(run).expect("a valid run id"),
        instrument: instrument.id().clone(),
        sample: "test specimen".into(),
        modality: "STEM".into(),
        started_at_ms: 0,
        params,
        metadata: Default::default(),
    }
}

/// A run stop after `frames` frames.
pub fn run_stop(run: &RunId, frames: u64) -> RunStop {
    RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason: StopReason::Success,
        frames,
        message: String::new(),
    }
}

/// Starts the run `start`, publishes `frames` as its frames 0, 1, … and stops it.
pub async fn publish_run(instrument: &Instrument, start: &RunStart, frames: &[Raster]) {
    instrument.start_run(start).await.expect("starting the run");
    for (seq, raster) in frames.iter().enumerate() {
        instrument
            .publish_frame(&start.run, seq as u64, &frame_data(raster, seq as u64))
            .await
            .expect("publishing a frame");
    }
    instrument
        .stop_run(&run_stop(&start.run, frames.len() as u64))
        .await
        .expect("stopping the run");
}

/// Checks and stores `toml` (named `origin` in errors) as `run`'s closed-loop policy.
pub async fn store_policy(bus: &Bus, settings: &Settings, run: &RunId, toml: &str, origin: &str) {
    let target = tessera_workers::policies::PolicyFor::Run(run.clone());
    tessera_workers::policies::save(
        bus,
        &settings.protocol_limits(),
        &target,
        toml,
        origin,
        "test",
    )
    .await
    .expect("storing the run's policy");
}

/// Subscribes to the results of `run` (before publishing, so none is missed).
pub async fn results(bus: &Bus, instrument: &Instrument, run: &RunId) -> ResultStream {
    watch(bus, ResultFilter::Run(instrument.id().clone(), run.clone()))
        .await
        .expect("subscribing to results")
}

/// Collects `n` results (by seq), failing after `timeout`.
pub async fn collect(
    stream: &mut ResultStream,
    n: usize,
    timeout: Duration,
) -> HashMap<u64, FrameResult> {
    let mut out = HashMap::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(r))) => {
                out.insert(r.seq, r);
            }
            Ok(Some(Err(e))) => panic!("an undecodable result: {e}"),
            Ok(None) => panic!("the results subscription ended"),
            Err(_) => panic!(
                "only {} of {n} results within {timeout:?}: {:?}",
                out.len(),
                out.keys().collect::<Vec<_>>()
            ),
        }
    }
    out
}

/// Adds results to `out` until it holds `n` frames, failing on a second result for a frame
/// (the results subject carries every publish, so this sees duplicates the stream drops) or
/// after `timeout`.
pub async fn collect_more(
    stream: &mut ResultStream,
    out: &mut HashMap<u64, FrameResult>,
    n: usize,
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(r))) => {
                let seq = r.seq;
                assert!(
                    out.insert(seq, r).is_none(),
                    "a second result for frame {seq}"
                );
            }
            Ok(Some(Err(e))) => panic!("an undecodable result: {e}"),
            Ok(None) => panic!("the results subscription ended"),
            Err(_) => {
                let mut have: Vec<u64> = out.keys().copied().collect();
                have.sort_unstable();
                panic!(
                    "only {} of {n} results within {timeout:?}: frames {have:?}",
                    out.len()
                )
            }
        }
    }
}

/// Fails if any result arrives within `quiet`.
pub async fn assert_no_more(stream: &mut ResultStream, quiet: Duration) {
    match tokio::time::timeout(quiet, stream.next()).await {
        Err(_) => {}
        Ok(Some(Ok(r))) => panic!("an extra result, for frame {}", r.seq),
        Ok(other) => panic!("the results subscription failed: {other:?}"),
    }
}

/// Collects the results of `n` distinct frames ([`collect_more`]: a second result for a frame
/// fails), then fails if any more arrives within `quiet`.
pub async fn collect_once(
    stream: &mut ResultStream,
    n: usize,
    timeout: Duration,
    quiet: Duration,
) -> HashMap<u64, FrameResult> {
    let mut out = HashMap::new();
    collect_more(stream, &mut out, n, timeout).await;
    assert_no_more(stream, quiet).await;
    out
}

/// The results of `run` that RESULTS holds, oldest first: what a dashboard replays, and
/// the truth when a subscriber may have missed some (while it was reconnecting).
pub async fn stored_results(bus: &Bus, instrument: &Instrument, run: &RunId) -> Vec<FrameResult> {
    let subject = tessera_protocol::subjects::results_subject(instrument.id(), run);
    let limits = tessera_protocol::Limits {
        max_frame_pixels: u64::MAX,
        ..tessera_protocol::Limits::default()
    };
    bus.replay(
        tessera_protocol::streams::RESULTS.name,
        &subject,
        usize::MAX,
    )
    .await
    .expect("replaying the results")
    .iter()
    .map(|m| tessera_protocol::decode(&m.payload, &limits).expect("a stored result decodes"))
    .collect()
}

/// The label map of a result, from the object store.
pub async fn result_labels(bus: &Bus, r: &FrameResult) -> Vec<u32> {
    let o = r.labels.as_ref().expect("the result names its label map");
    let bytes = bus
        .get_object(&o.bucket, &o.name)
        .await
        .expect("reading the label map");
    let (w, h, labels) = decode_labels_tiff(&bytes).expect("decoding the label map");
    assert_eq!((w, h), (r.width as usize, r.height as usize));
    labels
        .into_iter()
        .map(|l| {
            if l == NO_LABEL_U16 {
                NO_LABEL
            } else {
                u32::from(l)
            }
        })
        .collect()
}

/// The one-to-one renaming that turns `ours` into `theirs`, pixel for pixel, or a
/// description of the first pixel where no such renaming exists.
pub fn renaming(ours: &[u32], theirs: &[u32]) -> Result<HashMap<u32, u32>, String> {
    if ours.len() != theirs.len() {
        return Err(format!("{} vs {} pixels", ours.len(), theirs.len()));
    }
    let mut forward = HashMap::new();
    let mut backward = HashMap::new();
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        if *forward.entry(a).or_insert(b) != b || *backward.entry(b).or_insert(a) != a {
            return Err(format!(
                "pixel {i}: label {a} here, {b} there, but {a} elsewhere maps to {:?} and {b} \
                 comes from {:?}",
                forward.get(&a),
                backward.get(&b)
            ));
        }
    }
    Ok(forward)
}

/// A synthetic `size` × `size` frame: an order–disorder scene for even seeds, a three-phase
/// one for odd seeds, low noise.
pub fn scene_frame(size: usize, seed: u64) -> Raster {
    let kind = if seed % 2 == 0 {
        tessera_synth::SceneKind::OrderDisorder
    } else {
        tessera_synth::SceneKind::ThreePhase
    };
    scene_of(kind, size, seed)
}

/// A synthetic `size` × `size` scene of `kind`, low noise.
pub fn scene_of(kind: tessera_synth::SceneKind, size: usize, seed: u64) -> Raster {
    crate::scene(&tessera_synth::SceneConfig {
        width: size,
        height: size,
        seed,
        kind,
        noise: tessera_synth::NoiseLevel::Low,
        ..tessera_synth::SceneConfig::default()
    })
    .0
}

/// A 64 × 64 8-bit frame message as an instrument would send it, with any field changed by
/// `edit`.
pub fn frame_message(
    run: &RunId,
    seq: u64,
    edit: impl FnOnce(&mut tessera_protocol::Frame),
) -> Vec<u8> {
    let mut f = tessera_protocol::Frame {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        seq,
        timestamp_ms: 1,
        width: 64,
        height: 64,
        dtype: tessera_protocol::Dtype::U8,
        pixel_size_nm: None,
        dose: None,
        scalars: std::collections::BTreeMap::new(),
        pixels: tessera_protocol::Pixels::Inline(vec![7; 64 * 64]),
    };
    edit(&mut f);
    tessera_protocol::encode(&f).expect("encoding a frame message")
}

/// Raw frame data for `raster` at sequence `seq`.
pub fn frame_data(raster: &Raster, seq: u64) -> FrameData {
    let mut f = FrameData::from_raster(raster);
    f.timestamp_ms = 1_700_000_000_000 + seq * 1000;
    f.dose = Some(seq as f64 * 10.0);
    f
}

/// A `tessera-embedder` process (the binary at `bin`) named `name`, configured from
/// `settings` through `TESSERA__` variables: NATS and Redis URLs, the model, its threads, the
/// embedder's batching and the status interval. Killed when dropped.
pub fn embedder_process(bin: &std::path::Path, settings: &Settings, name: &str) -> ChildGuard {
    service_process(bin, settings, Service::Embedder, name)
}

/// A service process (`tessera-ingest`, `-embedder`, `-clusterer` or `-publisher`: the
/// binary at `bin`, running `service`) named `name`, configured from `settings` through
/// `TESSERA__` variables: the NATS URL, the status interval, and what `service` reads of its
/// own section (the embedder also the model and the Redis URL). Killed when dropped.
pub fn service_process(
    bin: &std::path::Path,
    settings: &Settings,
    service: Service,
    name: &str,
) -> ChildGuard {
    let mut cmd = service_command(bin, settings, service, name);
    let what = format!("starting {} ({})", bin.display(), service.as_str());
    ChildGuard(cmd.spawn().expect(&what))
}

/// The command [`service_process`] spawns, for a test to add to (e.g. variables) first.
pub fn service_command(
    bin: &std::path::Path,
    settings: &Settings,
    service: Service,
    name: &str,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin);
    cmd.env("TESSERA__BUS__URL", &settings.bus.url)
        // Every service takes its instance name from here.
        .env("TESSERA__EMBEDDER__INSTANCE", name)
        .env(
            "TESSERA__TELEMETRY__STATUS_INTERVAL_MS",
            settings.telemetry.status_interval_ms.to_string(),
        )
        .env("TESSERA__TELEMETRY__LOG", "warn")
        .env(
            "TESSERA__TELEMETRY__METRICS_ADDR",
            &settings.telemetry.metrics_addr,
        )
        .stdout(std::process::Stdio::null());
    // Every service ensures every consumer: they must agree on the ack waits (and every
    // service checks the embedders' progress interval against theirs).
    cmd.env(
        "TESSERA__EMBEDDER__PROGRESS_INTERVAL_MS",
        settings.embedder.progress_interval_ms.to_string(),
    );
    let q = &settings.queues;
    for (key, secs) in [
        ("INGEST", q.ingest_ack_wait_secs),
        ("EMBEDDER", q.embedder_ack_wait_secs),
        ("CLUSTERER", q.clusterer_ack_wait_secs),
        ("PUBLISHER", q.publisher_ack_wait_secs),
    ] {
        cmd.env(
            format!("TESSERA__QUEUES__{key}_ACK_WAIT_SECS"),
            secs.to_string(),
        );
    }
    match service {
        Service::Ingest => {
            let i = &settings.ingest;
            cmd.env("TESSERA__INGEST__BATCH_CHIPS", i.batch_chips.to_string())
                .env(
                    "TESSERA__INGEST__STORE_NORMALIZED",
                    i.store_normalized.to_string(),
                )
                .env("TESSERA__MODEL__NAME", &settings.model.name);
        }
        Service::Embedder => {
            let cache_dir = settings
                .model
                .cache_dir
                .as_ref()
                .expect("settings() sets the model cache");
            let e = &settings.embedder;
            cmd.env("TESSERA__MODEL__NAME", &settings.model.name)
                .env("TESSERA__MODEL__CACHE_DIR", cache_dir)
                .env(
                    "TESSERA__MODEL__THREADS",
                    settings.model.threads.to_string(),
                )
                .env("TESSERA__EMBEDDER__PULL_BATCH", e.pull_batch.to_string())
                .env(
                    "TESSERA__EMBEDDER__MAX_BATCH_CHIPS",
                    e.max_batch_chips.to_string(),
                );
            if let Some(url) = &settings.cache.url {
                cmd.env("TESSERA__CACHE__URL", url);
            }
        }
        Service::Clusterer => {
            let c = &settings.clusterer;
            cmd.env(
                "TESSERA__CLUSTERER__MAX_OPEN_FRAMES",
                c.max_open_frames.to_string(),
            )
            .env(
                "TESSERA__CLUSTERER__FRAME_TIMEOUT_SECS",
                c.frame_timeout_secs.to_string(),
            );
        }
        Service::Publisher => {
            cmd.env(
                "TESSERA__PUBLISHER__OVERLAY",
                settings.publisher.overlay.to_string(),
            );
        }
        Service::Decider => {}
    }
    cmd
}

/// The path of the service binary `name` (`tessera-embedder`, `tessera-clusterer`, ...: each
/// the binary of the package of that name), built first: this test package does not depend
/// on the services, so nothing else builds them. Runs `cargo build` once per binary and test
/// process, into the target directory and profile this test binary was built in (a no-op
/// when the binary is fresh).
///
/// With `TESSERA_SERVICE_BINARIES` set to a folder, the binary there is used as it is:
/// `scripts/test.sh` sets it to the folder `cargo test --workspace` built every service
/// binary into (each service package has an integration test, so its binary is built with
/// the test build's features), sparing a `cargo build` whose different feature set would
/// compile much of the workspace again.
pub fn service_binary(name: &str) -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("TESSERA_SERVICE_BINARIES") {
        let bin = std::path::Path::new(&dir).join(name);
        assert!(
            bin.is_file(),
            "{} is missing: TESSERA_SERVICE_BINARIES names a folder without it (run the \
             whole workspace's `cargo test`, or unset the variable to build it here)",
            bin.display()
        );
        return bin;
    }
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = profile_dir();
    if !built.iter().any(|b| b == name) {
        build_service(&dir, name);
        built.push(name.to_string());
    }
    let bin = dir.join(name);
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

/// `target/<profile>`, where this test binary (`target/<profile>/deps/<test>`) and the
/// workspace's binaries are.
fn profile_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("locating the test binary");
    exe.parent()
        .and_then(std::path::Path::parent)
        .expect("the test binary is in target/<profile>/deps")
        .to_path_buf()
}

/// `cargo build -p <name> --bin <name>` into the target directory and profile of `dir`.
fn build_service(dir: &std::path::Path, name: &str) {
    let target_dir = dir.parent().expect("target/<profile> has a parent");
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(p) => p,
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--profile",
            profile,
            "-p",
            name,
            "--bin",
            name,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .status()
        .unwrap_or_else(|e| panic!("running cargo build for {name}: {e}"));
    assert!(status.success(), "cargo build of {name} failed: {status}");
}

/// Delivery counts of durable consumer `durable` on `stream`, from the server's monitoring
/// endpoint (`/jsz`): `(deliveries, last stream sequence delivered, messages redelivered and
/// not yet acknowledged)`. Every delivery, redeliveries included, takes a consumer sequence,
/// so `deliveries - last stream sequence` counts the redeliveries once every message of a
/// stream that started empty has been delivered.
pub fn consumer_deliveries(nats: &NatsServer, stream: &str, durable: &str) -> (u64, u64, u64) {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], nats.monitor_port()));
    let mut s = std::net::TcpStream::connect(addr).expect("connecting to the monitoring port");
    // HTTP/1.0: the whole body, never chunked, then the server closes.
    s.write_all(b"GET /jsz?accounts=true&streams=true&consumers=true HTTP/1.0\r\n\r\n")
        .expect("asking /jsz");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("reading /jsz");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP reply from /jsz");
    let jsz: serde_json::Value =
        serde_json::from_slice(&raw[split + 4..]).expect("/jsz answers JSON");
    let consumer = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .filter(|s| s["name"] == stream)
        .flat_map(|s| s["consumer_detail"].as_array().into_iter().flatten())
        .find(|c| c["name"] == durable)
        .unwrap_or_else(|| panic!("no consumer {stream}/{durable} in /jsz: {jsz}"));
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    (
        n(&consumer["delivered"]["consumer_seq"]),
        n(&consumer["delivered"]["stream_seq"]),
        n(&consumer["num_redelivered"]),
    )
}
