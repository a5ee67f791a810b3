//! A simulated run against a real nats-server: start, frames, stop on ACQ, paced by the clock.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{bounded, bus, instrument, run_start, server};
use tessera_instrument::{DoseSeries, FrameSource, Progress, simulate};

#[tokio::test]
async fn simulate_publishes_start_frames_and_stop() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let titan = instrument(&bus);
        // 768² u16 frames are 1.1 MiB each: they all go through the object store.
        let source = FrameSource::Synthetic(DoseSeries::new(768, 3, 1).unwrap());
        let mut seen = Vec::new();
        let summary = simulate(&titan, run_start("sim-1"), &source, 0.0, |p| {
            if let Progress::Published { seq, published, .. } = p {
                seen.push((seq, published.via_object_store))
            }
        })
        .await
        .unwrap();
        assert_eq!(seen, [(0, true), (1, true), (2, true)]);
        assert_eq!((summary.frames, summary.via_object_store), (3, 3));
        assert_eq!((summary.duplicates, summary.bytes), (0, 3 * 768 * 768 * 2));
        assert_eq!(bus.stream_state("ACQ").await.unwrap().messages, 5);
    })
    .await;
}

#[tokio::test]
async fn simulate_paces_frames_by_the_clock() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let titan = instrument(&bus);
        let source = FrameSource::Synthetic(DoseSeries::new(64, 5, 2).unwrap());
        let t0 = Instant::now();
        let mut at = Vec::new();
        let summary = simulate(&titan, run_start("sim-2"), &source, 20.0, |_| {
            at.push(t0.elapsed())
        })
        .await
        .unwrap();
        // Frame i is due i / 20 s after the first, so the last is published no sooner than
        // 200 ms after the start, and (no drift from sleeping after work) not much later.
        assert!(at[4] >= Duration::from_millis(200), "{at:?}");
        assert!(at[4] < Duration::from_secs(1), "{at:?}");
        assert_eq!((summary.frames, summary.via_object_store), (5, 0));
        assert_eq!(bus.stream_state("ACQ").await.unwrap().messages, 7);

        let err = simulate(&titan, run_start("sim-3"), &source, f64::NAN, |_| {})
            .await
            .unwrap_err();
        assert!(err.to_string().contains("rate"), "{err}");
    })
    .await;
}
