//! Chips and comparisons for the encoder tests.

/// `n` deterministic, textured chips of side `chip` with values in [0, 1], each different.
pub fn textured(n: usize, chip: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    (0..n * chip * chip)
        .map(|i| {
            let (k, y, x) = (i / (chip * chip), (i / chip) % chip, i % chip);
            let wave = ((x + 2 * y) as f32 * (0.2 + 0.15 * k as f32)).sin();
            (0.5 + 0.3 * wave + 0.2 * (noise() - 0.5)).clamp(0.0, 1.0)
        })
        .collect()
}

/// Largest difference between two embedding sets, relative to the largest magnitude.
pub fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "embedding sets of different sizes");
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let gap = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    gap / scale
}
