//! `tessera segment --labels / --classifier`: few-shot classes from a scribble, saved, and
//! applied to another frame, through the real binary, runtime and model.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

mod common;
use common::{tessera, text};

use std::path::Path;

use tessera_imaging::{decode_labels_tiff, encode_png_gray8};
use tessera_synth::{SynthImage, adjusted_rand_index};

const SIZE: usize = 384;

fn scene(path: &Path, seed: u64) -> SynthImage {
    common::scene(path, SIZE, seed)
}

fn scribble(s: &SynthImage) -> Vec<u8> {
    common::scribble(s, SIZE)
}

fn classes_of(out: &Path, stem: &str) -> (serde_json::Value, Vec<u16>) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(format!("{stem}.json"))).unwrap()).unwrap();
    let (w, h, labels) =
        decode_labels_tiff(&std::fs::read(out.join(format!("{stem}.classes.tif"))).unwrap())
            .unwrap();
    assert_eq!((w, h), (SIZE, SIZE));
    assert!(out.join(format!("{stem}.classes.png")).is_file());
    (report["classes"].clone(), labels)
}

#[test]
fn a_scribble_makes_a_classifier_that_labels_this_frame_and_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    let (sa, sb) = (scene(&a, 5), scene(&b, 6));
    let mask = dir.path().join("strokes.png");
    std::fs::write(&mask, encode_png_gray8(SIZE, SIZE, &scribble(&sa)).unwrap()).unwrap();
    let saved = dir.path().join("order.classifier.json");
    let out = dir.path().join("out");
    let o = tessera(&[
        "segment",
        a.to_str().unwrap(),
        "--labels",
        mask.to_str().unwrap(),
        "--class-names",
        "crystal=#2060ff,disordered",
        "--save-classifier",
        saved.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("classes: crystal"), "{}", text(&o));
    let (report, labels) = classes_of(&out, "a");
    assert_eq!(report["method"], "logistic", "{report}");
    assert_eq!(report["classes"][0]["name"], "crystal");
    assert_eq!(report["classes"][0]["color"], "#2060ff");
    assert_eq!(report["classes"][1]["value"], 2);
    // Class values are 1 and 2 (0 unknown); the truth is 0 and 1.
    let ari = adjusted_rand_index(&sa.truth, &labels, None).unwrap();
    assert!(ari > 0.7, "the scribbled frame's classes score ARI {ari}");
    let crystal = labels
        .iter()
        .zip(&sa.truth)
        .filter(|(l, t)| **l == 1 && **t == 0);
    assert!(crystal.count() * 2 > sa.truth.iter().filter(|t| **t == 0).count());

    // The saved classifier on another frame, with no labels: same names, right classes.
    let out_b = dir.path().join("out-b");
    let o = tessera(&[
        "segment",
        b.to_str().unwrap(),
        "--classifier",
        saved.to_str().unwrap(),
        "--out",
        out_b.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (report, labels) = classes_of(&out_b, "b");
    assert_eq!(report["classifier"], "strokes", "{report}");
    let ari = adjusted_rand_index(&sb.truth, &labels, None).unwrap();
    assert!(ari > 0.6, "the next frame's classes score ARI {ari}");

    stored_in_nats(&saved);
}

/// `tessera classifier put|list|history` with the saved file, and `tessera publish
/// --classifier` refusing a name that is not stored, against a real nats-server.
fn stored_in_nats(saved: &Path) {
    let nats = tessera_testkit::NatsServer::builder()
        .config("max_payload: 8MB")
        .jetstream("max_file_store: 1TB")
        .start()
        .unwrap();
    let url = nats.url();
    let file = saved.to_str().unwrap();
    let live = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--nats", &url]);
        tessera(&all)
    };
    let put = [
        "classifier",
        "put",
        file,
        "--name",
        "order",
        "--by",
        "alice",
    ];
    let o = live(&[&put[..], &["--note", "first strokes"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("stored classifier order (revision 1)"),
        "{}",
        text(&o)
    );
    let o = live(&[&put[..], &["--note", "more strokes"]].concat());
    assert!(text(&o).contains("(revision 2)"), "{}", text(&o));
    let o = live(&["classifier", "list"]);
    let listed = text(&o);
    assert!(
        listed.contains("order  classes crystal, disordered; logistic from"),
        "{listed}"
    );
    let o = live(&["classifier", "history", "order"]);
    let history = text(&o);
    assert!(history.contains("revision 1: classes crystal"), "{history}");
    assert!(history.contains("saved by alice"), "{history}");
    assert!(history.contains("(more strokes)"), "{history}");

    let o = live(&["classifier", "put", file, "--name", "two words"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--name"), "{}", text(&o));
    let o = live(&["classifier", "history", "nobody"]);
    assert!(
        text(&o).contains("no classifier is named nobody"),
        "{}",
        text(&o)
    );
    let o = live(&[
        "publish",
        "--synthetic",
        "1",
        "--size",
        "128",
        "--classifier",
        "nobody",
    ]);
    assert!(!o.status.success());
    let said = text(&o);
    assert!(
        said.contains("--classifier nobody: no classifier of that name"),
        "{said}"
    );
    assert!(
        said.contains("tessera classifier put FILE --name nobody"),
        "{said}"
    );
}

#[test]
fn bad_labels_and_classifiers_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let sa = scene(&a, 7);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "segment",
            a.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    // One class only.
    let one = dir.path().join("one.png");
    let mut mask = scribble(&sa);
    mask.iter_mut().filter(|v| **v == 20).for_each(|v| *v = 10);
    std::fs::write(&one, encode_png_gray8(SIZE, SIZE, &mask).unwrap()).unwrap();
    let o = run(&["--labels", one.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("at least two classes"), "{}", text(&o));
    // More names than classes.
    let two = dir.path().join("two.png");
    std::fs::write(&two, encode_png_gray8(SIZE, SIZE, &scribble(&sa)).unwrap()).unwrap();
    let o = run(&["--labels", two.to_str().unwrap(), "--class-names", "a,b,c"]);
    assert!(text(&o).contains("values 10, 20"), "{}", text(&o));
    // A mask of another size: the page fails with the two sizes, the run says so.
    let small = dir.path().join("small.png");
    std::fs::write(&small, encode_png_gray8(2, 2, &[0, 10, 20, 0]).unwrap()).unwrap();
    let o = run(&["--labels", small.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("is 2 × 2 pixels"), "{}", text(&o));
    // Points instead of a mask: two per class, at truth pixels; then one off the image.
    let points = dir.path().join("points.csv");
    let mut csv = String::from("x,y,class\n");
    let truth = &sa.truth;
    for (t, name) in [(0, "crystal"), (1, "disordered")] {
        let at = (0..SIZE * SIZE).filter(|&i| truth[i] == t).step_by(997);
        for i in at.take(2) {
            csv.push_str(&format!("{},{},{name}\n", i % SIZE, i / SIZE));
        }
    }
    std::fs::write(&points, &csv).unwrap();
    let o = run(&["--labels", points.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("classes: crystal"), "{}", text(&o));
    csv.push_str(&format!("{SIZE},0,crystal\n"));
    std::fs::write(&points, &csv).unwrap();
    let o = run(&["--labels", points.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("is off the 384 × 384 image"),
        "{}",
        text(&o)
    );
    // Not a classifier.
    let o = run(&["--classifier", two.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--save-classifier"), "{}", text(&o));
}
