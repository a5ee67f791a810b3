//! What the command-line tests share: running the real `tessera` binary and reading what it
//! printed, and a synthetic scene with the strokes a user might draw on it.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use tessera_imaging::encode_png_gray16;
use tessera_synth::{NoiseLevel, SceneConfig, SynthImage, generate, to_u16};

/// Runs `tessera` with `args` and waits for it.
pub(crate) fn tessera(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("running tessera")
}

/// Everything the run printed, standard output then standard error.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An order–disorder scene `size` pixels square, written as a 16-bit PNG.
pub(crate) fn scene(path: &Path, size: usize, seed: u64) -> SynthImage {
    let s = generate(&SceneConfig {
        width: size,
        height: size,
        seed,
        noise: NoiseLevel::Medium,
        ..SceneConfig::default()
    })
    .unwrap();
    std::fs::write(
        path,
        encode_png_gray16(size, size, &to_u16(&s.pixels)).unwrap(),
    )
    .unwrap();
    s
}

/// Strokes a user might draw: two-pixel vertical lines every 48 px, carrying the truth class
/// as 10 (crystal) or 20 (disordered), where the line is at least 16 px inside its region.
pub(crate) fn scribble(s: &SynthImage, size: usize) -> Vec<u8> {
    let mut mask = vec![0u8; size * size];
    for y in 16..size - 16 {
        for x in (24..size).step_by(48) {
            for x in [x, x + 1] {
                let t = s.truth[y * size + x];
                let inside = (0..=16).all(|d| s.truth[(y - 16 + 2 * d) * size + x] == t);
                if inside {
                    mask[y * size + x] = 10 * (t + 1);
                }
            }
        }
    }
    mask
}
