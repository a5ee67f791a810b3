//! Image file bytes (PNG, JPEG, TIFF or anything else) through `tessera_imaging::decode`
//! with the default limits, as `tessera segment` and the instrument's file source call it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_imaging::{DecodeLimits, decode};

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts in its panic hook, before unwinding; the decoders catch a
    // third-party decoder's panic and return an error (the `guard` in decode.rs), which is
    // their contract. Restore the default hook once, so only a panic that escapes the call
    // (caught by libfuzzer-sys around this closure, which then aborts) counts as a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let _ = decode(data, &DecodeLimits::default());
});
