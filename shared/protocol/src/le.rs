//! Raw little-endian sample buffers: the byte fields of the messages and their typed views.
//!
//! Every conversion checks the length first and returns a [`ProtocolError::Bytes`] that says
//! how many bytes were expected; none of them panics.

use crate::ProtocolError;

/// `values` as little-endian `f32` bytes.
pub fn f32s_to_le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `values` as little-endian `u32` bytes.
pub fn u32s_to_le_bytes(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads little-endian `f32`s. With `expected = Some(n)`, the buffer must hold exactly `n`.
pub fn le_bytes_to_f32s(
    what: &'static str,
    bytes: &[u8],
    expected: Option<u64>,
) -> Result<Vec<f32>, ProtocolError> {
    check_len(what, bytes.len(), 4, expected)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Reads little-endian `u32`s. With `expected = Some(n)`, the buffer must hold exactly `n`.
pub fn le_bytes_to_u32s(
    what: &'static str,
    bytes: &[u8],
    expected: Option<u64>,
) -> Result<Vec<u32>, ProtocolError> {
    check_len(what, bytes.len(), 4, expected)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Checks that `len` bytes hold a whole number of `width`-byte values, `expected` of them if
/// given.
pub(crate) fn check_len(
    what: &'static str,
    len: usize,
    width: usize,
    expected: Option<u64>,
) -> Result<(), ProtocolError> {
    if width == 0 || len % width != 0 {
        return Err(ProtocolError::Bytes {
            what,
            reason: format!(
                "{len} bytes is not a multiple of {width}; send whole little-endian values"
            ),
        });
    }
    if let Some(n) = expected {
        let want = n.checked_mul(width as u64);
        if want != Some(len as u64) {
            return Err(ProtocolError::Bytes {
                what,
                reason: format!(
                    "{len} bytes hold {} values, but the message declares {n} \
                     ({} bytes); the counts and the buffer must agree",
                    len / width,
                    want.map_or_else(|| "too many".to_owned(), |w| w.to_string())
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lengths() {
        let v = [0.0f32, 0.5, 1.0, -2.25];
        let b = f32s_to_le_bytes(&v);
        assert_eq!(b.len(), 16);
        assert_eq!(le_bytes_to_f32s("x", &b, Some(4)).unwrap(), v);
        assert_eq!(le_bytes_to_f32s("x", &b, None).unwrap(), v);
        assert!(le_bytes_to_f32s("x", &b[..15], None).is_err());
        let e = le_bytes_to_f32s("chips", &b, Some(5))
            .unwrap_err()
            .to_string();
        assert!(e.contains("chips") && e.contains("declares 5"), "{e}");
        assert!(le_bytes_to_f32s("x", &b, Some(u64::MAX)).is_err());
        let u = [1u32, 70000, u32::MAX];
        assert_eq!(
            le_bytes_to_u32s("x", &u32s_to_le_bytes(&u), Some(3)).unwrap(),
            u
        );
    }
}
