//! Instrument file bytes (DM3/DM4, EMD/HDF5, SER/EMI, BCF, MRC, TIFF, PNG, JPEG, gzip or
//! anything else) through `tessera_formats::read` with the default limits and no companion
//! files, as `tessera segment`, `tessera info` and `tessera publish` call it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_formats::{NoCompanions, ReadLimits, read};

fuzz_target!(|data: &[u8]| {
    // As in decode_image: only a panic that escapes the call counts as a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let _ = read("fuzz", data, &NoCompanions, &ReadLimits::default());
});
