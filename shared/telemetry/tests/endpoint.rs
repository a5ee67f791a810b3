//! The HTTP endpoint: metrics, health and readiness over a real socket, and the probe that
//! container health checks run against it.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tessera_telemetry::{
    Metrics, Readiness, SECONDS, Source, TelemetryError, probe, serve_metrics,
};

fn get(url: &str) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(url).call().unwrap();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        kind,
        r.body_mut().read_to_string().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_metrics_health_and_readiness() {
    let metrics = Metrics::new();
    metrics.counter("frames").add(2);
    metrics.histogram("model_seconds", SECONDS).observe(0.02);
    let ready_flag = Arc::new(AtomicBool::new(false));
    let flag = ready_flag.clone();
    let ready: Readiness = Arc::new(move || {
        if flag.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err("embedder is not consuming yet".into())
        }
    });
    let stop = stop_signal();
    let sources = vec![Source {
        service: "embedder".into(),
        metrics: metrics.clone(),
    }];
    let addr = serve_metrics("127.0.0.1:0", sources, ready, stop.1)
        .await
        .unwrap();
    let base = format!("http://{addr}");

    let b = base.clone();
    let (status, kind, body) = tokio::task::spawn_blocking(move || get(&format!("{b}/metrics")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    assert!(
        body.contains("tessera_frames_total{service=\"embedder\"} 2"),
        "{body}"
    );
    assert!(
        body.contains("tessera_model_seconds_count{service=\"embedder\"} 1"),
        "{body}"
    );

    // Counted after the first scrape: the next scrape sees it.
    metrics.counter("frames").inc();
    let b = base.clone();
    let (_, _, body) = tokio::task::spawn_blocking(move || get(&format!("{b}/metrics")))
        .await
        .unwrap();
    assert!(
        body.contains("tessera_frames_total{service=\"embedder\"} 3"),
        "{body}"
    );

    let b = base.clone();
    let (healthz, readyz, probed) = tokio::task::spawn_blocking(move || {
        (
            get(&format!("{b}/healthz")),
            get(&format!("{b}/readyz")),
            probe(&format!("{b}/readyz"), Duration::from_secs(2)),
        )
    })
    .await
    .unwrap();
    assert_eq!(healthz.0, 200);
    assert_eq!(readyz.0, 503);
    assert!(
        readyz.2.contains("embedder is not consuming yet"),
        "{}",
        readyz.2
    );
    let err = probed.unwrap_err();
    assert!(matches!(err, TelemetryError::Probe { .. }), "{err:?}");
    assert!(err.to_string().contains("503"), "{err}");
    assert!(err.to_string().contains("not consuming"), "{err}");

    ready_flag.store(true, Ordering::SeqCst);
    let b = base.clone();
    tokio::task::spawn_blocking(move || probe(&format!("{b}/readyz"), Duration::from_secs(2)))
        .await
        .unwrap()
        .unwrap();

    // Shut down: the port stops answering, and the probe says so.
    stop.0.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = base.clone();
    let err =
        tokio::task::spawn_blocking(move || probe(&format!("{b}/healthz"), Duration::from_secs(2)))
            .await
            .unwrap()
            .unwrap_err();
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn a_port_in_use_names_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let ready: Readiness = Arc::new(|| Ok(()));
    let err = serve_metrics(&addr, Vec::new(), ready, std::future::pending())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&addr) && msg.contains("telemetry.metrics_addr"),
        "{msg}"
    );
}

/// A one-shot stop signal: the sender, and the future the server waits on.
fn stop_signal() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    (tx, async move {
        let _ = rx.await;
    })
}
