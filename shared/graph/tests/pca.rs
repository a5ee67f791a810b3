//! PCA projection.
mod common;

use common::TestRng;
use tessera_graph::{GraphError, pca};

/// Variance of each output column.
fn column_variances(p: &[f32], n: usize, c: usize) -> Vec<f64> {
    (0..c)
        .map(|j| {
            let mean = (0..n).map(|i| f64::from(p[i * c + j])).sum::<f64>() / n as f64;
            (0..n)
                .map(|i| (f64::from(p[i * c + j]) - mean).powi(2))
                .sum::<f64>()
                / n as f64
        })
        .collect()
}

#[test]
fn exact_path_finds_the_long_axis() {
    // 3-D points stretched along x (sd 5), then y (sd 2), z (sd 0.5), offset from the origin.
    let mut rng = TestRng(3);
    let n = 500;
    let data: Vec<f32> = (0..n)
        .flat_map(|_| {
            [
                10.0 + 5.0 * rng.normal(),
                -3.0 + 2.0 * rng.normal(),
                1.0 + 0.5 * rng.normal(),
            ]
        })
        .map(|v| v as f32)
        .collect();
    let p = pca(&data, n, 3, 2).unwrap();
    let mean_x = (0..n).map(|i| f64::from(data[i * 3])).sum::<f64>() / n as f64;
    for i in 0..n {
        // First component is the centred x coordinate up to sign (sign: largest loading > 0).
        assert!((f64::from(p[i * 2]) - (f64::from(data[i * 3]) - mean_x)).abs() < 0.3);
    }
    let v = column_variances(&p, n, 2);
    assert!(v[0] > v[1] && v[1] > 2.0);
}

#[test]
fn randomized_path_captures_low_rank_structure() {
    // Rank-6 signal plus small noise in 400 dimensions (above the exact-method limit).
    let (n, dim, rank) = (800, 400, 6);
    let mut rng = TestRng(5);
    let basis: Vec<f64> = (0..rank * dim).map(|_| rng.normal()).collect();
    let mut data = vec![0f32; n * dim];
    let mut total = 0.0;
    for i in 0..n {
        let coef: Vec<f64> = (0..rank)
            .map(|r| rng.normal() * (rank - r) as f64)
            .collect();
        for d in 0..dim {
            let x: f64 =
                (0..rank).map(|r| coef[r] * basis[r * dim + d]).sum::<f64>() + 0.01 * rng.normal();
            data[i * dim + d] = x as f32;
        }
    }
    let means: Vec<f64> = (0..dim)
        .map(|d| (0..n).map(|i| f64::from(data[i * dim + d])).sum::<f64>() / n as f64)
        .collect();
    for i in 0..n {
        for d in 0..dim {
            total += (f64::from(data[i * dim + d]) - means[d]).powi(2) / n as f64;
        }
    }
    let p = pca(&data, n, dim, rank).unwrap();
    let v = column_variances(&p, n, rank);
    assert!(v.windows(2).all(|w| w[0] >= w[1]), "{v:?}");
    let captured: f64 = v.iter().sum();
    assert!(captured > 0.999 * total, "captured {captured} of {total}");
    assert_eq!(p, pca(&data, n, dim, rank).unwrap());
}

#[test]
fn bad_input_is_named() {
    assert_eq!(
        pca(&[1.0; 6], 2, 3, 3).unwrap_err(),
        GraphError::BadComponents {
            components: 3,
            max: 2
        }
    );
    assert!(matches!(
        pca(&[1.0; 6], 2, 3, 0),
        Err(GraphError::BadComponents { .. })
    ));
    assert!(matches!(
        pca(&[1.0; 5], 2, 3, 1),
        Err(GraphError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        pca(&[1.0, f32::INFINITY], 1, 2, 1),
        Err(GraphError::NonFinite { row: 0, col: 1, .. })
    ));
}
