//! Instrument file bytes (DM3/DM4, SER/EMI, BCF, MRC, TIFF, PNG, JPEG, gzip or anything
//! else) through `tessera_formats::read` with the default limits and no companion files, as
//! `tessera segment`, `tessera info` and `tessera publish` call it.
//!
//! HDF5 input (EMD, HyperSpy) is skipped: libhdf5 (Debian's 1.10.8) crashes and loops on
//! damaged files inside C code, which is why the `tessera` command reads HDF5 files in a child
//! process (`tessera_instrument::files`); fuzzing it in-process finds libhdf5's bugs, not
//! ours. The EMD reader's own checks are covered by its tests and the `bad-emd-*` seeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_formats::{FileFormat, NoCompanions, ReadLimits, read, sniff};

fuzz_target!(|data: &[u8]| {
    // As in decode_image: only a panic that escapes the call counts as a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    if sniff(data, "fuzz").is_ok_and(|f| f == FileFormat::Hdf5) {
        return;
    }
    let _ = read("fuzz", data, &NoCompanions, &ReadLimits::default());
});
