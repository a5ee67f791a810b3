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
        up::ensure_topology(&bus)
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
    let cache_dir = settings
        .model
        .cache_dir
        .as_ref()
        .expect("settings() sets the model cache");
    let e = &settings.embedder;
    let mut cmd = std::process::Command::new(bin);
    cmd.env("TESSERA__BUS__URL", &settings.bus.url)
        .env("TESSERA__MODEL__NAME", &settings.model.name)
        .env("TESSERA__MODEL__CACHE_DIR", cache_dir)
        .env(
            "TESSERA__MODEL__THREADS",
            settings.model.threads.to_string(),
        )
        .env("TESSERA__EMBEDDER__INSTANCE", name)
        .env("TESSERA__EMBEDDER__PULL_BATCH", e.pull_batch.to_string())
        .env(
            "TESSERA__EMBEDDER__MAX_BATCH_CHIPS",
            e.max_batch_chips.to_string(),
        )
        .env(
            "TESSERA__TELEMETRY__STATUS_INTERVAL_MS",
            settings.telemetry.status_interval_ms.to_string(),
        )
        .env("TESSERA__TELEMETRY__LOG", "warn")
        .stdout(std::process::Stdio::null());
    if let Some(url) = &settings.cache.url {
        cmd.env("TESSERA__CACHE__URL", url);
    }
    ChildGuard(cmd.spawn().expect("starting tessera-embedder"))
}
