//! The run page with few-shot classes (issue 18): a classifier made with `tessera segment
//! --labels` on the services' model and stored with `tessera classifier put`, a run that names
//! it, and one that names a classifier that does not exist. The page shows each frame's
//! classes with their legend, the class layer over the frame, and the class plot beside the
//! community plot; the unusable classifier is said, not hidden.

use std::path::Path;
use std::time::{Duration, Instant};

use tessera_bus::{Bus, BusConfig};
use tessera_imaging::encode_png_gray8;
use tessera_instrument::{DoseSeries, FrameSource, Instrument, now_ms};
use tessera_protocol::{
    InstrumentId, Limits, PROTOCOL_VERSION, RunId, RunStart, RunStop, StopReason, WireParams,
};
use tessera_testkit::Browser;

use super::{TOKEN, WAIT, get, tessera};

/// A run of three dose-series frames classified with `order`.
pub(crate) const CLASSES_RUN: &str = "dash-classes";
/// A run naming a classifier nobody stored.
const MISSING_RUN: &str = "dash-no-classifier";
const SIZE: usize = 256;

/// Makes the classifier `order` on the `tiny` model and stores it in NATS at `url`.
pub(crate) fn store_classifier(dir: &Path, url: &str) {
    let image = dir.join("scene.png");
    let scene = crate::common::scene(&image, SIZE, 21);
    let mask = dir.join("strokes.png");
    let strokes = crate::common::scribble(&scene, SIZE);
    std::fs::write(&mask, encode_png_gray8(SIZE, SIZE, &strokes).unwrap()).unwrap();
    let saved = dir.join("order.json");
    let o = tessera()
        .args(["segment", image.to_str().unwrap(), "--model", "tiny"])
        .args(["--labels", mask.to_str().unwrap()])
        .args(["--class-names", "crystal=#2060ff,disordered=#ff8000"])
        .args(["--save-classifier", saved.to_str().unwrap()])
        .args(["--out", dir.join("out").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = tessera()
        .args([
            "classifier",
            "put",
            saved.to_str().unwrap(),
            "--name",
            "order",
        ])
        .args(["--by", "dashboard-test", "--nats", url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Publishes [`CLASSES_RUN`] and [`MISSING_RUN`] and waits until both are segmented.
pub(crate) async fn publish_classified_runs(url: &str, addr: std::net::SocketAddr) {
    let bus = Bus::connect(&BusConfig::new(url)).await.unwrap();
    let inst = Instrument::new(bus, InstrumentId::new("tem-1").unwrap(), Limits::default());
    let series = FrameSource::Synthetic(DoseSeries::new(SIZE as u32, 3, 5).unwrap());
    for (name, classifier, frames) in [(CLASSES_RUN, "order", 3), (MISSING_RUN, "nobody", 1)] {
        let run = RunId::new(name).unwrap();
        inst.start_run(&start(&run, classifier)).await.unwrap();
        for seq in 0..frames {
            inst.publish_frame(&run, seq, &series.frame(seq).unwrap())
                .await
                .unwrap();
        }
        inst.stop_run(&RunStop {
            version: PROTOCOL_VERSION,
            run: run.clone(),
            reason: StopReason::Success,
            frames,
            message: String::new(),
        })
        .await
        .unwrap();
    }
    for (name, frames) in [(CLASSES_RUN, 3), (MISSING_RUN, 1)] {
        wait_segmented(addr, name, frames).await;
    }
}

fn start(run: &RunId, classifier: &str) -> RunStart {
    RunStart {
        version: PROTOCOL_VERSION,
        run: run.clone(),
        instrument: InstrumentId::new("tem-1").unwrap(),
        sample: "classified".into(),
        modality: "STEM".into(),
        started_at_ms: now_ms(),
        params: WireParams {
            classifier: Some(classifier.into()),
            ..WireParams::default()
        },
        metadata: Default::default(),
    }
}

/// The classified run's page: legend, layer, plot and download; then the run whose
/// classifier is missing says so.
pub(crate) async fn check_classes(browser: &Browser, base: &str, addr: std::net::SocketAddr) {
    browser
        .goto(&format!("{base}/runs/{CLASSES_RUN}?token={TOKEN}"))
        .await
        .unwrap();
    browser
        .wait_until(
            "document.getElementById('class-plot').dataset.frames === '3'",
            WAIT,
        )
        .await
        .unwrap();
    let rows = browser
        .eval("[...document.querySelectorAll('#class-legend tr.class-row')].map(r => [r.dataset.name, r.dataset.color])")
        .await
        .unwrap();
    assert_eq!(
        rows,
        serde_json::json!([["crystal", "#2060ff"], ["disordered", "#ff8000"]])
    );
    let plotted = browser
        .eval("[...document.querySelectorAll('#class-plot .legend-item')].map(i => [i.dataset.id, i.dataset.color])")
        .await
        .unwrap();
    assert_eq!(plotted, rows, "the class plot's series are the classes");
    assert!(
        browser
            .text("#classes-title")
            .await
            .unwrap()
            .contains("order")
    );
    assert!(
        browser
            .text("#classes-note")
            .await
            .unwrap()
            .starts_with("Unknown")
    );

    // The class layer over the frame, in place of the communities.
    browser
        .eval("(() => { const s = document.getElementById('layer'); s.value = 'classes'; s.dispatchEvent(new Event('change')); })()")
        .await
        .unwrap();
    browser
        .wait_until(
            "(() => { const i = document.getElementById('overlay-img'); \
             return i.dataset.layer === 'classes' && i.src.includes('/classes.png') \
             && i.complete && i.naturalWidth === 256; })()",
            WAIT,
        )
        .await
        .unwrap();
    browser.screenshot("dashboard-classes").await.unwrap();
    let href = browser
        .eval("document.getElementById('dl-classes').getAttribute('href')")
        .await
        .unwrap();
    let path = href
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (status, tiff) = get(addr, &path).await;
    assert_eq!(status, 200, "{path}");
    assert!(tiff.starts_with(b"II*\0"));
    let (_, csv) = get(addr, &format!("/api/runs/{CLASSES_RUN}/fractions.csv")).await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",class_crystal,class_disordered,unknown"),
        "{csv}"
    );

    browser
        .goto(&format!("{base}/runs/{MISSING_RUN}?token={TOKEN}"))
        .await
        .unwrap();
    browser
        .wait_until("!document.getElementById('classes-view').hidden", WAIT)
        .await
        .unwrap();
    let note = browser.text("#classes-note").await.unwrap();
    assert!(
        note.starts_with("Not classified: no classifier is named nobody"),
        "{note}"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('layer-choice').hidden")
            .await
            .unwrap(),
        true
    );
}

/// A live run labelled in the page: frames 0 and 1 arrive unclassified; strokes of two
/// classes painted on frame 1 are refused with the read token and applied with the write
/// token (frame 1 classified at once), and frame 2, published after, arrives classified.
pub(crate) async fn check_painting(
    browser: &Browser,
    base: &str,
    url: &str,
    addr: std::net::SocketAddr,
) {
    let bus = Bus::connect(&BusConfig::new(url)).await.unwrap();
    let inst = Instrument::new(bus, InstrumentId::new("tem-1").unwrap(), Limits::default());
    let series = FrameSource::Synthetic(DoseSeries::new(SIZE as u32, 3, 9).unwrap());
    let run = RunId::new(PAINT_RUN).unwrap();
    let mut plain = start(&run, "unused");
    plain.params.classifier = None;
    inst.start_run(&plain).await.unwrap();
    for seq in 0..2 {
        inst.publish_frame(&run, seq, &series.frame(seq).unwrap())
            .await
            .unwrap();
    }
    wait_segmented(addr, PAINT_RUN, 2).await;

    let page = |token: &str| format!("{base}/runs/{PAINT_RUN}?token={token}");
    paint_and_apply(browser, &page(TOKEN), "refused").await;
    let said = browser.text("#label-status").await.unwrap();
    assert!(said.contains("needs the write token"), "{said}");

    paint_and_apply(browser, &page(super::WRITE_TOKEN), "applied").await;
    let rows = browser
        .eval(
            "[...document.querySelectorAll('#class-legend tr.class-row')].map(r => r.dataset.name)",
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        serde_json::json!(["left", "right"]),
        "frame 1 classified"
    );
    let plotted = browser
        .eval(
            "['frames', 'classes'].map(k => document.getElementById('class-plot').dataset[k])\
             .concat([document.getElementById('class-plot-title').textContent])",
        )
        .await
        .unwrap();
    assert_eq!(
        plotted,
        serde_json::json!(["1", "2", "Class fraction by dose"]),
        "the class plot has the frame just classified"
    );
    browser.screenshot("dashboard-painted").await.unwrap();

    // The next frame is classified by the clusterer with what was painted.
    inst.publish_frame(&run, 2, &series.frame(2).unwrap())
        .await
        .unwrap();
    browser
        .wait_until(
            "(() => { const k = view.frames.get(2)?.classes; \
             return !!k && !k.error && k.classifier === 'dash-paint-classes'; })()",
            WAIT,
        )
        .await
        .unwrap();
    inst.stop_run(&RunStop {
        version: PROTOCOL_VERSION,
        run,
        reason: StopReason::Success,
        frames: 3,
        message: String::new(),
    })
    .await
    .unwrap();
    let o = tessera()
        .args(["classifier", "history", "dash-paint-classes", "--nats", url])
        .output()
        .unwrap();
    let history = String::from_utf8_lossy(&o.stdout);
    assert!(history.contains("saved by tester"), "{history}");
    assert!(history.contains("(painted on frame 1)"), "{history}");
}

/// Opens `page` on frame 1, paints [`STROKES`], applies them, and waits until the page says
/// `outcome` ("applied" or "refused").
async fn paint_and_apply(browser: &Browser, page: &str, outcome: &str) {
    browser.goto(page).await.unwrap();
    browser
        .wait_until("view.current === 1", WAIT)
        .await
        .unwrap();
    browser.eval(STROKES).await.unwrap();
    let painted = browser
        .eval("Number(document.getElementById('label-status').dataset.points)")
        .await
        .unwrap();
    assert!(painted.as_u64().unwrap() > 500, "{painted} pixels painted");
    browser
        .eval("document.getElementById('apply-labels').click()")
        .await
        .unwrap();
    let state = format!("document.getElementById('label-status').dataset.state === '{outcome}'");
    browser.wait_until(&state, WAIT).await.unwrap();
}

/// A run labelled in the page.
const PAINT_RUN: &str = "dash-paint";

/// Names the two classes "left" and "right", and paints a vertical stroke of each on the
/// frame shown (pointer events on the canvas, as a mouse would send them).
const STROKES: &str = r#"(() => {
  const names = document.querySelectorAll('#label-classes .class-name');
  names[0].value = 'left'; names[0].dispatchEvent(new Event('input'));
  names[1].value = 'right'; names[1].dispatchEvent(new Event('input'));
  document.getElementById('label-by').value = 'tester';
  const paint = document.getElementById('paint');
  paint.checked = true; paint.dispatchEvent(new Event('change'));
  const canvas = document.getElementById('strokes');
  const box = canvas.getBoundingClientRect();
  const at = (fx, fy) => ({ clientX: box.left + fx * box.width, clientY: box.top + fy * box.height,
                            pointerId: 1, bubbles: true });
  for (const [radio, fx] of [[0, 0.15], [1, 0.85]]) {
    const pick = document.querySelectorAll('#label-classes input[type=radio]')[radio];
    pick.checked = true; pick.dispatchEvent(new Event('change'));
    canvas.dispatchEvent(new PointerEvent('pointerdown', at(fx, 0.1)));
    for (let fy = 0.1; fy <= 0.9; fy += 0.05) canvas.dispatchEvent(new PointerEvent('pointermove', at(fx, fy)));
    canvas.dispatchEvent(new PointerEvent('pointerup', at(fx, 0.9)));
  }
})()"#;

/// Waits until `run` has `frames` segmented frames.
async fn wait_segmented(addr: std::net::SocketAddr, run: &str, frames: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, s) = get(addr, &format!("/api/runs/{run}")).await;
        let s: serde_json::Value = serde_json::from_slice(&s).unwrap_or_default();
        if s["frames_segmented"] == frames {
            return;
        }
        assert!(Instant::now() < deadline, "run {run} never got there: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
