//! Watching results against a real nats-server: decoding, filtering, garbage, one-line format.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{bounded, bus, run_id, server, titan};
use futures::StreamExt;
use tessera_instrument::{InstrumentError, ResultFilter, ResultStream, format_result, watch};
use tessera_protocol::{
    CommunityWire, FrameResult, Limits, PROTOCOL_VERSION, WireParams, encode_message, subjects,
};

fn result(run: &str, seq: u64) -> FrameResult {
    let community = |id: u32, area_fraction: f64| CommunityWire {
        id,
        color: "#1f77b4".into(),
        chips: 10,
        area_fraction,
        centroid_px: [10.0, 20.0],
    };
    FrameResult {
        version: PROTOCOL_VERSION,
        run: run_id(run),
        instrument: titan(),
        seq,
        timestamp_ms: 1_700_000_000_000,
        dose: Some(30.0),
        pixel_size_nm: None,
        width: 64,
        height: 64,
        chips: 20,
        n_labels: 3,
        communities: vec![community(0, 0.352), community(1, 0.61), community(2, 0.038)],
        source: None,
        labels: None,
        overlay: None,
        timings: vec![("embed".into(), 80.0), ("publish_to_result".into(), 412.4)],
        cache_hits: 0,
        model: "efficientnet-lite0".into(),
        model_digest: "0123456789abcdef".into(),
        params: WireParams::default(),
        classes: None,
        chip_map: None,
    }
}

async fn next(s: &mut ResultStream) -> Result<FrameResult, InstrumentError> {
    tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("no result within 10 s")
        .expect("the stream ended")
}

#[tokio::test]
async fn watch_decodes_results_and_yields_garbage_as_errors() {
    let server = server();
    bounded(async {
        let bus = bus(&server).await;
        let mut all = watch(&bus, ResultFilter::All).await.unwrap();
        let filter = ResultFilter::Run(titan(), run_id("run-7"));
        let mut one_run = watch(&bus, filter).await.unwrap();
        for (run, seq) in [("run-6", 1), ("run-7", 3)] {
            let r = result(run, seq);
            let payload = encode_message(&r, &Limits::default()).unwrap();
            let subject = subjects::results_subject(&r.instrument, &r.run);
            bus.publish(&subject, Bytes::from(payload), &[], None)
                .await
                .unwrap();
        }
        let garbage = subjects::results_subject(&titan(), &run_id("run-7"));
        bus.publish_core(&garbage, Bytes::from_static(b"\xc1 not msgpack"))
            .await
            .unwrap();

        assert_eq!(next(&mut all).await.unwrap(), result("run-6", 1));
        assert_eq!(next(&mut all).await.unwrap(), result("run-7", 3));
        assert_eq!(next(&mut one_run).await.unwrap(), result("run-7", 3));
        for s in [&mut all, &mut one_run] {
            let err = next(s).await.unwrap_err();
            assert!(matches!(err, InstrumentError::Result { .. }), "{err:?}");
            assert!(err.to_string().contains(&garbage), "{err}");
        }
    })
    .await;
}

#[test]
fn format_result_names_the_classes_or_why_there_are_none() {
    let mut r = result("run-7", 3);
    r.timings.clear();
    r.classes = Some(tessera_protocol::FrameClasses {
        classes: vec![tessera_protocol::ClassWire {
            name: "oxide".into(),
            color: "#ff0000".into(),
            chips: 12,
            area_fraction: 0.75,
        }],
        unknown_fraction: 0.25,
        error: None,
        ..tessera_protocol::FrameClasses::failed("ebc", String::new())
    });
    assert!(
        format_result(&r).ends_with("; classes (ebc): oxide 75.0% unknown 25.0%"),
        "{}",
        format_result(&r)
    );
    r.classes = Some(tessera_protocol::FrameClasses::failed(
        "ebc",
        "no such".into(),
    ));
    assert!(format_result(&r).ends_with("; not classified (ebc)"));
}

#[test]
fn format_result_lists_communities_by_area_with_latency() {
    assert_eq!(
        format_result(&result("run-7", 3)),
        "titan-1/run-7 frame 3 dose 30: 3 communities #1 61.0% #0 35.2% #2 3.8%; latency 412 ms"
    );
    let mut r = result("run-7", 4);
    r.dose = None;
    r.timings.clear();
    r.communities.truncate(1);
    assert_eq!(
        format_result(&r),
        "titan-1/run-7 frame 4: 1 community #0 35.2%"
    );
}
