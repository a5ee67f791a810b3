//! The stored value: `dim` as u32 little-endian, then `dim` samples as f32 little-endian.
//! Anything else (wrong length, wrong `dim`) decodes as `None`, so a corrupt or foreign
//! value is a miss, never garbage.

/// Bytes in the header.
const HEADER: usize = 4;

/// Encodes an embedding as stored in the cache.
pub(crate) fn encode(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + values.len() * 4);
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Decodes a stored value, or `None` unless it holds exactly `dim` samples.
pub(crate) fn decode(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    let (header, body) = bytes.split_first_chunk::<HEADER>()?;
    if u32::from_le_bytes(*header) as usize != dim || body.len() != dim * 4 {
        return None;
    }
    Some(
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_bit_identical() {
        let v = [1.5f32, -0.0, f32::MIN_POSITIVE, f32::from_bits(0x7fc0_1234)];
        let back = decode(&encode(&v), 4).unwrap();
        assert!(v.iter().zip(&back).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn wrong_shapes_are_none() {
        let bytes = encode(&[1.0, 2.0, 3.0]);
        assert!(decode(&bytes, 2).is_none());
        assert!(decode(&bytes[..bytes.len() - 1], 3).is_none());
        assert!(decode(b"abc", 0).is_none());
        assert!(decode(b"garbage value here", 3).is_none());
        assert_eq!(decode(&encode(&[]), 0), Some(vec![]));
    }
}
