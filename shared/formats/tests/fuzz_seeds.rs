//! The seed corpus of the `read_instrument_file` fuzz target
//! (`fuzz/corpus/read_instrument_file`), through the same call, so CI checks it without
//! `cargo fuzz`: every file must read or be refused with an error, never panic. `valid-*`
//! seeds must read; `bad-*` seeds must be refused. The seeds are written by the generators
//! in `shared/formats/tests/seeds/`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tessera_formats::{NoCompanions, ReadLimits, read};

#[test]
fn read_instrument_file_seeds_never_panic() {
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../fuzz/corpus/read_instrument_file",
    ]
    .iter()
    .collect();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no seeds in {}", dir.display());
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        let result = read(&name, &bytes, &NoCompanions, &ReadLimits::default());
        if name.starts_with("valid-") {
            assert!(result.is_ok(), "{name}: {result:?}");
        } else if name.starts_with("bad-") {
            let err = result.err().unwrap_or_else(|| panic!("{name} was read"));
            assert!(!err.to_string().is_empty());
        }
    }
}
