//! k-NN against brute force.
mod common;

use common::TestRng;
use tessera_graph::{GraphError, knn_cosine};

/// Brute force: all dot products, sorted by (similarity desc, index asc).
fn brute(data: &[f32], n: usize, dim: usize, k: usize) -> (Vec<u32>, Vec<f32>) {
    let k = k.min(n - 1);
    let (mut idx, mut sims) = (Vec::new(), Vec::new());
    for i in 0..n {
        let mut all: Vec<(f32, u32)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let d: f64 = (0..dim)
                    .map(|t| f64::from(data[i * dim + t]) * f64::from(data[j * dim + t]))
                    .sum();
                (d as f32, j as u32)
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(s, j) in &all[..k] {
            sims.push(s);
            idx.push(j);
        }
    }
    (idx, sims)
}

#[test]
fn exact_on_integer_data_with_many_ties() {
    // Small integers make every dot product exact, so the comparison is exact, ties included.
    for &(n, dim, k, seed) in &[
        (2, 3, 1, 1),
        (5, 3, 10, 2),
        (100, 4, 3, 3),
        (257, 17, 10, 4),
        (600, 64, 7, 5),
        (300, 300, 15, 6),
    ] {
        let mut rng = TestRng(seed);
        let data: Vec<f32> = (0..n * dim)
            .map(|_| (rng.next_u64() % 5) as f32 - 2.0)
            .collect();
        let knn = knn_cosine(&data, n, dim, k).unwrap();
        let (idx, sims) = brute(&data, n, dim, k);
        assert_eq!(knn.k, k.min(n - 1));
        assert_eq!(knn.indices, idx, "n={n} dim={dim} k={k}");
        assert_eq!(knn.similarities, sims, "n={n} dim={dim} k={k}");
    }
}

#[test]
fn exact_with_large_tiles() {
    // From 8192 rows on, tiles are 512 rows a side; check a sample of rows exactly.
    let (n, dim, k) = (8300, 5, 12);
    let mut rng = TestRng(9);
    let data: Vec<f32> = (0..n * dim)
        .map(|_| (rng.next_u64() % 7) as f32 - 3.0)
        .collect();
    let knn = knn_cosine(&data, n, dim, k).unwrap();
    for i in (0..n).step_by(97).chain([n - 1]) {
        let mut all: Vec<(f32, u32)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                (
                    (0..dim)
                        .map(|t| data[i * dim + t] * data[j * dim + t])
                        .sum(),
                    j as u32,
                )
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let expected: Vec<u32> = all[..k].iter().map(|p| p.1).collect();
        assert_eq!(&knn.indices[i * k..(i + 1) * k], &expected[..], "row {i}");
    }
}

#[test]
fn duplicate_rows_tie_by_lower_index() {
    let data = vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    let knn = knn_cosine(&data, 4, 2, 2).unwrap();
    assert_eq!(knn.indices, vec![1, 2, 0, 2, 0, 1, 0, 1]);
}

#[test]
fn matches_brute_force_on_normalised_floats() {
    for &(n, dim, k) in &[(300, 32, 10), (520, 130, 5)] {
        let (data, _) = common::mixture(6, n / 6, dim, 0.8, 7);
        let n = data.len() / dim;
        let knn = knn_cosine(&data, n, dim, k).unwrap();
        let (_, sims) = brute(&data, n, dim, k);
        for (a, b) in knn.similarities.iter().zip(&sims) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(
            knn.indices
                .chunks(k)
                .enumerate()
                .all(|(i, row)| row.iter().all(|&j| j as usize != i))
        );
    }
}

#[test]
fn independent_of_thread_count() {
    let (data, _) = common::mixture(5, 200, 48, 1.0, 11);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let a = one.install(|| knn_cosine(&data, 1000, 48, 10).unwrap());
    let b = knn_cosine(&data, 1000, 48, 10).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_input_is_named() {
    assert_eq!(
        knn_cosine(&[0.0; 6], 2, 3, 0).unwrap_err(),
        GraphError::ZeroK
    );
    assert!(matches!(
        knn_cosine(&[0.0; 5], 2, 3, 1).unwrap_err(),
        GraphError::ShapeMismatch { expected: 6, .. }
    ));
    let err = knn_cosine(&[0.0, 1.0, f32::NAN, 0.0], 2, 2, 1).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    assert_eq!(knn_cosine(&[1.0], 1, 1, 3).unwrap().k, 0);
}
