//! Helpers shared by the integration tests: a server per test, time bounds, specs.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tessera_bus::{Bus, BusConfig, Deliveries, Delivery};
use tessera_protocol::streams::{ConsumerSpec, Discard, Retention, Storage, StreamSpec};
use tessera_testkit::NatsServer;

/// Fails the test if `f` takes longer than 20 s.
pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test exceeded its 20 s bound")
}

/// A fresh nats-server with JetStream; panics with the reason if it cannot start.
pub fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("{e}"))
}

/// A bus connected to `server`, with short timeouts.
pub async fn connect(server: &NatsServer) -> Bus {
    Bus::connect(&config(server)).await.unwrap()
}

/// A config for `server`, with short timeouts.
pub fn config(server: &NatsServer) -> BusConfig {
    BusConfig {
        request_timeout_ms: 3000,
        ..BusConfig::new(server.url())
    }
}

/// A work-queue stream `WORK` on `work.>`, on file.
pub const WORK: StreamSpec = StreamSpec {
    name: "WORK",
    subjects: &["work.>"],
    retention: Retention::WorkQueue,
    storage: Storage::File,
    max_age_secs: 3600,
    max_bytes: -1,
    max_msg_size: 1 << 20,
    duplicate_window_secs: 60,
    discard: Discard::New,
    description: "test work queue",
    sources: Vec::new(),
};

/// A limits stream `DLQ` on `dlq.>`.
pub const DLQ: StreamSpec = StreamSpec {
    name: "DLQ",
    subjects: &["dlq.>"],
    retention: Retention::Limits,
    storage: Storage::File,
    max_age_secs: 3600,
    max_bytes: -1,
    max_msg_size: 1 << 20,
    duplicate_window_secs: 60,
    discard: Discard::Old,
    description: "test dead letters",
    sources: Vec::new(),
};

/// The durable `workers` on `WORK`.
pub const WORKERS: ConsumerSpec = ConsumerSpec {
    stream: "WORK",
    durable: "workers",
    filter_subject: "",
    ack_wait_secs: 30,
    max_deliver: 5,
    max_ack_pending: 1000,
};

/// The next delivery, which must come within 10 s and not be an error.
pub async fn next(d: &mut Deliveries) -> Delivery {
    tokio::time::timeout(Duration::from_secs(10), d.next())
        .await
        .expect("no delivery within 10 s")
        .expect("the delivery stream ended")
        .unwrap()
}

/// Asserts nothing is delivered within `wait`.
pub async fn nothing_within(d: &mut Deliveries, wait: Duration) {
    if let Ok(Some(item)) = tokio::time::timeout(wait, d.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}
