//! Faults against a real nats-server: nobody listening, a refused login, a server that comes
//! late, and a server restart in the middle of consumption on a file store.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{WORK, WORKERS, bounded, config, connect, server};
use futures::StreamExt;
use tessera_bus::{Bus, BusConfig, BusError, PullOptions};
use tessera_protocol::streams::ConsumerSpec;
use tessera_testkit::NatsServer;

#[tokio::test]
async fn a_dead_port_gives_a_clear_error() {
    bounded(async {
        // Port 1 (tcpmux) has no listener: a free_port() could be taken by another test's
        // server (redis, nats) between choosing and connecting.
        let url = "nats://127.0.0.1:1".to_string();
        let err = Bus::connect(&BusConfig::new(&url)).await.unwrap_err();
        let text = err.to_string();
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(
            text,
            format!(
                "cannot reach NATS at {url}: connection refused; is nats-server running? Check \
                 bus.url (and bus.connect_wait_ms to wait for it at start-up)"
            )
        );
        // With a wait, it keeps trying for that long, then says the same.
        let t0 = Instant::now();
        let cfg = BusConfig {
            connect_wait_ms: 600,
            ..BusConfig::new(&url)
        };
        let err = Bus::connect(&cfg).await.unwrap_err();
        assert!(t0.elapsed() >= Duration::from_millis(600));
        assert!(matches!(err, BusError::Unreachable { .. }));
    })
    .await;
}

#[tokio::test]
async fn connect_wait_rides_out_a_server_that_starts_late() {
    let mut server = server();
    server.stop().unwrap();
    let cfg = BusConfig {
        connect_wait_ms: 10_000,
        ..config(&server)
    };
    bounded(async {
        let connecting = tokio::spawn(async move { Bus::connect(&cfg).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.start_again().unwrap();
        let bus = connecting.await.unwrap().unwrap();
        assert!(bus.is_connected());
    })
    .await;
}

#[tokio::test]
async fn a_refused_login_is_an_auth_error_that_hides_the_password() {
    let server = NatsServer::with_config(
        "authorization { users = [ { user: ingest, password: \"right-pass\" } ] }",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    bounded(async {
        let wrong = BusConfig {
            user: Some("ingest".into()),
            password: Some("wr0ng-pa55".into()),
            ..BusConfig::new(server.url())
        };
        let err = Bus::connect(&wrong).await.unwrap_err();
        assert!(matches!(err, BusError::Auth { .. }), "{err:?}");
        assert!(!err.is_transient());
        assert!(!format!("{err} {err:?} {wrong:?}").contains("wr0ng-pa55"));
        let in_url = BusConfig::new(server.url().replace("nats://", "nats://ingest:wr0ng-pa55@"));
        let err = Bus::connect(&in_url).await.unwrap_err();
        assert!(
            !format!("{err} {err:?} {in_url:?}").contains("wr0ng-pa55"),
            "{err}"
        );
        let right = BusConfig {
            password: Some("right-pass".into()),
            ..wrong
        };
        let bus = Bus::connect(&right).await.unwrap();
        bus.ensure_topology(&[WORK], &[], &[], &[]).await.unwrap();
    })
    .await;
}

/// Publishes, retrying while the bus says the failure is transient (the server restarting).
async fn publish_retrying(bus: &Bus, subject: &str, body: String, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match bus
            .publish(subject, Bytes::from(body.clone()), &[], Some(id))
            .await
        {
            Ok(_) => return,
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn consumption_resumes_after_a_server_restart() {
    let mut server = server();
    let bus = connect(&server).await;
    let workers = ConsumerSpec {
        ack_wait_secs: 5,
        ..WORKERS
    };
    bus.ensure_topology(&[WORK], &[workers], &[], &[])
        .await
        .unwrap();
    let options = PullOptions {
        batch: 4,
        expires: Duration::from_secs(3),
        heartbeat: Duration::from_millis(500),
    };
    let mut deliveries = bus.consume_with("WORK", "workers", options).await.unwrap();
    let mut got = Vec::new();
    bounded(async {
        for i in 0..10 {
            publish_retrying(&bus, "work.before", format!("before {i}"), &format!("b{i}")).await;
        }
        while got.len() < 10 {
            let d = deliveries.next().await.unwrap().unwrap();
            d.ack().await.unwrap();
            got.push(String::from_utf8(d.payload.to_vec()).unwrap());
        }
    })
    .await;

    // Restart the server on the same port and store, while the pull is open.
    let t0 = Instant::now();
    let server = tokio::task::spawn_blocking(move || {
        server.restart().unwrap();
        server
    })
    .await
    .unwrap();
    let restarted = t0.elapsed();

    let mut transient = 0;
    let t1 = Instant::now();
    bounded(async {
        for i in 0..10 {
            publish_retrying(&bus, "work.after", format!("after {i}"), &format!("a{i}")).await;
        }
        let published = t1.elapsed();
        while got.len() < 20 {
            match deliveries.next().await.unwrap() {
                Ok(d) => {
                    d.ack().await.unwrap();
                    got.push(String::from_utf8(d.payload.to_vec()).unwrap());
                }
                Err(e) => {
                    assert!(e.is_transient(), "{e}");
                    transient += 1;
                }
            }
        }
        println!(
            "server restart took {restarted:?}; publishing resumed within {published:?}; all 10 \
             consumed {:?} after the restart ({transient} transient errors on the way)",
            t1.elapsed()
        );
    })
    .await;
    for i in 0..10 {
        assert!(
            got.contains(&format!("after {i}")),
            "after {i} missing: {got:?}"
        );
    }
    assert_eq!(got.len(), 20, "nothing twice: {got:?}");
    assert_eq!(bus.stream_state("WORK").await.unwrap().messages, 0);
    drop(server);
}

#[tokio::test]
async fn consumption_resumes_after_a_crash_and_an_outage() {
    let mut server = server();
    let bus = connect(&server).await;
    let workers = ConsumerSpec {
        ack_wait_secs: 5,
        ..WORKERS
    };
    bus.ensure_topology(&[WORK], &[workers], &[], &[])
        .await
        .unwrap();
    let options = PullOptions {
        batch: 4,
        expires: Duration::from_secs(2),
        heartbeat: Duration::from_millis(250),
    };
    let mut deliveries = bus.consume_with("WORK", "workers", options).await.unwrap();
    publish_retrying(&bus, "work.before", "before".into(), "b").await;
    bounded(async {
        let d = deliveries.next().await.unwrap().unwrap();
        d.ack().await.unwrap();
    })
    .await;

    // SIGKILL, then 1.5 s without a server: heartbeats are missed and pulls fail.
    server.kill();
    let mut transient = 0;
    let outage = tokio::time::timeout(Duration::from_millis(1500), async {
        while let Some(item) = deliveries.next().await {
            let e = item.unwrap_err();
            assert!(e.is_transient(), "{e}");
            transient += 1;
        }
    })
    .await;
    assert!(
        outage.is_err(),
        "the delivery stream must not end during an outage"
    );
    assert!(transient > 0, "the outage is reported as transient errors");
    server.start_again().unwrap();

    let t0 = Instant::now();
    bounded(async {
        for i in 0..5 {
            publish_retrying(&bus, "work.after", format!("after {i}"), &format!("a{i}")).await;
        }
        let mut got = Vec::new();
        while got.len() < 5 {
            match deliveries.next().await.unwrap() {
                Ok(d) => {
                    d.ack().await.unwrap();
                    got.push(String::from_utf8(d.payload.to_vec()).unwrap());
                }
                Err(e) => assert!(e.is_transient(), "{e}"),
            }
        }
        got.sort();
        assert_eq!(got, ["after 0", "after 1", "after 2", "after 3", "after 4"]);
    })
    .await;
    println!(
        "after a SIGKILL and a 1.5 s outage ({transient} transient errors), 5 new messages \
         were consumed {:?} after the server came back",
        t0.elapsed()
    );
}
