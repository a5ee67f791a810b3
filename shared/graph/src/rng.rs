//! A small seeded random number generator (xoshiro256++ seeded through SplitMix64).
//!
//! Kept in-crate so that results depend only on the seed and never on a dependency's version.

/// Chunk length of [`Rng::local_shuffle`].
pub(crate) const LOCAL_BLOCK: usize = 32;

/// Deterministic pseudo-random generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the generator; equal seeds give equal streams.
    pub(crate) fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// Next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..bound` (`bound > 0`), by Lemire's multiply-shift.
    pub(crate) fn below(&mut self, bound: u32) -> u32 {
        let m = u64::from(self.next_u64() as u32) * u64::from(bound);
        (m >> 32) as u32
    }

    /// Shuffles a slice while keeping memory locality: chunks of [`LOCAL_BLOCK`]
    /// consecutive entries are put in a random order, and each chunk is shuffled inside.
    /// When the entries are ids that follow the graph's structure (see `order`), consecutive
    /// visits then touch nearby memory, which is several times faster than a uniform shuffle
    /// on large graphs.
    pub(crate) fn local_shuffle(&mut self, items: &mut [u32], scratch: &mut Vec<u32>) {
        let chunks = items.len().div_ceil(LOCAL_BLOCK);
        if chunks > 1 {
            let mut chunk_order: Vec<u32> = (0..chunks as u32).collect();
            self.shuffle(&mut chunk_order);
            scratch.clear();
            for &c in &chunk_order {
                let lo = c as usize * LOCAL_BLOCK;
                scratch.extend_from_slice(&items[lo..(lo + LOCAL_BLOCK).min(items.len())]);
            }
            items.copy_from_slice(scratch);
        }
        for chunk in items.chunks_mut(LOCAL_BLOCK) {
            self.shuffle(chunk);
        }
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below((i + 1) as u32) as usize;
            items.swap(i, j);
        }
    }
}
