//! The object store and KV against a real nats-server.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::{bounded, connect, server};
use tessera_bus::BusError;
use tessera_protocol::streams::{KvSpec, ObjectStoreSpec};

const FRAMES: ObjectStoreSpec = ObjectStoreSpec {
    bucket: "frames",
    max_age_secs: 6 * 3600,
    description: "frame pixels",
};
const PROGRESS: KvSpec = KvSpec {
    bucket: "progress",
    history: 1,
    max_age_secs: 0,
    description: "frame progress",
};

/// Deterministic, incompressible-looking bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn a_20_mib_object_round_trips() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[], &[], &[], &[FRAMES]).await.unwrap();
        let data = noise(20 << 20);
        let t0 = Instant::now();
        let info = bus.put_object("frames", "run1-7", &data).await.unwrap();
        let put = t0.elapsed();
        assert_eq!(info.size, 20 << 20);
        assert!(info.digest.starts_with("SHA-256="), "{info:?}");
        let t1 = Instant::now();
        let back = bus.get_object("frames", "run1-7").await.unwrap();
        let get = t1.elapsed();
        assert!(back[..] == data[..], "round trip changed the bytes");
        println!("20 MiB object: put {put:?}, get {get:?}");
        let listed = bus.object_info("frames", "run1-7").await.unwrap().unwrap();
        assert_eq!(listed.digest, info.digest);

        // Replacing an object replaces its bytes.
        bus.put_object("frames", "run1-7", b"small").await.unwrap();
        assert_eq!(
            &bus.get_object("frames", "run1-7").await.unwrap()[..],
            b"small"
        );
        bus.delete_object("frames", "run1-7").await.unwrap();
        assert!(bus.object_info("frames", "run1-7").await.unwrap().is_none());
        bus.delete_object("frames", "run1-7").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_missing_object_says_which_and_why() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[], &[], &[], &[FRAMES]).await.unwrap();
        let err = bus.get_object("frames", "run1-7").await.unwrap_err();
        assert!(matches!(err, BusError::NotFound(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "object frames/run1-7 not found: it may have expired (frames keeps objects 6 h) or \
             never been stored"
        );
        let err = bus.get_object("nope", "x").await.unwrap_err();
        assert!(
            err.to_string().contains("object store nope does not exist"),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn kv_create_get_update_and_conflict() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[], &[], &[PROGRESS], &[])
            .await
            .unwrap();
        assert_eq!(bus.kv_get("progress", "run1.7").await.unwrap(), None);
        let r1 = bus
            .kv_create("progress", "run1.7", Bytes::from_static(b"chips=0"))
            .await
            .unwrap();
        let err = bus
            .kv_create("progress", "run1.7", Bytes::from_static(b"again"))
            .await
            .unwrap_err();
        assert!(matches!(err, BusError::AlreadyExists { .. }), "{err:?}");
        assert_eq!(
            bus.kv_get("progress", "run1.7").await.unwrap(),
            Some((Bytes::from_static(b"chips=0"), r1))
        );
        let r2 = bus
            .kv_update("progress", "run1.7", Bytes::from_static(b"chips=5"), r1)
            .await
            .unwrap();
        assert!(r2 > r1);
        // A writer still holding r1 loses the race.
        let err = bus
            .kv_update("progress", "run1.7", Bytes::from_static(b"chips=4"), r1)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BusError::Conflict { expected, .. } if expected == r1),
            "{err:?}"
        );
        assert!(!err.is_transient());
        assert_eq!(
            bus.kv_get("progress", "run1.7").await.unwrap().unwrap().0,
            Bytes::from_static(b"chips=5")
        );
        bus.kv_put("progress", "run1.8", Bytes::from_static(b"done"))
            .await
            .unwrap();
        let mut keys = bus.kv_keys("progress").await.unwrap();
        keys.sort();
        assert_eq!(keys, ["run1.7", "run1.8"]);
        bus.kv_delete("progress", "run1.7").await.unwrap();
        assert_eq!(bus.kv_get("progress", "run1.7").await.unwrap(), None);
        bus.kv_create("progress", "run1.7", Bytes::from_static(b"fresh"))
            .await
            .unwrap();
        let err = bus.kv_get("nope", "k").await.unwrap_err();
        assert!(
            err.to_string().contains("KV bucket nope does not exist"),
            "{err}"
        );
        let err = bus
            .kv_put("progress", "bad key", Bytes::new())
            .await
            .unwrap_err();
        assert!(!err.is_transient(), "{err:?}");
    })
    .await;
}
