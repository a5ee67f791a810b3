//! How sure each chip is of its community: the margin by which its feature is closer (in
//! cosine) to its own community's centroid than to the nearest other one.
//!
//! Chips that straddle two regions sit between centroids and get a small margin; chips well
//! inside a region get a large one. Used as pixel-vote weights, margins let clean chips
//! outvote mixed ones near boundaries, instead of mixed chips painting a band of a third
//! community along every boundary.

use ndarray::ArrayView2;

/// Smallest weight a chip keeps, so that every pixel still has a vote.
pub const MIN_WEIGHT: f32 = 1e-3;

/// The unit-length mean feature of each community (`n_communities × dim`), from unit-length
/// chip `features` (`n × dim`) and their `labels`. A community with a zero sum stays zero.
pub fn community_centroids(
    features: &[f32],
    dim: usize,
    labels: &[u32],
    n_communities: usize,
) -> Vec<f32> {
    let mut centroids = vec![0f32; n_communities * dim];
    for (row, &l) in features.chunks_exact(dim).zip(labels) {
        let c = &mut centroids[l as usize * dim..(l as usize + 1) * dim];
        c.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
    for c in centroids.chunks_exact_mut(dim) {
        let norm = c.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            c.iter_mut().for_each(|v| *v /= norm);
        }
    }
    centroids
}

/// Per-chip vote weights from unit-length `features` (`n × dim`), their `labels` and the
/// communities' [`community_centroids`]. The chip-to-centroid cosines are one matrix product
/// (`features · centroidsᵀ`, through ndarray's GEMM): on 4096 chips of 2048-d ResNet50 features
/// the loop of dot products it replaced took a third of a second.
pub fn chip_confidence(
    features: &[f32],
    dim: usize,
    labels: &[u32],
    centroids: &[f32],
) -> Vec<f32> {
    let n = labels.len().min(features.len() / dim.max(1));
    let k = centroids.len() / dim.max(1);
    let f = ArrayView2::from_shape((n, dim), &features[..n * dim])
        .expect("the slice holds exactly n rows of dim");
    let c = ArrayView2::from_shape((k, dim), &centroids[..k * dim])
        .expect("the slice holds exactly k rows of dim");
    let scores = f.dot(&c.t());
    scores
        .outer_iter()
        .zip(labels)
        .map(|(row, &l)| {
            let mut own = 0.0f32;
            let mut other = f32::NEG_INFINITY;
            for (j, &s) in row.iter().enumerate() {
                if j == l as usize {
                    own = s;
                } else {
                    other = other.max(s);
                }
            }
            margin(own, other)
        })
        .collect()
}

/// A chip's vote weight from its cosine to its own community's centroid (`own`) and the
/// largest to any other (`other`, −∞ when there is no other community).
pub fn margin(own: f32, other: f32) -> f32 {
    let margin = if other.is_finite() { own - other } else { own };
    margin.max(MIN_WEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chip_between_two_centroids_is_less_sure_than_one_inside() {
        let s = std::f32::consts::FRAC_1_SQRT_2;
        // Two clean chips per community, plus one mixed chip assigned to community 0.
        let features = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, s, s];
        let labels = [0, 0, 1, 1, 0];
        let w = chip_confidence(
            &features,
            2,
            &labels,
            &community_centroids(&features, 2, &labels, 2),
        );
        assert!(w[4] < w[0] / 2.0, "{w:?}");
        assert!(w.iter().all(|v| *v >= MIN_WEIGHT));
    }
}
