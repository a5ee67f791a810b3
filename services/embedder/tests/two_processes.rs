//! Two `tessera-embedder` processes share one run's chip batches: each embeds some, and no
//! batch is embedded twice. Ingest, clusterer and publisher run in the test process; the
//! embedders are the real binary, configured through `TESSERA__...` variables.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use tessera_bus::Bus;
use tessera_protocol::{EmbeddingBatch, Service, WireParams, decode, subjects};
use tessera_synth::SceneConfig;
use tessera_testkit::ChildGuard;
use tessera_tests::live::*;

fn embedder(settings: &tessera_settings::Settings, name: &str) -> ChildGuard {
    embedder_process(
        std::path::Path::new(env!("CARGO_BIN_EXE_tessera-embedder")),
        settings,
        name,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_embedder_processes_share_the_work_and_none_is_done_twice() {
    let nats = nats();
    let mut settings = settings(&nats, None, "efficientnet-lite0");
    settings.ingest.batch_chips = 32;
    settings.model.threads = 1;
    settings.embedder.pull_batch = 2;
    settings.embedder.max_batch_chips = 64;
    let services = Services::start(
        &settings,
        &[Service::Ingest, Service::Clusterer, Service::Publisher],
    )
    .await;
    let bus = Bus::connect(&settings.bus).await.unwrap();
    // Every embedding batch, as published (a core subscription sees JetStream subjects).
    let mut embedded = bus.subscribe("tessera.embedded.>").await.unwrap();
    let _a = embedder(&settings, "embedder-a");
    let _b = embedder(&settings, "embedder-b");

    let inst = instrument(&bus, &settings);
    let start = run_start(&inst, "shared", WireParams::default());
    let run = start.run.clone();
    let mut stream = results(&bus, &inst, &run).await;
    inst.start_run(&start).await.unwrap();
    let frames = 6;
    for seq in 0..frames {
        let (raster, _) = tessera_tests::scene(&SceneConfig {
            width: 384,
            height: 384,
            seed: 40 + seq,
            ..SceneConfig::default()
        });
        inst.publish_frame(&run, seq, &frame_data(&raster, seq))
            .await
            .unwrap();
    }
    inst.stop_run(&run_stop(&run, frames)).await.unwrap();
    let got = collect(&mut stream, frames as usize, Duration::from_secs(300)).await;
    let batches_expected: u32 = got.values().map(|r| r.chips.div_ceil(32)).sum();

    let limits = settings.protocol_limits();
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    while seen.len() < batches_expected as usize {
        let m = tokio::time::timeout(Duration::from_secs(10), embedded.next())
            .await
            .expect("every embedding batch was seen")
            .unwrap();
        assert!(m.subject.starts_with(&subjects::embedded_subject(&run)));
        let b: EmbeddingBatch = decode(&m.payload, &limits).unwrap();
        assert!(
            seen.insert((b.seq, b.batch)),
            "batch {} of frame {} was embedded twice",
            b.batch,
            b.seq
        );
        *by_worker.entry(b.worker).or_default() += 1;
    }
    // Nothing more: no batch is embedded a second time later.
    let extra = tokio::time::timeout(Duration::from_secs(2), embedded.next()).await;
    assert!(extra.is_err(), "an extra embedding batch: {extra:?}");
    eprintln!("batches per embedder: {by_worker:?}");
    assert_eq!(
        by_worker.keys().cloned().collect::<Vec<_>>(),
        ["embedder-a", "embedder-b"],
        "both embedders took work"
    );
    services.stop().await.unwrap();
}
