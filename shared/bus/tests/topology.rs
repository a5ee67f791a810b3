//! `ensure_topology` against a real nats-server: idempotent, updates what NATS allows, and
//! says clearly what it cannot change.
#![allow(clippy::unwrap_used)]

mod common;

use common::{DLQ, WORK, WORKERS, bounded, connect, server};
use tessera_bus::BusError;
use tessera_protocol::streams::{ConsumerSpec, KvSpec, ObjectStoreSpec, Storage, StreamSpec};

const PROGRESS: KvSpec = KvSpec {
    bucket: "progress",
    history: 1,
    max_age_secs: 0,
    description: "frame progress",
};
const FRAMES: ObjectStoreSpec = ObjectStoreSpec {
    bucket: "frames",
    max_age_secs: 6 * 3600,
    description: "frame pixels",
};

#[tokio::test]
async fn second_call_is_a_no_op_and_changes_are_applied() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        let first = bus
            .ensure_topology(&[WORK, DLQ], &[WORKERS], &[PROGRESS], &[FRAMES])
            .await
            .unwrap();
        assert_eq!(first.created.len(), 5, "{first:?}");
        let again = bus
            .ensure_topology(&[WORK, DLQ], &[WORKERS], &[PROGRESS], &[FRAMES])
            .await
            .unwrap();
        assert!(again.is_noop(), "{again:?}");
        assert_eq!(again.unchanged.len(), 5);

        // Settings NATS can change in place are changed, and then stay put.
        let work = StreamSpec {
            max_age_secs: 7200,
            ..WORK
        };
        let workers = ConsumerSpec {
            ack_wait_secs: 10,
            max_deliver: 3,
            ..WORKERS
        };
        let progress = KvSpec {
            history: 5,
            ..PROGRESS
        };
        let frames = ObjectStoreSpec {
            max_age_secs: 3600,
            ..FRAMES
        };
        let (streams, consumers, kv, objects) = ([work, DLQ], [workers], [progress], [frames]);
        let changed = bus
            .ensure_topology(&streams, &consumers, &kv, &objects)
            .await
            .unwrap();
        assert_eq!(
            changed.updated,
            [
                "stream WORK",
                "consumer WORK/workers",
                "kv progress",
                "object store frames"
            ],
            "{changed:?}"
        );
        let settled = bus
            .ensure_topology(&streams, &consumers, &kv, &objects)
            .await
            .unwrap();
        assert!(settled.is_noop(), "{settled:?}");
    })
    .await;
}

#[tokio::test]
async fn a_change_nats_refuses_is_a_clear_error() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[WORK], &[WORKERS], &[], &[])
            .await
            .unwrap();
        let in_memory = StreamSpec {
            storage: Storage::Memory,
            ..WORK
        };
        let err = bus
            .ensure_topology(&[in_memory], &[], &[], &[])
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BusError::Topology(_)), "{err:?}");
        assert!(!err.is_transient());
        assert!(
            text.contains("stream WORK") && text.contains("storage: File -> Memory"),
            "{text}"
        );
        assert!(text.contains("nats stream rm WORK"), "{text}");

        // A work-queue stream takes one unfiltered consumer.
        let second = ConsumerSpec {
            durable: "intruder",
            ..WORKERS
        };
        let err = bus
            .ensure_topology(&[], &[second], &[], &[])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("consumer WORK/intruder"), "{err}");
        assert!(err.to_string().contains("work-queue"), "{err}");

        // A stream larger than the server may reserve.
        let huge = StreamSpec {
            name: "HUGE",
            subjects: &["huge.>"],
            max_bytes: 1 << 50,
            ..WORK
        };
        let err = bus
            .ensure_topology(&[huge], &[], &[], &[])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("raise max_file_store"), "{err}");

        // A consumer on a stream that is not there.
        let orphan = ConsumerSpec {
            stream: "NOPE",
            ..WORKERS
        };
        let err = bus
            .ensure_topology(&[], &[orphan], &[], &[])
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("stream NOPE is not there"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_protocols_topology_is_accepted_by_nats_server() {
    use tessera_protocol::streams as p;
    // The streams reserve their max_bytes (126 GiB together) against JetStream's file
    // store limit, which defaults to 75% of the free disk: allow for them here.
    let server = tessera_testkit::NatsServer::builder()
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    bounded(async {
        let bus = connect(&server).await;
        let report = bus
            .ensure_topology(
                &p::all_streams(),
                &p::all_consumers(),
                &p::all_kv_buckets(),
                &p::all_object_stores(),
            )
            .await
            .unwrap();
        assert!(
            report.updated.is_empty() && report.unchanged.is_empty(),
            "{report:?}"
        );
        let again = bus
            .ensure_topology(
                &p::all_streams(),
                &p::all_consumers(),
                &p::all_kv_buckets(),
                &p::all_object_stores(),
            )
            .await
            .unwrap();
        assert!(again.is_noop(), "{again:?}");
    })
    .await;
}
