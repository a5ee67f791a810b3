//! Label propagation (Zhou et al. 2004): the examples' labels spread along the symmetric
//! k-NN graph over the frame's chips and the examples, `F ← α·S·F + (1 − α)·Y` with
//! `S = D^-½·W·D^-½`, until the spread settles.

use tessera_graph::{Graph, knn_cosine};

use crate::FewShotError;

/// How much of a chip's label comes from its neighbours rather than its own example label.
pub const ALPHA: f32 = 0.99;
/// Iterations: the labels travel one graph step per iteration.
pub const ITERATIONS: usize = 100;

/// Scores of the `n` frame chips (`n × n_classes`): `rows` holds the frame's chips then the
/// `m` examples (`(n + m) × dim`), the examples' classes in `classes`. A chip no label
/// reached scores 0 everywhere.
pub fn scores(
    rows: &[f32],
    dim: usize,
    n: usize,
    classes: &[usize],
    n_classes: usize,
    k: usize,
) -> Result<Vec<f32>, FewShotError> {
    let total = n + classes.len();
    let knn = knn_cosine(rows, total, dim, k.min(total - 1).max(1))?;
    let graph = Graph::from_knn(&knn)?;
    let inv_sqrt: Vec<f32> = (0..total)
        .map(|i| {
            let s = graph.strength(i) as f32;
            if s > 0.0 { 1.0 / s.sqrt() } else { 0.0 }
        })
        .collect();
    // Y: each class's examples share a unit of mass, so a class with more examples does not
    // outweigh the others.
    let mut counts = vec![0usize; n_classes];
    classes.iter().for_each(|&c| counts[c] += 1);
    let mut y = vec![0f32; total * n_classes];
    for (j, &c) in classes.iter().enumerate() {
        y[(n + j) * n_classes + c] = 1.0 / counts[c] as f32;
    }
    let mut f = y.clone();
    let mut next = vec![0f32; f.len()];
    for _ in 0..ITERATIONS {
        for i in 0..total {
            let (targets, weights) = graph.neighbors(i);
            let out = &mut next[i * n_classes..(i + 1) * n_classes];
            out.copy_from_slice(&y[i * n_classes..(i + 1) * n_classes]);
            out.iter_mut().for_each(|v| *v *= 1.0 - ALPHA);
            for (&j, &w) in targets.iter().zip(weights) {
                let s = ALPHA * w * inv_sqrt[i] * inv_sqrt[j as usize];
                let fj = &f[j as usize * n_classes..(j as usize + 1) * n_classes];
                out.iter_mut().zip(fj).for_each(|(o, v)| *o += s * v);
            }
        }
        std::mem::swap(&mut f, &mut next);
    }
    f.truncate(n * n_classes);
    for row in f.chunks_exact_mut(n_classes) {
        let sum: f32 = row.iter().sum();
        if sum > 1e-12 {
            row.iter_mut().for_each(|v| *v /= sum);
        } else {
            row.iter_mut().for_each(|v| *v = 0.0);
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_clusters() {
        // Two tight groups of three chips each, and one example in each group.
        let rows = [
            1.0, 0.0, 0.99, 0.14, 0.98, 0.2, //
            0.0, 1.0, 0.14, 0.99, 0.2, 0.98, //
            0.995, 0.1, 0.1, 0.995,
        ];
        let s = scores(&rows, 2, 6, &[0, 1], 2, 2).unwrap();
        for i in 0..3 {
            assert!(s[i * 2] > 0.5, "chip {i}: {s:?}");
            assert!(s[(i + 3) * 2 + 1] > 0.5, "chip {}: {s:?}", i + 3);
        }
    }
}
