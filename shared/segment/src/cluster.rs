//! Embeddings to chip communities: normalise, optionally project, build the graph, detect
//! communities, merge the ones too small or too alike, and number them canonically.

use serde::{Deserialize, Serialize};
use tessera_graph::{self as graph, Cutoff, Graph, LeidenConfig, LouvainConfig};

use crate::{Algorithm, GraphKind, SegmentError, SegmentParams, Timings};

/// Communities of chips.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipPartition {
    /// Community of each chip, numbered by size (0 is the largest).
    pub labels: Vec<u32>,
    /// Number of communities.
    pub n_communities: usize,
    /// The similarity cutoff of a threshold graph.
    pub cutoff: Option<f32>,
    /// Modularity of the detected partition on its graph, before merging.
    pub modularity: f64,
    /// The unit-length (and projected, with PCA) embeddings the graph was built on.
    #[serde(skip)]
    pub features: Vec<f32>,
    /// Width of a row of `features`.
    pub dim: usize,
}

/// Finds communities among `n` chips with `dim`-wide `embeddings`.
pub fn cluster(
    embeddings: &[f32],
    n: usize,
    dim: usize,
    params: &SegmentParams,
    timings: &mut Timings,
) -> Result<ChipPartition, SegmentError> {
    params.validate()?;
    if n == 0 || dim == 0 || embeddings.len() != n * dim {
        return Err(SegmentError::Embedding(format!(
            "{} embedding values do not make {n} rows of {dim}",
            embeddings.len()
        )));
    }
    if embeddings.iter().any(|v| !v.is_finite()) {
        return Err(SegmentError::Embedding(
            "the model returned NaN or infinite values; check the model and its manifest's \
             normalisation"
                .into(),
        ));
    }
    let (features, dim) = timings.time("features", || -> Result<_, SegmentError> {
        let mut f = embeddings.to_vec();
        if params.center {
            center_columns(&mut f, n, dim);
        }
        graph::l2_normalize_rows(&mut f, dim);
        match params.pca {
            Some(c) if c < dim && c < n => {
                let mut p = graph::pca(&f, n, dim, c)?;
                graph::l2_normalize_rows(&mut p, c);
                Ok((p, c))
            }
            _ => Ok((f, dim)),
        }
    })?;
    if n == 1 {
        return Ok(ChipPartition {
            labels: vec![0],
            n_communities: 1,
            cutoff: None,
            modularity: 0.0,
            features,
            dim,
        });
    }
    let (g, cutoff) = timings.time("graph", || -> Result<(Graph, Option<f32>), SegmentError> {
        Ok(match params.graph {
            GraphKind::Knn { k } => {
                let knn = graph::knn_cosine(&features, n, dim, k.min(n - 1))?;
                (Graph::from_knn(&knn)?, None)
            }
            GraphKind::Threshold => {
                let (g, c) =
                    graph::threshold_graph(&features, n, dim, Cutoff::HistogramMode { bins: 100 })?;
                (g, Some(c))
            }
        })
    })?;
    let partition = timings.time("communities", || match params.algorithm {
        Algorithm::Leiden => graph::leiden(
            &g,
            &LeidenConfig {
                resolution: params.resolution,
                seed: params.seed,
                ..LeidenConfig::default()
            },
        ),
        Algorithm::Louvain => graph::louvain(
            &g,
            &LouvainConfig {
                resolution: params.resolution,
                seed: params.seed,
                ..LouvainConfig::default()
            },
        ),
    })?;
    let modularity = graph::modularity(&g, &partition.labels, params.resolution)?;
    let labels = timings.time("merge", || -> Result<Vec<u32>, SegmentError> {
        let mut labels = partition.labels;
        if params.min_community > 1 {
            labels = graph::merge_small_communities(
                &labels,
                &features,
                n,
                dim,
                &g,
                params.min_community,
            )?;
        }
        if let Some(s) = params.merge_similarity {
            labels = graph::merge_close_communities(&labels, &features, n, dim, s)?;
        }
        Ok(graph::canonical_labels(&labels))
    })?;
    let n_communities = labels.iter().max().map_or(0, |m| *m as usize + 1);
    Ok(ChipPartition {
        labels,
        n_communities,
        cutoff,
        modularity,
        features,
        dim,
    })
}

/// Subtracts the mean row from every row.
fn center_columns(data: &mut [f32], n: usize, dim: usize) {
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += f64::from(*v));
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    for row in data.chunks_exact_mut(dim) {
        row.iter_mut().zip(&mean).for_each(|(v, m)| *v -= m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centring_removes_the_mean_row() {
        let mut d = vec![1.0, 10.0, 3.0, 14.0];
        center_columns(&mut d, 2, 2);
        assert_eq!(d, vec![-1.0, -2.0, 1.0, 2.0]);
    }

    #[test]
    fn two_clear_groups_become_two_communities() {
        // 20 chips near one direction, 20 near another, in 8 dimensions.
        let mut e = Vec::new();
        for i in 0..40 {
            let mut row = vec![0.1f32; 8];
            row[if i < 20 { 0 } else { 1 }] = 5.0 + (i % 7) as f32 * 0.1;
            row[2 + i % 5] += 0.3;
            e.extend(row);
        }
        let p = cluster(
            &e,
            40,
            8,
            &SegmentParams::default(),
            &mut Timings::default(),
        )
        .unwrap();
        assert_eq!(p.n_communities, 2);
        assert!(p.labels[..20].iter().all(|&l| l == p.labels[0]));
        assert!(p.labels[20..].iter().all(|&l| l == p.labels[20]));
        assert_ne!(p.labels[0], p.labels[20]);
    }

    #[test]
    fn non_finite_embeddings_are_refused() {
        let e = vec![f32::NAN; 16];
        let err = cluster(&e, 2, 8, &SegmentParams::default(), &mut Timings::default());
        assert!(err.unwrap_err().to_string().contains("NaN"));
    }
}
