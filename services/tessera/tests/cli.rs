//! The `tessera` command as a user runs it: real binary, real runtime, real models.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

mod common;
use common::{tessera, text};

use std::path::Path;

use tessera_imaging::{decode_labels_tiff, encode_png_gray16};
use tessera_synth::{SceneConfig, generate, to_u16};

/// An order–disorder scene written as a 16-bit PNG.
fn write_scene(path: &Path, size: usize, seed: u64) {
    common::scene(path, size, seed);
}

#[test]
fn segment_writes_labels_overlay_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("scene.png");
    write_scene(&image, 320, 1);
    let out = dir.path().join("out");
    let o = tessera(&[
        "segment",
        image.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (w, h, labels) =
        decode_labels_tiff(&std::fs::read(out.join("scene.labels.tif")).unwrap()).unwrap();
    assert_eq!((w, h), (320, 320));
    assert!(
        std::fs::read(out.join("scene.overlay.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("scene.json")).unwrap()).unwrap();
    // On a CPU with 8-bit dot products the default precision (auto) runs the model's
    // quantised twin; on one without, the float model.
    let (name, precision) = if tessera_embedding::cpu_runs_int8_fast() {
        ("efficientnet-lite0-int8", "int8")
    } else {
        ("efficientnet-lite0", "fp32")
    };
    assert_eq!(report["model"]["name"], name);
    assert_eq!(report["model"]["precision"], precision);
    let communities = report["communities"].as_array().unwrap();
    let total: f64 = communities
        .iter()
        .map(|c| c["area_fraction"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9);
    let max_label = *labels.iter().max().unwrap() as usize;
    assert_eq!(max_label + 1, communities.len());
    assert!(report["timings_ms"]["stages"].as_array().unwrap().len() >= 5);
    // 320² has 25 chips at stride 64: the automatic stride halves twice, to 16.
    assert_eq!(report["grid"]["stride"], 16);
    assert_eq!(report["grid"]["cols"], 17);
}

#[test]
fn the_same_image_twice_gives_identical_label_maps() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("scene.png");
    write_scene(&image, 256, 2);
    let mut maps = Vec::new();
    for run in ["a", "b"] {
        let out = dir.path().join(run);
        let o = tessera(&[
            "segment",
            image.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        maps.push(std::fs::read(out.join("scene.labels.tif")).unwrap());
    }
    assert_eq!(maps[0], maps[1]);
}

#[test]
fn a_bad_file_is_reported_and_the_rest_still_segmented() {
    let dir = tempfile::tempdir().unwrap();
    write_scene(&dir.path().join("good.png"), 256, 3);
    std::fs::write(
        dir.path().join("broken.png"),
        b"\x89PNG\r\n\x1a\n truncated",
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.tif"), b"").unwrap();
    let out = dir.path().join("out");
    let o = tessera(&[
        "segment",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        "tiny",
    ]);
    let t = text(&o);
    assert!(!o.status.success(), "bad files must fail the run: {t}");
    assert!(
        t.contains("broken.png: error:") && t.contains("empty.tif: error:"),
        "{t}"
    );
    assert!(t.contains("segmented 1 of 3"), "{t}");
    assert!(out.join("good.labels.tif").is_file());
}

#[test]
fn every_page_of_a_multi_page_tiff_is_segmented() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.tif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = tiff::encoder::TiffEncoder::new(file).unwrap();
        for seed in [4, 5] {
            let s = generate(&SceneConfig {
                width: 200,
                height: 200,
                seed,
                ..SceneConfig::default()
            })
            .unwrap();
            enc.write_image::<tiff::encoder::colortype::Gray32Float>(200, 200, &s.pixels)
                .unwrap();
        }
    }
    let out = dir.path().join("out");
    let o = tessera(&[
        "segment",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--model",
        "tiny",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("stack.p000.labels.tif").is_file());
    assert!(out.join("stack.p001.json").is_file());
}

#[test]
fn clear_errors_for_missing_inputs_bad_flags_and_absent_gpus() {
    let o = tessera(&["segment", "/nonexistent/image.tif", "--model", "tiny"]);
    assert!(
        text(&o).contains("/nonexistent/image.tif does not exist"),
        "{}",
        text(&o)
    );
    let o = tessera(&["segment", "x.png", "--chip", "64", "--stride", "100"]);
    assert!(text(&o).contains("stride 100 must be between 1 and the chip size 64"));
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("scene.png");
    write_scene(&image, 128, 6);
    let o = tessera(&[
        "segment",
        image.to_str().unwrap(),
        "--provider",
        "cuda",
        "--model",
        "tiny",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("CUDA") || text(&o).contains("cuda"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("--provider cpu"), "{}", text(&o));
    // INT8 on the CPU needs a quantised model; tiny has none, so it is refused, not run in FP32.
    let o = tessera(&[
        "segment",
        image.to_str().unwrap(),
        "--precision",
        "int8",
        "--model",
        "tiny",
    ]);
    assert!(!o.status.success());
    for part in ["tiny has no INT8 twin", "--precision fp32"] {
        assert!(text(&o).contains(part), "{part:?} not in {}", text(&o));
    }
}

#[test]
fn demo_writes_scenes_with_truth_and_prints_ari() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = tessera(&[
        "demo",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "256",
        "--model",
        "tiny",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("GraphEM ARI") && t.contains("mean ARI: tessera"),
        "{t}"
    );
    for scene in [
        "order-disorder-low",
        "order-disorder-high",
        "three-phase-low",
    ] {
        assert!(out.join(format!("{scene}.truth.png")).is_file(), "{scene}");
        assert!(
            out.join(format!("{scene}.overlay.png")).is_file(),
            "{scene}"
        );
    }
}

#[test]
fn eval_scores_images_against_their_masks() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&SceneConfig {
        width: 256,
        height: 256,
        seed: 9,
        ..SceneConfig::default()
    })
    .unwrap();
    let images = dir.path().join("images");
    let masks = dir.path().join("masks");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::create_dir_all(&masks).unwrap();
    std::fs::write(
        images.join("a.png"),
        encode_png_gray16(256, 256, &to_u16(&s.pixels)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        masks.join("a_mask.png"),
        tessera_imaging::encode_png_gray8(256, 256, &s.truth).unwrap(),
    )
    .unwrap();
    let o = tessera(&[
        "eval",
        images.to_str().unwrap(),
        "--masks",
        masks.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("a.png") && t.contains("mean ARI over 1 images"),
        "{t}"
    );
    // A mask of the wrong size is a clear error for that image.
    std::fs::write(
        masks.join("a_mask.png"),
        tessera_imaging::encode_png_gray8(128, 128, &s.truth[..128 * 128]).unwrap(),
    )
    .unwrap();
    let o = tessera(&[
        "eval",
        images.to_str().unwrap(),
        "--masks",
        masks.to_str().unwrap(),
    ]);
    assert!(
        text(&o).contains("is 128 × 128, but its image is 256 × 256"),
        "{}",
        text(&o)
    );
}
