//! The classifier's feature space: the chip embedding centred and scaled to unit length,
//! beside the chip's intensity statistics, as the communities see them, but with the centre
//! and scale fixed at training.
//!
//! Fitted on the training frame, the space gives exactly the rows the community graph of
//! that frame is built on (`tessera_segment`'s features without PCA or context). Later
//! frames are measured with the training frame's centre and scale, not their own, so that a
//! class means the same thing on every frame, whatever the mix of phases in it.

use serde::{Deserialize, Serialize};
use tessera_graph::l2_normalize_rows;

use crate::FewShotError;

/// Smallest root-mean-square spread an intensity block is scaled by, as in the segmenter.
const MIN_SPREAD: f32 = 0.02;

/// The fixed centre and scale of the classifier's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpace {
    /// Width of an embedding row.
    pub embedding_dim: usize,
    /// The mean embedding row of the training frame.
    pub embedding_mean: Vec<f32>,
    /// The intensity block, when the classifier uses one.
    pub intensity: Option<IntensityScale>,
}

/// How the chip intensity statistics are centred and weighed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntensityScale {
    /// The mean statistics row of the training frame.
    pub mean: Vec<f32>,
    /// The factor a centred row is multiplied by (`weight / rms`).
    pub factor: f32,
}

impl FeatureSpace {
    /// The space of a training frame: `n` embedding rows `dim` wide and, when
    /// `intensity_weight > 0`, the chips' intensity statistics (`n × columns`).
    pub fn fit(
        embeddings: &[f32],
        n: usize,
        dim: usize,
        intensity: Option<(&[f32], usize)>,
        intensity_weight: f32,
    ) -> Result<Self, FewShotError> {
        check_rows("embedding", embeddings, n, dim)?;
        let embedding_mean = column_mean(embeddings, n, dim);
        let intensity = match intensity {
            Some((stats, cols)) if intensity_weight > 0.0 => {
                check_rows("intensity", stats, n, cols)?;
                let mean = column_mean(stats, n, cols);
                let total: f64 = stats
                    .chunks_exact(cols)
                    .flat_map(|row| row.iter().zip(&mean).map(|(v, m)| f64::from(v - m).powi(2)))
                    .sum();
                let rms = ((total / n as f64).sqrt() as f32).max(MIN_SPREAD);
                Some(IntensityScale {
                    mean,
                    factor: intensity_weight / rms,
                })
            }
            _ => None,
        };
        Ok(FeatureSpace {
            embedding_dim: dim,
            embedding_mean,
            intensity,
        })
    }

    /// Width of a projected row.
    pub fn width(&self) -> usize {
        self.embedding_dim + self.intensity.as_ref().map_or(0, |s| s.mean.len())
    }

    /// The unit-length rows of `n` chips in this space.
    pub fn project(
        &self,
        embeddings: &[f32],
        n: usize,
        intensity: Option<&[f32]>,
    ) -> Result<Vec<f32>, FewShotError> {
        let dim = self.embedding_dim;
        if embeddings.len() != n * dim {
            return Err(FewShotError::Features(format!(
                "{} embedding values do not make {n} rows of {dim}; the classifier was made \
                 with a {dim}-wide model, so use that model",
                embeddings.len()
            )));
        }
        let width = self.width();
        let mut rows = Vec::with_capacity(n * width);
        for row in embeddings.chunks_exact(dim) {
            let start = rows.len();
            rows.extend(row.iter().zip(&self.embedding_mean).map(|(v, m)| v - m));
            l2_normalize_rows(&mut rows[start..], dim);
            rows.resize(start + width, 0.0);
        }
        if let Some(scale) = &self.intensity {
            let cols = scale.mean.len();
            let stats = intensity.ok_or_else(|| {
                FewShotError::Features(
                    "the classifier weighs the chips' intensity statistics; pass them with \
                     the embeddings"
                        .into(),
                )
            })?;
            check_rows("intensity", stats, n, cols)?;
            for (row, s) in rows.chunks_exact_mut(width).zip(stats.chunks_exact(cols)) {
                for ((out, v), m) in row[dim..].iter_mut().zip(s).zip(&scale.mean) {
                    *out = (v - m) * scale.factor;
                }
            }
            l2_normalize_rows(&mut rows, width);
        }
        Ok(rows)
    }
}

fn check_rows(what: &str, v: &[f32], n: usize, cols: usize) -> Result<(), FewShotError> {
    if n == 0 || cols == 0 || v.len() != n * cols {
        return Err(FewShotError::Features(format!(
            "{} {what} values do not make {n} rows of {cols}",
            v.len()
        )));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(FewShotError::Features(format!(
            "the {what} rows hold NaN or infinite values"
        )));
    }
    Ok(())
}

fn column_mean(v: &[f32], n: usize, cols: usize) -> Vec<f32> {
    let mut mean = vec![0f64; cols];
    for row in v.chunks_exact(cols) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, x)| *m += f64::from(*x));
    }
    mean.iter().map(|m| (m / n as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_centred_on_the_training_frame_and_unit_length() {
        let e = [1.0, 0.0, 3.0, 0.0, 2.0, 2.0];
        let space = FeatureSpace::fit(&e, 3, 2, None, 0.0).unwrap();
        assert_eq!(space.embedding_mean, vec![2.0, 2.0 / 3.0]);
        let rows = space.project(&e, 3, None).unwrap();
        for r in rows.chunks_exact(2) {
            assert!(((r[0] * r[0] + r[1] * r[1]) - 1.0).abs() < 1e-5, "{r:?}");
        }
        // Another frame keeps the training centre: its own mean row is not at the origin.
        let other = space.project(&[5.0, 5.0], 1, None).unwrap();
        assert!(other[0] > 0.5 && other[1] > 0.5, "{other:?}");
    }

    #[test]
    fn a_model_of_another_width_is_refused_by_name() {
        let space = FeatureSpace::fit(&[1.0, 2.0, 3.0, 4.0], 2, 2, None, 0.0).unwrap();
        let e = space.project(&[1.0, 2.0, 3.0], 1, None).unwrap_err();
        assert!(e.to_string().contains("2-wide model"), "{e}");
    }

    #[test]
    fn the_intensity_block_is_weighed_and_required() {
        let e = [1.0, 0.0, 0.0, 1.0];
        let s = [0.2, 0.8];
        let space = FeatureSpace::fit(&e, 2, 2, Some((&s, 1)), 0.5).unwrap();
        assert_eq!(space.width(), 3);
        let rows = space.project(&e, 2, Some(&s)).unwrap();
        assert!(rows[2] < 0.0 && rows[5] > 0.0, "{rows:?}");
        assert!(space.project(&e, 2, None).is_err());
    }
}
