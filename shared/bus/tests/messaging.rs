//! Publishing and pull consumption against a real nats-server: de-duplication, shared work,
//! nak and ack-wait redelivery, progress acks, dead-lettering.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{DLQ, WORK, WORKERS, bounded, connect, next, nothing_within, server};
use futures::StreamExt;
use tessera_bus::{
    Bus, DLQ_DELIVERIES_HEADER, DLQ_REASON_HEADER, DLQ_SEQ_HEADER, DLQ_SUBJECT_HEADER, Headers,
    PullOptions, extract_traceparent, inject_traceparent,
};
use tessera_protocol::streams::ConsumerSpec;

async fn publish(bus: &Bus, subject: &str, body: &str) {
    bus.publish(subject, Bytes::from(body.to_string()), &[], None)
        .await
        .unwrap();
}

#[tokio::test]
async fn msg_id_drops_the_second_copy() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[WORK], &[], &[], &[]).await.unwrap();
        let body = Bytes::from_static(b"frame 7");
        let a = bus
            .publish("work.a", body.clone(), &[], Some("run1-7"))
            .await
            .unwrap();
        let b = bus
            .publish("work.a", body.clone(), &[], Some("run1-7"))
            .await
            .unwrap();
        assert!(!a.duplicate && b.duplicate, "{a:?} {b:?}");
        assert_eq!((a.stream.as_str(), a.seq), ("WORK", b.seq));
        assert_eq!(bus.stream_state("WORK").await.unwrap().messages, 1);
        let c = bus
            .publish("work.a", body, &[], Some("run1-8"))
            .await
            .unwrap();
        assert!(!c.duplicate);
        assert_eq!(bus.stream_state("WORK").await.unwrap().messages, 2);
    })
    .await;
}

#[tokio::test]
async fn two_workers_share_one_durable_and_nothing_is_done_twice() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[WORK], &[WORKERS], &[], &[])
            .await
            .unwrap();
        const N: usize = 60;
        let done = Arc::new(AtomicUsize::new(0));
        let options = PullOptions {
            batch: 4,
            ..PullOptions::default()
        };
        let mut workers = Vec::new();
        for _ in 0..2 {
            let mut deliveries = bus
                .consume_with("WORK", "workers", options.clone())
                .await
                .unwrap();
            let done = done.clone();
            workers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while done.load(Ordering::SeqCst) < N {
                    let Ok(Some(d)) =
                        tokio::time::timeout(Duration::from_millis(200), deliveries.next()).await
                    else {
                        continue;
                    };
                    let d = d.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await; // "work"
                    d.ack().await.unwrap();
                    got.push(String::from_utf8(d.payload.to_vec()).unwrap());
                    done.fetch_add(1, Ordering::SeqCst);
                }
                got
            }));
        }
        for i in 0..N {
            publish(
                &bus,
                &format!("work.chips.{}", i % 3),
                &format!("batch {i}"),
            )
            .await;
        }
        let a = workers.remove(0).await.unwrap();
        let b = workers.remove(0).await.unwrap();
        println!("worker A took {}, worker B took {}", a.len(), b.len());
        assert!(
            !a.is_empty() && !b.is_empty(),
            "both take some: {} / {}",
            a.len(),
            b.len()
        );
        let all: HashSet<_> = a.iter().chain(&b).cloned().collect();
        assert_eq!(a.len() + b.len(), N, "none is done twice");
        assert_eq!(all.len(), N, "every one is done");
        let lag = bus.consumer_lag("WORK", "workers").await.unwrap();
        assert_eq!((lag.num_pending, lag.num_ack_pending), (0, 0), "{lag:?}");
        assert_eq!(
            bus.stream_state("WORK").await.unwrap().messages,
            0,
            "acked work is removed"
        );
    })
    .await;
}

#[tokio::test]
async fn nak_redelivers_and_counts_and_headers_travel() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        bus.ensure_topology(&[WORK], &[WORKERS], &[], &[])
            .await
            .unwrap();
        let mut headers: Headers = vec![("Tessera-Run".into(), "run1".into())];
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        inject_traceparent(&mut headers, tp);
        bus.publish("work.x", Bytes::from_static(b"x"), &headers, Some("id-1"))
            .await
            .unwrap();
        let mut d = bus.consume("WORK", "workers").await.unwrap();
        let first = next(&mut d).await;
        assert_eq!(first.delivered, 1);
        assert_eq!(first.subject, "work.x");
        assert_eq!(extract_traceparent(&first.headers), Some(tp));
        assert_eq!(first.header("tessera-run"), Some("run1"));
        assert_eq!(first.header("Nats-Msg-Id"), Some("id-1"));
        first.nak(None).await.unwrap();
        let second = next(&mut d).await;
        assert_eq!((second.delivered, second.stream_seq), (2, first.stream_seq));
        second.ack().await.unwrap();
        nothing_within(&mut d, Duration::from_millis(500)).await;
    })
    .await;
}

#[tokio::test]
async fn ack_wait_expiry_redelivers_and_progress_acks_hold_it_off() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        let short = ConsumerSpec {
            ack_wait_secs: 1,
            ..WORKERS
        };
        bus.ensure_topology(&[WORK], &[short], &[], &[])
            .await
            .unwrap();
        publish(&bus, "work.slow", "slow").await;
        let mut d = bus.consume("WORK", "workers").await.unwrap();
        let first = next(&mut d).await;
        let t0 = Instant::now();
        // Not acked: back after the 1 s ack wait.
        let again = next(&mut d).await;
        assert_eq!(again.delivered, 2);
        assert!(
            t0.elapsed() >= Duration::from_millis(800),
            "{:?}",
            t0.elapsed()
        );
        drop(first);
        // Progress acks every 400 ms keep it from coming back for 2.5 s.
        for _ in 0..6 {
            again.in_progress().await.unwrap();
            nothing_within(&mut d, Duration::from_millis(400)).await;
        }
        again.ack().await.unwrap();
        nothing_within(&mut d, Duration::from_millis(1500)).await;
    })
    .await;
}

#[tokio::test]
async fn a_poison_message_lands_in_the_dead_letter_subject_with_its_reason() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        let workers = ConsumerSpec {
            max_deliver: 3,
            ..WORKERS
        };
        let dlq_reader = ConsumerSpec {
            stream: "DLQ",
            durable: "dlq-reader",
            ..WORKERS
        };
        bus.ensure_topology(&[WORK, DLQ], &[workers, dlq_reader], &[], &[])
            .await
            .unwrap();
        publish(&bus, "work.frames", "poison").await;
        publish(&bus, "work.frames", "good").await;
        let mut d = bus.consume("WORK", "workers").await.unwrap();
        let mut good = 0;
        let mut poison_seen = 0;
        while good == 0 || poison_seen < 3 {
            let m = next(&mut d).await;
            if &m.payload[..] == b"good" {
                good += 1;
                m.ack().await.unwrap();
            } else if m.delivered < 3 {
                poison_seen += 1;
                m.nak(None).await.unwrap();
            } else {
                poison_seen += 1;
                let ack = bus
                    .dead_letter(&m, "dlq.work", "cannot decode frame:\nbad magic")
                    .await
                    .unwrap();
                assert_eq!(ack.stream, "DLQ");
            }
        }
        assert_eq!(good, 1, "the rest of the work is unaffected");
        nothing_within(&mut d, Duration::from_millis(1000)).await;

        let mut dead = bus.consume("DLQ", "dlq-reader").await.unwrap();
        let letter = next(&mut dead).await;
        assert_eq!(&letter.payload[..], b"poison");
        assert_eq!(letter.subject, "dlq.work");
        assert_eq!(
            letter.header(DLQ_REASON_HEADER),
            Some("cannot decode frame: bad magic")
        );
        assert_eq!(letter.header(DLQ_SUBJECT_HEADER), Some("work.frames"));
        assert_eq!(letter.header(DLQ_SEQ_HEADER), Some("1"));
        assert_eq!(letter.header(DLQ_DELIVERIES_HEADER), Some("3"));
        letter.ack().await.unwrap();
        let lag = bus.consumer_lag("WORK", "workers").await.unwrap();
        assert_eq!((lag.num_pending, lag.num_ack_pending), (0, 0), "{lag:?}");
    })
    .await;
}

#[tokio::test]
async fn core_publish_reaches_subscribers() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        let mut sub = bus.subscribe("status.>").await.unwrap();
        bus.publish_core("status.embedder", Bytes::from_static(b"lag=3"))
            .await
            .unwrap();
        let m = sub.next().await.unwrap();
        assert_eq!(
            (m.subject.as_str(), &m.payload[..]),
            ("status.embedder", &b"lag=3"[..])
        );
    })
    .await;
}

#[tokio::test]
async fn a_full_work_queue_refuses_with_full_until_a_consumer_frees_room() {
    let server = server();
    bounded(async {
        let bus = connect(&server).await;
        let small = tessera_protocol::streams::StreamSpec {
            max_bytes: 4096,
            ..WORK
        };
        bus.ensure_topology(&[small], &[WORKERS], &[], &[])
            .await
            .unwrap();
        let body = Bytes::from(vec![7u8; 1000]);
        let mut sent = 0;
        let err = loop {
            match bus.publish("work.a", body.clone(), &[], None).await {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(
                sent < 100,
                "a 4 KiB stream took {sent} messages of 1000 bytes"
            );
        };
        let text = err.to_string();
        assert!(matches!(err, tessera_bus::BusError::Full { .. }), "{text}");
        assert!(err.is_transient(), "{text}");
        assert!(
            text.contains("the stream is full") && text.contains("[queues]"),
            "{text}"
        );
        assert!(sent >= 1, "not even one message fit");
        // A consumer takes one: there is room again.
        let mut d = bus.consume("WORK", "workers").await.unwrap();
        next(&mut d).await.ack().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while bus
            .publish("work.a", body.clone(), &[], None)
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "still full after an ack");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}
