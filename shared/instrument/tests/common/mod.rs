//! Helpers shared by the integration tests: a server and a bus with the ACQ stream and the
//! frames store, time bounds, ids.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use tessera_bus::{Bus, BusConfig};
use tessera_instrument::Instrument;
use tessera_protocol::{
    InstrumentId, Limits, PROTOCOL_VERSION, RunId, RunStart, WireParams,
    streams::{ACQ, FRAMES_STORE, RESULTS},
};
use tessera_testkit::NatsServer;

/// Fails the test if `f` takes longer than 30 s.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test exceeded its 30 s bound")
}

/// A fresh nats-server with JetStream and the default 1 MB `max_payload`; room for the
/// streams' `max_bytes` reservations on any disk. Panics with the reason if it cannot start.
pub fn server() -> NatsServer {
    NatsServer::builder()
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A bus on `server` with the ACQ and RESULTS streams and the frames store.
pub async fn bus(server: &NatsServer) -> Bus {
    let config = BusConfig {
        request_timeout_ms: 3000,
        ..BusConfig::new(server.url())
    };
    let bus = Bus::connect(&config).await.unwrap();
    bus.ensure_topology(&[ACQ, RESULTS], &[], &[], &[FRAMES_STORE])
        .await
        .unwrap();
    bus
}

/// Instrument `titan-1` on `bus`, with the default limits.
pub fn instrument(bus: &Bus) -> Instrument {
    Instrument::new(bus.clone(), titan(), Limits::default())
}

pub fn titan() -> InstrumentId {
    InstrumentId::new("titan-1").unwrap()
}

pub fn run_id(name: &str) -> RunId {
    RunId::new(name).unwrap()
}

/// A run start of `titan-1`.
pub fn run_start(run: &str) -> RunStart {
    RunStart {
        version: PROTOCOL_VERSION,
        run: run_id(run),
        instrument: titan(),
        sample: "SrTiO3 lamella".into(),
        modality: "HAADF-STEM".into(),
        started_at_ms: tessera_instrument::now_ms(),
        params: WireParams::default(),
        metadata: Default::default(),
    }
}
