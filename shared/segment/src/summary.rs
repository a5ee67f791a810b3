//! Per-community statistics: chip count, area fraction and where it sits.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows of the label map per parallel task.
const ROWS_PER_TASK: usize = 64;

/// One community of a segmentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Community {
    /// Its label in the label map (0 is the community with the most chips).
    pub id: u32,
    /// Chips assigned to it.
    pub chips: usize,
    /// Fraction of the image's pixels that carry its label.
    pub area_fraction: f64,
    /// Mean pixel position `[x, y]` of its pixels.
    pub centroid_px: [f64; 2],
    /// Mean unit-length chip feature (the graph's space), for matching communities across
    /// frames. Not written to reports.
    #[serde(skip)]
    pub feature_centroid: Vec<f32>,
}

/// Summarises the communities of a pixel label map and the chip partition behind it;
/// `centroids` are the communities' unit-length feature centroids (`n_communities × dim`).
pub fn summarize(
    width: usize,
    labels: &[u32],
    chip_labels: &[u32],
    centroids: &[f32],
    dim: usize,
    n_communities: usize,
) -> Vec<Community> {
    // Integer sums, so that the order in which rayon's threads add their bands never
    // changes a bit of the result.
    let width = width.max(1);
    let band = |(b, rows): (usize, &[u32])| {
        let mut acc = vec![[0u64; 3]; n_communities];
        for (dy, row) in rows.chunks_exact(width).enumerate() {
            let y = (b * ROWS_PER_TASK + dy) as u64;
            for (x, &l) in row.iter().enumerate() {
                if let Some(a) = acc.get_mut(l as usize) {
                    a[0] += 1;
                    a[1] += x as u64;
                    a[2] += y;
                }
            }
        }
        acc
    };
    let sums = labels
        .par_chunks(width * ROWS_PER_TASK)
        .enumerate()
        .map(band)
        .reduce(
            || vec![[0u64; 3]; n_communities],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    (0..3).for_each(|i| x[i] += y[i]);
                }
                a
            },
        );
    let mut chips = vec![0usize; n_communities];
    for &l in chip_labels {
        chips[l as usize] += 1;
    }
    let total = labels.len().max(1) as f64;
    (0..n_communities)
        .map(|c| {
            let [count, sum_x, sum_y] = sums[c];
            let p = count.max(1) as f64;
            Community {
                id: c as u32,
                chips: chips[c],
                area_fraction: count as f64 / total,
                centroid_px: [sum_x as f64 / p, sum_y as f64 / p],
                feature_centroid: centroids[c * dim..(c + 1) * dim].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_centroids_of_a_split_image() {
        // 4 × 2 image: left half label 0, right half label 1.
        let labels = [0, 0, 1, 1, 0, 0, 1, 1];
        let feats = [1.0, 0.0, 0.0, 1.0];
        let centroids = crate::confidence::community_centroids(&feats, 2, &[0, 1], 2);
        let c = summarize(4, &labels, &[0, 1], &centroids, 2, 2);
        assert_eq!(c[0].area_fraction, 0.5);
        assert_eq!(c[1].centroid_px, [2.5, 0.5]);
        assert_eq!(c[0].chips, 1);
        assert_eq!(c[1].feature_centroid, vec![0.0, 1.0]);
    }
}
