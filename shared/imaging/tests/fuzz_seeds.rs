//! The seed corpora of the image fuzz targets (`fuzz/corpus/decode_image` and
//! `fuzz/corpus/decode_labels_tiff`) through the same decoders, so CI checks them without
//! `cargo fuzz`: every file must decode or be refused with an error, never panic. The `valid-*`
//! seeds must decode.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use tessera_imaging::{DecodeLimits, decode, decode_labels_tiff};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../fuzz/corpus", target]
        .iter()
        .collect();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p: PathBuf| (name(&p), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn decode_image_seeds_never_panic() {
    for (name, bytes) in seeds("decode_image") {
        let result = decode(&bytes, &DecodeLimits::default());
        if name.starts_with("valid-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
}

#[test]
fn decode_labels_tiff_seeds_never_panic() {
    for (name, bytes) in seeds("decode_labels_tiff") {
        let result = decode_labels_tiff(&bytes);
        if name.starts_with("valid-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }
}
