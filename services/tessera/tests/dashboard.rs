//! The dashboard in headless Chromium, against `tessera up` (the four services and the
//! dashboard) on a real nats-server, while `tessera publish` sends a run: the run appears
//! in the runs list, the run page shows the frame, its overlay and the legend, and the plot
//! gains a point as each frame is segmented, and the page tells the run's state. Then two
//! more runs, one with rejected frames and one that failed, on the same services
//! (`dashboard/story.rs`), two that name a classifier (`dashboard/classes.rs`), and one
//! run by an instrument that obeys the decider (`dashboard/decisions.rs`). Screenshots go to the test artifacts (`target/test-artifacts/`).

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

#[path = "dashboard/story.rs"]
mod story;

#[path = "dashboard/classes.rs"]
mod classes;

#[path = "dashboard/decisions.rs"]
mod decisions;

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tessera_testkit::{Browser, ChildGuard, NatsServer, free_port, http::request};

const TOKEN: &str = "dashboard-test-token-42";
const WRITE_TOKEN: &str = "dashboard-write-token-17";
const RUN: &str = "dash-1";
const FRAMES: u64 = 6;
const WAIT: Duration = Duration::from_secs(60);

fn tessera() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    // `tessera up` serves metrics; on a free port, beside other tests.
    cmd.env("TESSERA__TELEMETRY__METRICS_ADDR", "127.0.0.1:0");
    cmd
}

/// Waits until the dashboard answers its health probe.
async fn wait_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = request(addr, "GET", "/healthz", &[]).await
            && r.status == 200
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let r = request(addr, "GET", &format!("{path}?token={TOKEN}"), &[])
        .await
        .unwrap();
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_run_live_in_headless_chromium() {
    let nats = NatsServer::builder()
        .config("max_payload: 8MB")
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap();
    let url = nats.url();
    let port = free_port().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _up = ChildGuard(
        tessera()
            .args(["up", "--nats", &url, "--dashboard", &addr.to_string()])
            .env("TESSERA__MODEL__NAME", "tiny")
            .env("TESSERA__DASHBOARD__TOKEN", TOKEN)
            .env("TESSERA__DASHBOARD__WRITE_TOKEN", WRITE_TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(addr).await;

    // With a token configured, a request without it is refused.
    let refused = request(addr, "GET", "/api/runs", &[]).await.unwrap();
    assert_eq!(refused.status, 401, "{}", refused.text());

    let browser = Browser::start().await.unwrap();
    let base = format!("http://{addr}");
    browser
        .goto(&format!("{base}/?token={TOKEN}"))
        .await
        .unwrap();
    browser
        .wait_until("!document.getElementById('runs-view').hidden", WAIT)
        .await
        .unwrap();

    // One frame a second, so the page sees them arrive one by one.
    let mut publish = ChildGuard(
        tessera()
            .args([
                "publish",
                "--nats",
                &url,
                "--synthetic",
                &FRAMES.to_string(),
            ])
            .args(["--size", "256", "--rate", "1", "--run", RUN])
            .args(["--instrument", "tem-1", "--sample", "Fe-Cr", "--wait"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    // The run appears in the runs list (polled), live, and a click opens it.
    let row = format!("#runs tr[data-run='{RUN}']");
    browser.wait_for_element(&row, WAIT).await.unwrap();
    assert!(browser.text(&row).await.unwrap().contains("Fe-Cr"));
    let phase = format!("document.querySelector(\"{row} [data-phase]\").dataset.phase");
    assert_eq!(browser.eval(&phase).await.unwrap(), "live");
    browser
        .client()
        .find(tessera_testkit::browser::fantoccini::Locator::Css(
            &format!("{row} a"),
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_until("!document.getElementById('run-view').hidden", WAIT)
        .await
        .unwrap();

    // The plot gains a point as each frame is segmented, whenever the page was opened.
    let plotted = "Number(document.getElementById('plot').dataset.frames || 0)";
    let first = browser.eval(plotted).await.unwrap().as_u64().unwrap();
    let mut seen = vec![first];
    // While frames arrive the run is live, and so is the header; never live once stopped.
    let live = "[document.getElementById('run-state').dataset.phase, \
        document.getElementById('status').textContent]";
    let mut phases = Vec::new();
    for k in (first + 1).max(1)..=FRAMES {
        browser
            .wait_until(&format!("{plotted} >= {k}"), WAIT)
            .await
            .unwrap();
        let now = browser.eval(plotted).await.unwrap().as_u64().unwrap();
        // Never more points than frames the services have segmented.
        let (_, run) = get(addr, &format!("/api/runs/{RUN}")).await;
        let run: serde_json::Value = serde_json::from_slice(&run).unwrap();
        assert!(now <= run["frames_segmented"].as_u64().unwrap(), "{run}");
        seen.push(now);
        let shown = browser.eval(live).await.unwrap();
        assert_eq!(shown[0] == "live", shown[1] == "live", "{shown}");
        phases.push(shown[0].clone());
    }
    assert!(phases.contains(&"live".into()), "{phases:?}");
    assert_eq!(*seen.last().unwrap(), FRAMES, "{seen:?}");
    assert!(
        seen.windows(2).filter(|w| w[1] > w[0]).count() >= 3,
        "the plot should grow frame by frame while the run goes on: {seen:?}"
    );

    // The latest frame, its overlay and the legend are shown, in the plot's colours.
    let images_loaded = "['frame-img', 'overlay-img'].every(id => { \
        const i = document.getElementById(id); return i.complete && i.naturalWidth === 256; })";
    browser.wait_until(images_loaded, WAIT).await.unwrap();
    let legend = browser
        .eval(
            "[...document.querySelectorAll('#legend .legend-row')].map(r => \
             [r.dataset.id, r.dataset.color, parseFloat(r.children[2].textContent)])",
        )
        .await
        .unwrap();
    let legend = legend.as_array().unwrap();
    assert!(!legend.is_empty());
    let total: f64 = legend.iter().map(|r| r[2].as_f64().unwrap()).sum();
    assert!(
        (total - 100.0).abs() < 0.6,
        "area fractions sum to {total}%"
    );
    for r in legend {
        let stroke = browser
            .eval(&format!(
                "document.querySelector('#plot g.series[data-id=\"{}\"] polyline')\
                 .getAttribute('stroke')",
                r[0].as_str().unwrap()
            ))
            .await
            .unwrap();
        assert_eq!(stroke, r[1], "legend and plot colours agree");
    }
    let caption = browser.text("#frame-caption").await.unwrap();
    assert!(caption.contains("dose"), "{caption}");
    // The synthetic frames are calibrated (0.039 nm pixels): areas are in nm², each the
    // community's fraction of the 256² frame.
    assert!(caption.contains("pixel 39.0 pm"), "{caption}");
    let areas = browser
        .eval(
            "[...document.querySelectorAll('#legend .legend-row')].map(r => \
             [parseFloat(r.children[2].textContent), r.children[3].textContent])",
        )
        .await
        .unwrap();
    for a in areas.as_array().unwrap() {
        let (percent, text) = (a[0].as_f64().unwrap(), a[1].as_str().unwrap());
        let nm2: f64 = text
            .trim_end_matches(" nm²")
            .parse()
            .unwrap_or_else(|_| panic!("area {text:?} is not in nm²"));
        let expected = percent / 100.0 * 256.0 * 256.0 * 0.039 * 0.039;
        assert!(
            (nm2 - expected).abs() <= 0.01 * expected + 0.5,
            "area {text} for {percent}% (expected {expected:.1} nm²)"
        );
    }
    let timings = browser
        .eval("document.querySelectorAll('#timings .timing-row').length")
        .await
        .unwrap();
    assert!(timings.as_u64().unwrap() >= 3, "stage latencies shown");
    let shot = browser.screenshot("dashboard-run-live").await.unwrap();
    eprintln!("screenshot: {}", shot.display());

    // History: step back one frame.
    let latest = browser
        .eval("document.getElementById('frame-img').dataset.seq")
        .await
        .unwrap();
    browser
        .client()
        .find(tessera_testkit::browser::fantoccini::Locator::Id("prev"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let earlier = browser
        .eval("document.getElementById('frame-img').dataset.seq")
        .await
        .unwrap();
    let (latest, earlier): (u64, u64) = (
        latest.as_str().unwrap().parse().unwrap(),
        earlier.as_str().unwrap().parse().unwrap(),
    );
    assert_eq!(earlier + 1, latest);
    assert!(
        browser
            .text("#frame-caption")
            .await
            .unwrap()
            .contains(&format!("frame {earlier}"))
    );

    let status = publish.0.wait().unwrap();
    assert!(status.success(), "tessera publish failed");

    // Opened after the run: everything so far comes from the stream and KV.
    browser
        .goto(&format!("{base}/runs/{RUN}?token={TOKEN}"))
        .await
        .unwrap();
    browser
        .wait_until(&format!("{plotted} === {FRAMES}"), WAIT)
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('run-meta').dataset.state === 'finished'",
            WAIT,
        )
        .await
        .unwrap();
    browser.wait_until(images_loaded, WAIT).await.unwrap();
    assert!(
        browser
            .text("#status")
            .await
            .unwrap()
            .starts_with("run over")
    );
    let says_live = browser
        .eval("/\\blive\\b/i.test(document.body.innerText)")
        .await
        .unwrap();
    assert_eq!(
        says_live, false,
        "nothing on a stopped run's page says live"
    );
    assert!(
        browser
            .text("#run-meta")
            .await
            .unwrap()
            .contains("0 rejected")
    );
    story::check_plot(&browser, true).await;
    story::check_timings(&browser).await;
    browser.screenshot("dashboard-run-finished").await.unwrap();
    story::check_first_paint(&browser, addr, RUN).await;

    story::publish_other_runs(&url, addr).await;
    story::check_rejects_and_states(&browser, &base, RUN).await;
    let dir = tempfile::tempdir().unwrap();
    classes::store_classifier(dir.path(), &url);
    classes::publish_classified_runs(&url, addr).await;
    classes::check_classes(&browser, &base, addr).await;
    classes::check_painting(&browser, &base, &url, addr).await;
    decisions::publish_closed_loop_run(dir.path(), &url);
    decisions::check_decisions(&browser, &base).await;
    browser.close().await;

    // Exports: the fraction table, the label map and the images.
    let (status, csv) = get(addr, &format!("/api/runs/{RUN}/fractions.csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count() as u64, FRAMES + 1, "{csv}");
    assert!(csv.starts_with("seq,timestamp_ms,dose,community_"), "{csv}");
    let files = [
        ("labels.tiff", &b"II*\0"[..]),
        ("overlay.png", &b"\x89PNG"[..]),
        ("frame.png", &b"\x89PNG"[..]),
    ];
    for (file, magic) in files {
        let (status, body) = get(addr, &format!("/api/runs/{RUN}/frames/{latest}/{file}")).await;
        assert_eq!(status, 200, "{file}");
        assert!(body.starts_with(magic), "{file}");
    }
}
