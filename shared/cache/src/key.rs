//! [`ChipKey`]: the cache key of one chip under one model.

use std::fmt;

use xxhash_rust::xxh3::Xxh3;

/// The fixed part in front of every key: `tessera:emb:`.
pub const KEY_NAMESPACE: &str = "tessera:emb:";

/// The cache key of one chip's embedding under one model:
/// `tessera:emb:<model-digest>:<32 hex digits>`.
///
/// The hex digits are the 128-bit XXH3 (seed 0) of the chip's content, hashed as the bytes
/// `side as u64, little-endian` followed by every sample as `f32::to_le_bytes`, in order.
/// Little-endian is fixed, so the key is the same on every process and machine, and the same
/// chip under another model digest gets another key. Samples are hashed bit for bit: `-0.0`
/// and `0.0`, or two NaN payloads, are different chips.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChipKey {
    key: String,
    hash: u128,
}

impl ChipKey {
    /// The key of `chip` (row-major samples of a `side`×`side` chip, channels included if
    /// any) under the model whose weights hash to `model_digest`.
    pub fn new(model_digest: &str, chip: &[f32], side: usize) -> Self {
        let hash = content_hash(chip, side);
        let key = format!("{KEY_NAMESPACE}{model_digest}:{hash:032x}");
        Self { key, hash }
    }

    /// The full Redis key.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The 128-bit content hash (the last 32 hex digits of the key).
    pub fn content_hash(&self) -> u128 {
        self.hash
    }

    /// The model digest part of the key.
    pub fn model_digest(&self) -> &str {
        // `<namespace><digest>:<32 hex>`: both ends have fixed widths.
        let end = self.key.len() - 33;
        &self.key[KEY_NAMESPACE.len()..end]
    }
}

impl fmt::Display for ChipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

impl fmt::Debug for ChipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChipKey({})", self.key)
    }
}

/// XXH3-128 of `side` (u64 LE) then the samples (f32 LE), streamed in 4 KiB blocks.
fn content_hash(chip: &[f32], side: usize) -> u128 {
    const BLOCK: usize = 1024;
    let mut hasher = Xxh3::new();
    hasher.update(&(side as u64).to_le_bytes());
    let mut buf = [0u8; BLOCK * 4];
    for block in chip.chunks(BLOCK) {
        for (dst, s) in buf.chunks_exact_mut(4).zip(block) {
            dst.copy_from_slice(&s.to_le_bytes());
        }
        hasher.update(&buf[..block.len() * 4]);
    }
    hasher.digest128()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_matches_one_shot() {
        let chip: Vec<f32> = (0..5000).map(|i| i as f32 * 0.25).collect();
        let mut bytes = 7u64.to_le_bytes().to_vec();
        for s in &chip {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        assert_eq!(content_hash(&chip, 7), xxhash_rust::xxh3::xxh3_128(&bytes));
    }

    #[test]
    fn digest_is_recovered() {
        let k = ChipKey::new("sha256:ab:cd", &[1.0, 2.0], 1);
        assert_eq!(k.model_digest(), "sha256:ab:cd");
        assert_eq!(
            k.as_str().len(),
            KEY_NAMESPACE.len() + "sha256:ab:cd".len() + 33
        );
    }
}
