//! Bytes through `tessera_imaging::decode_labels_tiff` (the uint16 label-map reader).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts in its panic hook, before unwinding; the decoders catch a
    // third-party decoder's panic and return an error (the `guard` in decode.rs), which is
    // their contract. Restore the default hook once, so only a panic that escapes the call
    // (caught by libfuzzer-sys around this closure, which then aborts) counts as a crash.
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| drop(std::panic::take_hook()));
    let _ = tessera_imaging::decode_labels_tiff(data);
});
