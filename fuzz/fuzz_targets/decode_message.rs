//! One payload through every protocol decoder with the default limits: `decode_acq` on each
//! acquisition subject, and `decode::<T>` for every other message kind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_protocol::{
    ChipBatch, DeadLetter, EmbeddingBatch, FrameProgress, FrameResult, Limits, Message, Reject,
    RunRecord, RunSeries, Segmented, ServiceStatus, decode, decode_acq,
};

/// The instrument of the seed messages (`fuzz/corpus/decode_message`).
const SUBJECTS: [&str; 3] = [
    "tessera.acq.titan-1.start",
    "tessera.acq.titan-1.frame",
    "tessera.acq.titan-1.stop",
];

fn dec<T: Message>(data: &[u8], limits: &Limits) {
    let _ = decode::<T>(data, limits);
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for subject in SUBJECTS {
        let _ = decode_acq(subject, data, &limits);
    }
    dec::<ChipBatch>(data, &limits);
    dec::<EmbeddingBatch>(data, &limits);
    dec::<Segmented>(data, &limits);
    dec::<FrameResult>(data, &limits);
    dec::<RunRecord>(data, &limits);
    dec::<RunSeries>(data, &limits);
    dec::<FrameProgress>(data, &limits);
    dec::<Reject>(data, &limits);
    dec::<DeadLetter>(data, &limits);
    dec::<ServiceStatus>(data, &limits);
});
