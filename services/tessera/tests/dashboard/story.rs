//! What the run page tells beyond the frame (issue 16): each run's state, its rejected frames
//! and why, the plot's legend and round ticks, defined stage times, and a first paint that
//! already shows the frame. Runs published here straight onto ACQ, as an instrument would.

use std::time::{Duration, Instant};

use serde_json::Value;
use tessera_bus::{Bus, BusConfig};
use tessera_instrument::{DoseSeries, FrameData, FrameSource, Instrument, now_ms};
use tessera_protocol::{
    Dtype, InstrumentId, Limits, PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason, WireParams,
};
use tessera_testkit::Browser;

use super::{TOKEN, WAIT, get};

/// A run with two good frames (0 and 1, without a dose) and two too small to chip (2, 3).
const REJECTS_RUN: &str = "dash-rejects";
/// A run whose acquisition failed.
const FAILED_RUN: &str = "dash-failed";

/// Publishes [`REJECTS_RUN`] and [`FAILED_RUN`] and waits until the services have them.
pub(crate) async fn publish_other_runs(url: &str, addr: std::net::SocketAddr) {
    let bus = Bus::connect(&BusConfig::new(url)).await.unwrap();
    let inst = Instrument::new(bus, InstrumentId::new("tem-1").unwrap(), Limits::default());
    let series = FrameSource::Synthetic(DoseSeries::new(256, 2, 3).unwrap());
    let run = RunId::new(REJECTS_RUN).unwrap();
    inst.start_run(&start(&run, "with rejects")).await.unwrap();
    for seq in 0..2 {
        let frame = FrameData {
            dose: None,
            ..series.frame(seq).unwrap()
        };
        inst.publish_frame(&run, seq, &frame).await.unwrap();
    }
    for seq in 2..4 {
        let tiny = FrameData {
            width: 32,
            height: 32,
            dtype: Dtype::U8,
            bytes: (0..32 * 32).map(|i| (i % 251) as u8).collect(),
            timestamp_ms: now_ms(),
            dose: None,
            pixel_size_nm: None,
            scalars: Default::default(),
        };
        inst.publish_frame(&run, seq, &tiny).await.unwrap();
    }
    inst.stop_run(&stop(&run, StopReason::Success, 4))
        .await
        .unwrap();
    let failed = RunId::new(FAILED_RUN).unwrap();
    inst.start_run(&start(&failed, "failing")).await.unwrap();
    inst.stop_run(&stop(&failed, StopReason::Fail, 0))
        .await
        .unwrap();

    let deadline = Instant::now() + WAIT;
    loop {
        let (_, a) = get(addr, &format!("/api/runs/{REJECTS_RUN}")).await;
        let (_, b) = get(addr, &format!("/api/runs/{FAILED_RUN}")).await;
        let a: Value = serde_json::from_slice(&a).unwrap_or_default();
        let b: Value = serde_json::from_slice(&b).unwrap_or_default();
        let listed = a["rejects"].as_array().map_or(0, Vec::len);
        if a["frames_segmented"] == 2 && listed == 2 && b["phase"] == "failed" {
            assert_eq!(a["rejected"], 2, "{a}");
            assert_eq!(a["phase"], "finished_with_rejects", "{a}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the services never finished: {a} {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start(run: &RunId, sample: &str) -> RunStart {
    RunStart {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        instrument: InstrumentId::new("tem-1").unwrap(),
        sample: sample.into(),
        modality: "STEM".into(),
        started_at_ms: now_ms(),
        params: WireParams::default(),
        metadata: Default::default(),
    }
}

fn stop(run: &RunId, reason: StopReason, frames: u64) -> RunStop {
    RunStop {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        reason,
        frames,
        message: String::new(),
    }
}

/// The page of a finished run, just loaded: what `chromium --headless --screenshot` would
/// capture. The page carries the run and its latest result, and its first paint (before the
/// event stream opens) shows that frame, loaded.
pub(crate) async fn check_first_paint(browser: &Browser, addr: std::net::SocketAddr, run: &str) {
    let (_, summary) = get(addr, &format!("/api/runs/{run}")).await;
    let summary: Value = serde_json::from_slice(&summary).unwrap();
    let latest = summary["latest_seq"].as_u64().unwrap();
    let (status, html) = get(addr, &format!("/runs/{run}")).await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    let open = r#"<script id="initial-state" type="application/json">"#;
    let json = html.split(open).nth(1).unwrap().split("</script>").next();
    let state: Value = serde_json::from_str(json.unwrap()).unwrap();
    assert_eq!(state["run"]["phase"], summary["phase"], "{state}");
    assert_eq!(state["latest"]["seq"], latest, "{state}");

    browser
        .goto(&format!("http://{addr}/runs/{run}?token={TOKEN}"))
        .await
        .unwrap();
    // No waiting: the page has loaded, and with it the frame drawn from the page itself.
    let painted = browser
        .eval(
            "[document.getElementById('stage').dataset.firstPaint, (() => { \
             const i = document.getElementById('frame-img'); \
             return i.complete && i.naturalWidth; })()]",
        )
        .await
        .unwrap();
    assert_eq!(painted[0], latest.to_string(), "first paint: {painted}");
    assert_eq!(
        painted[1], 256,
        "the frame is loaded with the page: {painted}"
    );
    browser
        .screenshot(&format!("{run}-first-paint"))
        .await
        .unwrap();
}

/// The plot's round ticks (integers for frames, 1-2-5 steps for dose, enclosing the data),
/// its legend (one entry per series, in its colour), and the tick function itself.
pub(crate) async fn check_plot(browser: &Browser, by_dose: bool) {
    let ticks = browser
        .eval("[...document.querySelectorAll('#plot .x-tick')].map(t => [Number(t.dataset.value), t.textContent])")
        .await
        .unwrap();
    let ticks: Vec<(f64, String)> = ticks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_f64().unwrap(), t[1].as_str().unwrap().to_string()))
        .collect();
    assert!((2..=12).contains(&ticks.len()), "{ticks:?}");
    let step = ticks[1].0 - ticks[0].0;
    let mantissa = step / 10f64.powf(step.log10().floor());
    assert!(
        [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6),
        "tick step {step} is not 1, 2 or 5 times a power of ten: {ticks:?}"
    );
    for (i, (x, label)) in ticks.iter().enumerate() {
        assert!(
            (x - ticks[0].0 - i as f64 * step).abs() < 1e-6 * step,
            "{ticks:?}"
        );
        assert_eq!(label.parse::<f64>().unwrap(), *x, "{ticks:?}");
        if !by_dose {
            assert_eq!(x.fract(), 0.0, "frame ticks are whole numbers: {ticks:?}");
        }
    }
    let xs = browser
        .eval(&format!(
            "[...view.frames.values()].map(r => {})",
            if by_dose { "r.dose" } else { "r.seq" }
        ))
        .await
        .unwrap();
    for x in xs.as_array().unwrap() {
        let x = x.as_f64().unwrap();
        assert!(
            ticks[0].0 <= x && x <= ticks.last().unwrap().0,
            "{x} off {ticks:?}"
        );
    }
    let legend = browser
        .eval(
            "[...document.querySelectorAll('#plot g.series')].map(s => \
             [s.dataset.id, s.querySelector('polyline').getAttribute('stroke'), \
              document.querySelector(`#plot .legend-item[data-id=\"${s.dataset.id}\"]`)?.dataset.color])",
        )
        .await
        .unwrap();
    let legend = legend.as_array().unwrap();
    assert!(!legend.is_empty());
    for s in legend {
        assert_eq!(s[1], s[2], "the plot's legend has series {s}");
    }
    let nice = browser
        .eval("[niceTicks(0, 114, 6).ticks, niceTicks(1, 1.8, 6, true).ticks, niceTicks(0, 0.37, 5).ticks]")
        .await
        .unwrap();
    assert_eq!(
        nice,
        serde_json::json!([
            [0, 20, 40, 60, 80, 100, 120],
            [1, 2],
            [0, 0.1, 0.2, 0.3, 0.4]
        ])
    );
}

/// Every stage time is defined in its tooltip; the elapsed ones add up to end to end (none
/// longer), and embedding, added up over batches, is apart from them.
pub(crate) async fn check_timings(browser: &Browser) {
    let rows = browser
        .eval(
            "[...document.querySelectorAll('#timings .timing-row')].map(r => \
             [r.dataset.stage, r.dataset.kind, Number(r.dataset.ms), r.title])",
        )
        .await
        .unwrap();
    let rows = rows.as_array().unwrap();
    let ms = |stage: &str| {
        rows.iter()
            .find(|r| r[0] == stage)
            .map(|r| r[2].as_f64().unwrap())
    };
    let total = ms("publish_to_result").expect("end to end is shown");
    let mut elapsed = 0.0;
    for r in rows {
        assert!(
            r[3].as_str().unwrap().len() > 20,
            "stage {} is defined",
            r[0]
        );
        if r[1] == "elapsed" && r[0] != "publish_to_result" {
            assert!(
                r[2].as_f64().unwrap() <= total,
                "{r} longer than end to end {total}"
            );
            elapsed += r[2].as_f64().unwrap();
        }
    }
    assert!(
        (elapsed - total).abs() < 0.01,
        "elapsed stages add up to {elapsed}, not {total}"
    );
    let embed = rows
        .iter()
        .find(|r| r[0] == "embed")
        .expect("embed is shown");
    assert_eq!(embed[1], "work", "{embed}");
}

/// The run with rejects: its state, its count and the list of rejected frames with why;
/// then the failed run; then the runs list with every state and count.
pub(crate) async fn check_rejects_and_states(browser: &Browser, base: &str, finished_run: &str) {
    browser
        .goto(&format!("{base}/runs/{REJECTS_RUN}?token={TOKEN}"))
        .await
        .unwrap();
    let state = browser.text("#run-state").await.unwrap();
    assert_eq!(state, "finished with rejects");
    assert!(
        browser
            .text("#run-meta")
            .await
            .unwrap()
            .contains("2 rejected")
    );
    assert!(!browser.text("#status").await.unwrap().contains("live"));
    let rejects = browser
        .eval(
            "[...document.querySelectorAll('#rejects .reject-row')].map(r => \
             [r.dataset.seq, r.children[1].textContent, r.children[2].textContent])",
        )
        .await
        .unwrap();
    let rejects = rejects.as_array().unwrap();
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    for (r, seq) in rejects.iter().zip(["2", "3"]) {
        assert_eq!(r[0], seq, "{r}");
        assert_eq!(r[1], "ingest", "{r}");
        let why = r[2].as_str().unwrap();
        assert!(why.contains("smaller than one 64 × 64 chip"), "{why}");
    }
    assert_eq!(
        browser.text("#rejects-title").await.unwrap(),
        "Rejected: 2 frames"
    );
    // Frames without a dose are plotted by frame number.
    browser
        .wait_until(
            "document.getElementById('plot').dataset.frames === '2'",
            WAIT,
        )
        .await
        .unwrap();
    check_plot(browser, false).await;
    browser
        .eval("document.getElementById('rejects-view').scrollIntoView() ?? true")
        .await
        .unwrap();
    browser.screenshot("dashboard-run-rejects").await.unwrap();

    browser
        .goto(&format!("{base}/runs/{FAILED_RUN}?token={TOKEN}"))
        .await
        .unwrap();
    assert_eq!(browser.text("#run-state").await.unwrap(), "failed");
    assert!(!browser.text("#status").await.unwrap().contains("live"));

    browser
        .goto(&format!("{base}/?token={TOKEN}"))
        .await
        .unwrap();
    let row = |run: &str| format!("#runs tr[data-run='{run}']");
    browser
        .wait_for_element(&row(FAILED_RUN), WAIT)
        .await
        .unwrap();
    for (run, phase, rejected) in [
        (finished_run, "finished", "0"),
        (REJECTS_RUN, "finished_with_rejects", "2"),
        (FAILED_RUN, "failed", "0"),
    ] {
        let got = browser
            .eval(&format!(
                "[document.querySelector(\"{} [data-phase]\").dataset.phase, \
                  document.querySelector(\"{} .rejected\").textContent]",
                row(run),
                row(run)
            ))
            .await
            .unwrap();
        assert_eq!(got, serde_json::json!([phase, rejected]), "{run}");
    }
    browser.screenshot("dashboard-runs-states").await.unwrap();
}
