//! Small dense linear algebra in f64: a Jacobi eigensolver and Gram–Schmidt.

/// Eigen-decomposition of a symmetric `d × d` matrix (row-major) by cyclic Jacobi rotations.
///
/// Returns eigenvalues sorted descending (ties by original index) and the matching unit
/// eigenvectors as the columns of a row-major `d × d` matrix.
pub(crate) fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        if off.sqrt() <= 1e-15 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&x, &y| a[y * d + y].total_cmp(&a[x * d + x]).then(x.cmp(&y)));
    let values = order.iter().map(|&i| a[i * d + i]).collect();
    let mut vectors = vec![0f64; d * d];
    for (c, &i) in order.iter().enumerate() {
        for r in 0..d {
            vectors[r * d + c] = v[r * d + i];
        }
    }
    (values, vectors)
}

/// Orthonormalises the columns of a row-major `rows × cols` matrix in place (modified
/// Gram–Schmidt, two passes). A column that collapses to zero is left zero.
pub(crate) fn orthonormalize_columns(m: &mut [f64], rows: usize, cols: usize) {
    for c in 0..cols {
        for _pass in 0..2 {
            for p in 0..c {
                let dot: f64 = (0..rows).map(|r| m[r * cols + c] * m[r * cols + p]).sum();
                for r in 0..rows {
                    m[r * cols + c] -= dot * m[r * cols + p];
                }
            }
        }
        let norm = (0..rows)
            .map(|r| m[r * cols + c].powi(2))
            .sum::<f64>()
            .sqrt();
        let inv = if norm > 1e-300 { 1.0 / norm } else { 0.0 };
        for r in 0..rows {
            m[r * cols + c] *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_of_known_matrix() {
        // [[2,1],[1,2]] has eigenvalues 3 and 1.
        let (vals, vecs) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
        assert!((vecs[0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
        assert!((vecs[0] * vecs[1] + vecs[2] * vecs[3]).abs() < 1e-12);
    }
}
