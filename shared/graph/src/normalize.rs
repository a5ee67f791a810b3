//! Row normalisation and the input checks shared by every function that reads embeddings.

use crate::GraphError;

/// Scales every row of a row-major `? × dim` matrix to unit L2 norm, in place.
///
/// Rows whose norm is zero stay zero. A trailing partial row (when `data.len()` is not a
/// multiple of `dim`) is left untouched, and `dim == 0` does nothing.
pub fn l2_normalize_rows(data: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in data.chunks_exact_mut(dim) {
        let norm = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 && norm.is_finite() {
            let inv = (1.0 / norm) as f32;
            row.iter_mut().for_each(|v| *v *= inv);
        }
    }
}

/// Checks that `data` is an `n × dim` matrix of finite values that u32 node ids can address.
pub fn check_matrix(data: &[f32], n: usize, dim: usize) -> Result<(), GraphError> {
    if dim == 0 {
        return Err(GraphError::ZeroDim);
    }
    let expected = n.saturating_mul(dim);
    if data.len() != expected {
        return Err(GraphError::ShapeMismatch {
            len: data.len(),
            n,
            dim,
            expected,
        });
    }
    check_node_count(n)?;
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(GraphError::NonFinite {
            row: pos / dim,
            col: pos % dim,
            value: data[pos],
        });
    }
    Ok(())
}

/// Checks that `n` nodes fit u32 ids.
pub(crate) fn check_node_count(n: usize) -> Result<(), GraphError> {
    let max = u32::MAX as usize;
    if n > max {
        return Err(GraphError::TooManyNodes { n, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_keeps_zero_rows() {
        let mut d = vec![3.0, 4.0, 0.0, 0.0, 1.0, 0.0];
        l2_normalize_rows(&mut d, 2);
        assert_eq!(d, vec![0.6, 0.8, 0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn bad_shapes_and_values_are_named() {
        assert_eq!(
            check_matrix(&[1.0; 5], 2, 3).unwrap_err(),
            GraphError::ShapeMismatch {
                len: 5,
                n: 2,
                dim: 3,
                expected: 6
            }
        );
        assert_eq!(check_matrix(&[], 0, 0).unwrap_err(), GraphError::ZeroDim);
        let err = check_matrix(&[1.0, 2.0, f32::NAN, 4.0], 2, 2).unwrap_err();
        assert!(matches!(err, GraphError::NonFinite { row: 1, col: 0, .. }));
        assert!(err.to_string().contains("row 1, column 0"));
    }
}
