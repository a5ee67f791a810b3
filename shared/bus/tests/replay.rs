//! Replaying a limits stream through an ephemeral ordered consumer, against a real nats-server.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{bounded, connect, server};
use tessera_protocol::streams::{Discard, Retention, Storage, StreamSpec};

/// A limits stream on `log.>`, as RESULTS is.
const LOG: StreamSpec = StreamSpec {
    name: "LOG",
    subjects: &["log.>"],
    retention: Retention::Limits,
    storage: Storage::Memory,
    max_age_secs: 60,
    max_bytes: 1 << 20,
    max_msg_size: 1 << 16,
    discard: Discard::Old,
    duplicate_window_secs: 60,
    description: "test log",
    sources: Vec::new(),
};

#[tokio::test]
async fn replay_returns_matching_messages_oldest_first_and_nothing_else() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[LOG], &[], &[], &[]).await.unwrap();
        assert!(bus.replay("LOG", "log.*.a", 100).await.unwrap().is_empty());
        for (i, subject) in ["log.x.a", "log.x.b", "log.y.a", "log.x.a"]
            .iter()
            .enumerate()
        {
            let body = Bytes::from(format!("{i}"));
            bus.publish(subject, body, &[("k".into(), format!("v{i}"))], None)
                .await
                .unwrap();
        }
        let got = bus.replay("LOG", "log.*.a", 100).await.unwrap();
        let bodies: Vec<_> = got.iter().map(|m| m.payload.as_ref().to_vec()).collect();
        assert_eq!(bodies, [b"0".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(got[1].subject, "log.y.a");
        assert!(got.windows(2).all(|w| w[0].stream_seq < w[1].stream_seq));
        assert_eq!(tessera_bus::header(&got[2].headers, "k"), Some("v3"));
        let capped = bus.replay("LOG", "log.>", 2).await.unwrap();
        assert_eq!(capped.len(), 2);
        assert_eq!(capped[0].payload.as_ref(), b"0");
        // From a sequence on: the newest messages, without the older ones.
        let last = bus.stream_state("LOG").await.unwrap().last_seq;
        let newest = bus.replay_from("LOG", "log.>", last - 1, 10).await.unwrap();
        let bodies: Vec<_> = newest.iter().map(|m| m.payload.as_ref().to_vec()).collect();
        assert_eq!(bodies, [b"2".to_vec(), b"3".to_vec()]);
        let filtered = bus
            .replay_from("LOG", "log.x.*", last - 1, 10)
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].stream_seq, last);
        assert!(
            bus.replay_from("LOG", "log.x.b", last - 1, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Nothing durable is left behind.
        assert_eq!(bus.stream_state("LOG").await.unwrap().messages, 4);
        let err = bus.replay("NOPE", "x", 10).await.unwrap_err();
        assert!(err.to_string().contains("NOPE"), "{err}");
    })
    .await;
}
