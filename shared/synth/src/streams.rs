//! Independent random streams, so that one part of a scene (say, the noise) can change
//! without reshuffling the others.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Region shapes and random scene parameters.
pub(crate) const GEOMETRY: u64 = 1;
/// Thermal jitter and amplitudes of crystal atoms.
pub(crate) const CRYSTAL: u64 = 2;
/// Positions and amplitudes of disordered atoms.
pub(crate) const DISORDER: u64 = 3;
/// Scan-line jitter.
pub(crate) const SCAN: u64 = 4;
/// Detector noise.
pub(crate) const NOISE: u64 = 5;
/// Mosaic layout and texture offsets.
pub(crate) const MOSAIC: u64 = 6;

/// A ChaCha8 generator for `seed` on stream `stream`.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}
