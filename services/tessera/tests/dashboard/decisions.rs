//! The run page with the closed loop (issue 21): `tessera publish --synthetic --policy FILE
//! --obey` runs a series whose policy asks for a region on the first frame (obeyed: the next
//! frame is that region) and stops the run on the third. The page marks each fired rule on
//! the fraction plot with its name and on the frame slider, draws the region on the frame it was decided on, and lists
//! every action with the instrument's answer.

use tessera_testkit::Browser;

use super::{TOKEN, WAIT, tessera};

/// The closed-loop run.
const LOOP_RUN: &str = "dash-loop";

const POLICY: &str = r#"
[[rule]]
name = "unsure"
when = "low_confidence"
margin = 1000.0
area = 0.01
action = { do = "acquire_roi", goal = "low_confidence", magnification = 2 }

[[rule]]
name = "enough"
when = "threshold"
community = 0
above = 0.0
frames = 3
action = "stop"
"#;

/// Runs [`LOOP_RUN`] to its stop with `tessera publish --obey`.
pub(crate) fn publish_closed_loop_run(dir: &std::path::Path, url: &str) {
    let policy = dir.join("loop.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let o = tessera()
        .args([
            "publish",
            "--nats",
            url,
            "--synthetic",
            "8",
            "--size",
            "256",
        ])
        .args(["--rate", "0", "--run", LOOP_RUN, "--instrument", "tem-1"])
        .args(["--policy", policy.to_str().unwrap(), "--obey"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("stopped by rule \"enough\" on frame 2"),
        "{out}"
    );
    assert!(out.contains("executed acquire_roi (unsure)"), "{out}");
}

/// The run page shows the decisions: marks on the plot, the region on frame 0, the table.
pub(crate) async fn check_decisions(browser: &Browser, base: &str) {
    browser
        .goto(&format!("{base}/runs/{LOOP_RUN}?token={TOKEN}"))
        .await
        .unwrap();
    browser
        .wait_until(
            "document.querySelectorAll('#decisions .decision-row').length === 2",
            WAIT,
        )
        .await
        .unwrap();
    let rows = browser
        .eval(
            "[...document.querySelectorAll('#decisions .decision-row')].map(r => \
             [r.dataset.seq, r.dataset.rule, r.dataset.action, r.children[4].textContent])",
        )
        .await
        .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0][0], "0");
    assert_eq!(rows[0][1], "unsure");
    assert!(
        rows[0][3].as_str().unwrap().starts_with("done: next frame"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[1][0].as_str(), rows[1][2].as_str()),
        (Some("2"), Some("stop"))
    );
    // Both fired rules are marked on the plot, by name, once the page has every frame.
    browser
        .wait_until(
            "document.querySelectorAll('#plot .decision-mark').length === 2",
            WAIT,
        )
        .await
        .unwrap();
    let marks = browser
        .eval(
            "[...document.querySelectorAll('#plot .decision-mark')].map(m => \
             [m.dataset.seq, m.querySelector('text').textContent])",
        )
        .await
        .unwrap();
    assert_eq!(
        marks,
        serde_json::json!([["0", "unsure"], ["2", "enough"]]),
        "{marks}"
    );
    // The frame slider has a tick at each of those frames.
    let ticks = browser
        .eval("[...document.querySelectorAll('#decision-ticks option')].map(o => o.value)")
        .await
        .unwrap();
    assert_eq!(ticks, serde_json::json!(["0", "2"]), "{ticks}");
    // Frame 0 shows the region it asked for; frame 2 (a stop) shows none.
    for (seq, shown) in [(0, true), (2, false)] {
        browser
            .eval(&format!(
                "(() => {{ view.follow = false; showFrame({seq}); return true; }})()"
            ))
            .await
            .unwrap();
        let hidden = browser
            .eval("document.getElementById('roi-box').hidden")
            .await
            .unwrap();
        assert_eq!(hidden, !shown, "frame {seq}");
    }
    browser.eval("showFrame(0)").await.unwrap();
    let box_rule = browser
        .eval("document.getElementById('roi-box').dataset.rule")
        .await
        .unwrap();
    assert_eq!(box_rule, "unsure");
    browser.screenshot("dashboard-closed-loop").await.unwrap();
}
