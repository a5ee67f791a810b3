//! The seed corpus of the `decode_message` fuzz target (`fuzz/corpus/decode_message`) through
//! the same decoders, so CI checks it without `cargo fuzz`: every file goes through
//! `decode_acq` on each acquisition subject and `decode::<T>` for every other kind, and must
//! never panic. A `valid-<kind>*` seed must decode as at least one kind.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tessera_protocol::{
    ChipBatch, DeadLetter, EmbeddingBatch, FrameProgress, FrameResult, Limits, Message, Reject,
    RunRecord, RunSeries, Segmented, ServiceStatus, decode, decode_acq,
};

/// The instrument of the seed messages, as in `fuzz/fuzz_targets/decode_message.rs`.
const SUBJECTS: [&str; 3] = [
    "tessera.acq.titan-1.start",
    "tessera.acq.titan-1.frame",
    "tessera.acq.titan-1.stop",
];

fn ok<T: Message>(bytes: &[u8], limits: &Limits) -> bool {
    decode::<T>(bytes, limits).is_ok()
}

/// Everything the fuzz target does; returns how many decoders accepted `bytes`.
fn decode_all(bytes: &[u8]) -> usize {
    let limits = Limits::default();
    let acq = SUBJECTS
        .iter()
        .filter(|s| decode_acq(s, bytes, &limits).is_ok())
        .count();
    let others = [
        ok::<ChipBatch>(bytes, &limits),
        ok::<EmbeddingBatch>(bytes, &limits),
        ok::<Segmented>(bytes, &limits),
        ok::<FrameResult>(bytes, &limits),
        ok::<RunRecord>(bytes, &limits),
        ok::<RunSeries>(bytes, &limits),
        ok::<FrameProgress>(bytes, &limits),
        ok::<Reject>(bytes, &limits),
        ok::<DeadLetter>(bytes, &limits),
        ok::<ServiceStatus>(bytes, &limits),
    ];
    acq + others.iter().filter(|&&b| b).count()
}

#[test]
fn decode_message_seeds_never_panic() {
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../fuzz/corpus/decode_message",
    ]
    .iter()
    .collect();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let accepted = decode_all(&std::fs::read(&path).unwrap());
        if name.starts_with("valid-") {
            assert!(accepted > 0, "{name} decodes as no message kind");
        }
        seen += 1;
    }
    assert!(seen > 0, "no seeds in {}", dir.display());
}
