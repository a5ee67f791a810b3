//! Publishing against a real nats-server: inline and object-store frames, duplicates, and
//! what is refused before anything is sent.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{bounded, bus, instrument, run_id, run_start, server};
use tessera_instrument::{FrameData, InstrumentError};
use tessera_protocol::{Dtype, keys, streams::FRAMES_STORE};

/// A `width × height` u16 frame with a ramp of samples.
fn ramp(width: u32, height: u32) -> FrameData {
    let n = (width * height) as usize;
    FrameData {
        width,
        height,
        dtype: Dtype::U16,
        bytes: (0..n).flat_map(|i| (i as u16).to_le_bytes()).collect(),
        timestamp_ms: 1_700_000_000_000,
        dose: Some(12.5),
        pixel_size_nm: Some(0.05),
        scalars: BTreeMap::from([("defocus_nm".to_string(), -3.0)]),
    }
}

#[tokio::test]
async fn small_frames_go_inline_and_large_ones_through_the_object_store() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let titan = instrument(&bus);
        let run = run_id("run-1");
        titan.start_run(&run_start("run-1")).await.unwrap();

        let small = titan.publish_frame(&run, 0, &ramp(256, 256)).await.unwrap();
        assert!(!small.via_object_store && !small.ack.duplicate, "{small:?}");
        assert_eq!(
            (small.ack.stream.as_str(), small.bytes),
            ("ACQ", 256 * 256 * 2)
        );
        assert!(small.payload_bytes > small.bytes);
        let name = keys::raw_frame_object(&run, 0);
        assert_eq!(
            bus.object_info(FRAMES_STORE.bucket, &name).await.unwrap(),
            None
        );

        // 1.5 MiB of samples: over the 960 KiB inline ceiling.
        let frame = ramp(1024, 768);
        let large = titan.publish_frame(&run, 1, &frame).await.unwrap();
        assert!(
            large.via_object_store && large.payload_bytes < 4096,
            "{large:?}"
        );
        let name = keys::raw_frame_object(&run, 1);
        let stored = bus.get_object(FRAMES_STORE.bucket, &name).await.unwrap();
        assert!(
            stored == frame.bytes.as_slice(),
            "the object holds other bytes"
        );
        assert_eq!(bus.stream_state("ACQ").await.unwrap().messages, 3);
    })
    .await;
}

#[tokio::test]
async fn publishing_a_frame_twice_is_reported_as_a_duplicate() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let titan = instrument(&bus);
        let run = run_id("run-2");
        for frame in [ramp(64, 64), ramp(1024, 768)] {
            let seq = u64::from(frame.width);
            let first = titan.publish_frame(&run, seq, &frame).await.unwrap();
            let again = titan.publish_frame(&run, seq, &frame).await.unwrap();
            assert!(!first.ack.duplicate && again.ack.duplicate, "{again:?}");
            assert_eq!(first.ack.seq, again.ack.seq);
        }
        assert_eq!(bus.stream_state("ACQ").await.unwrap().messages, 2);
    })
    .await;
}

#[tokio::test]
async fn invalid_messages_are_refused_before_anything_is_stored() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let titan = instrument(&bus);
        let run = run_id("run-3");
        let mut short = ramp(1024, 768);
        short.bytes.truncate(short.bytes.len() - 2);
        let err = titan.publish_frame(&run, 0, &short).await.unwrap_err();
        assert!(matches!(err, InstrumentError::Protocol { .. }), "{err:?}");
        assert!(err.to_string().starts_with("frame run-3/0: "), "{err}");
        let name = keys::raw_frame_object(&run, 0);
        assert_eq!(
            bus.object_info(FRAMES_STORE.bucket, &name).await.unwrap(),
            None
        );

        let mut start = run_start("run-3");
        start.instrument = tessera_protocol::InstrumentId::new("krios-2").unwrap();
        let err = titan.start_run(&start).await.unwrap_err();
        assert!(err.to_string().contains("\"krios-2\""), "{err}");
        assert_eq!(bus.stream_state("ACQ").await.unwrap().messages, 0);
    })
    .await;
}
