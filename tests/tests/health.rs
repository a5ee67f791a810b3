//! The health checks that `compose.yaml`, the Helm chart and the podman run use: a service
//! binary serves `/healthz` and `/readyz` on its metrics port, and the same binary run with
//! `--health URL` reports them without a shell or curl.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use tessera_protocol::Service;
use tessera_tests::live::{nats, service_binary, service_process, settings};

/// Runs `bin --health url`: whether it succeeded, and what it wrote to stderr.
fn health(bin: &std::path::Path, url: &str) -> (bool, String) {
    let out = Command::new(bin).args(["--health", url]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_service_binary_probes_its_own_readiness() {
    let bin = service_binary("tessera-publisher");
    let nats = nats();
    let mut settings = settings(&nats, None, "efficientnet-lite0");
    let port = tessera_testkit::free_port().unwrap();
    settings.telemetry.metrics_addr = format!("127.0.0.1:{port}");
    let ready = format!("http://127.0.0.1:{port}/readyz");

    // Nothing listens yet: the probe fails and says where it looked.
    let (ok, err) = health(&bin, &ready);
    assert!(!ok);
    assert!(
        err.contains(&ready) && err.contains("health check failed"),
        "{err}"
    );

    let _publisher = service_process(&bin, &settings, Service::Publisher, "health-publisher");
    let t0 = Instant::now();
    loop {
        let (ok, err) = health(&bin, &ready);
        if ok {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "never ready: {err}");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("ready {:.2} s after start", t0.elapsed().as_secs_f64());
    let (ok, err) = health(&bin, &format!("http://127.0.0.1:{port}/healthz"));
    assert!(ok, "{err}");

    // A path the endpoint does not serve is a failed probe with its status.
    let (ok, err) = health(&bin, &format!("http://127.0.0.1:{port}/nothing"));
    assert!(!ok);
    assert!(err.contains("404"), "{err}");

    // NATS goes away: the service stays alive but is no longer ready.
    drop(nats);
    let t0 = Instant::now();
    let reason = loop {
        let (ok, err) = health(&bin, &ready);
        if !ok {
            break err;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "still ready");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        reason.contains("503") && reason.contains("not connected to NATS"),
        "{reason}"
    );
    let (alive, err) = health(&bin, &format!("http://127.0.0.1:{port}/healthz"));
    assert!(alive, "{err}");
}
