//! Prototypes: each class is the unit-length mean of its examples; a chip's scores are a
//! softmax over its cosines to them.

use tessera_graph::l2_normalize_rows;

use super::{dot, softmax};

/// Softmax temperature over cosines: a cosine 0.1 closer to one class than another makes
/// that class e (2.7) times as likely.
pub const TEMPERATURE: f32 = 0.1;

/// The class means (`n_classes × dim`, unit length) of `rows` (`m × dim`) by `classes`.
pub fn fit(rows: &[f32], dim: usize, classes: &[usize], n_classes: usize) -> Vec<f32> {
    let mut means = vec![0f32; n_classes * dim];
    for (row, &c) in rows.chunks_exact(dim).zip(classes) {
        means[c * dim..(c + 1) * dim]
            .iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += v);
    }
    l2_normalize_rows(&mut means, dim);
    means
}

/// Each row's cosine to each prototype (`n × n_classes`).
pub fn cosines(rows: &[f32], dim: usize, prototypes: &[f32]) -> Vec<f32> {
    rows.chunks_exact(dim)
        .flat_map(|row| prototypes.chunks_exact(dim).map(move |p| dot(row, p)))
        .collect()
}

/// Scores from [`cosines`]: a softmax per row at [`TEMPERATURE`].
pub fn scores(cosines: &[f32], n_classes: usize) -> Vec<f32> {
    let mut s = cosines.to_vec();
    s.chunks_exact_mut(n_classes)
        .for_each(|row| softmax(row, TEMPERATURE));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_mean_scores_highest() {
        let rows = [1.0, 0.0, 0.8, 0.6, 0.0, 1.0];
        let p = fit(&rows, 2, &[0, 0, 1], 2);
        let s = scores(&cosines(&[0.9, 0.1, 0.1, 0.9], 2, &p), 2);
        assert!(s[0] > 0.9 && s[3] > 0.9, "{s:?}");
        assert!((s[0] + s[1] - 1.0).abs() < 1e-6);
    }
}
