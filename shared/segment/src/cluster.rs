//! Embeddings to chip communities: normalise, optionally project, build the graph, detect
//! communities, merge the ones too small or too alike, and number them canonically.

use serde::{Deserialize, Serialize};
use tessera_graph::{self as graph, Cutoff, Graph, LeidenConfig, LouvainConfig};

use crate::{
    Algorithm, DenseSteps, GraphKind, HostSteps, SegmentError, SegmentParams, Timings,
    features::{FeatureBlock, INTENSITY, concat_rows, context_mean, scale_block},
    selection::{self, Cut},
};

/// Statistics measured on the image under the chip grid, `n × columns` each (see
/// [`crate::features`]); `None` where not measured.
#[derive(Debug, Clone, Default)]
pub struct ChipStats {
    /// [`crate::features::intensity_stats`].
    pub intensity: Option<Vec<f32>>,
    /// The chip grid's shape (chips are in row-major order).
    pub shape: Option<GridShape>,
}

/// The shape of a chip grid, for features and criteria that look at grid neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridShape {
    /// Chips per row.
    pub cols: usize,
    /// Rows of chips.
    pub rows: usize,
    /// Grid steps per chip side (`chip / stride`, at least 1).
    pub steps_per_chip: usize,
}

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
    /// The resolution of the cut (chosen per image unless the split is fixed).
    pub resolution: f64,
    /// The unit-length (and projected, with PCA) embeddings the graph was built on.
    #[serde(skip)]
    pub features: Vec<f32>,
    /// Width of a row of `features`.
    pub dim: usize,
    /// The feature blocks behind `features`, with their weights.
    #[serde(skip)]
    pub blocks: Vec<FeatureBlock>,
}

/// Finds communities among `n` chips with `dim`-wide `embeddings`.
pub fn cluster(
    embeddings: &[f32],
    n: usize,
    dim: usize,
    params: &SegmentParams,
    timings: &mut Timings,
) -> Result<ChipPartition, SegmentError> {
    cluster_with(embeddings, n, dim, &ChipStats::default(), params, timings)
}

/// [`cluster`] with the image's chip statistics, which parameters that weigh them need.
pub fn cluster_with(
    embeddings: &[f32],
    n: usize,
    dim: usize,
    stats: &ChipStats,
    params: &SegmentParams,
    timings: &mut Timings,
) -> Result<ChipPartition, SegmentError> {
    cluster_on(&mut HostSteps, embeddings, n, dim, stats, params, timings)
}

/// [`cluster_with`], its k-NN search run by `steps` (see [`crate::dense`]).
pub fn cluster_on(
    steps: &mut dyn DenseSteps,
    embeddings: &[f32],
    n: usize,
    dim: usize,
    stats: &ChipStats,
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
    let raw_dim = dim;
    let (features, dim, blocks) =
        timings.time("features", || features(embeddings, n, dim, stats, params))?;
    if n == 1 {
        return Ok(ChipPartition {
            labels: vec![0],
            n_communities: 1,
            cutoff: None,
            modularity: 0.0,
            resolution: params.resolution,
            features,
            dim,
            blocks,
        });
    }
    let (g, cutoff) = timings.time("graph", || -> Result<(Graph, Option<f32>), SegmentError> {
        Ok(match params.graph {
            GraphKind::Knn { k } => {
                let knn = steps.knn(&features, n, dim, k.min(n - 1))?;
                (Graph::from_knn(&knn)?, None)
            }
            GraphKind::Threshold => {
                let (g, c) =
                    graph::threshold_graph(&features, n, dim, Cutoff::HistogramMode { bins: 100 })?;
                (g, Some(c))
            }
        })
    })?;
    let detect = |resolution: f64, seed: u64| -> Result<(Cut, f64), SegmentError> {
        let partition = match params.algorithm {
            Algorithm::Leiden => graph::leiden(
                &g,
                &LeidenConfig {
                    resolution,
                    seed,
                    ..LeidenConfig::default()
                },
            ),
            Algorithm::Louvain => graph::louvain(
                &g,
                &LouvainConfig {
                    resolution,
                    seed,
                    ..LouvainConfig::default()
                },
            ),
        }?;
        let modularity = graph::modularity(&g, &partition.labels, resolution)?;
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
        let labels = graph::canonical_labels(&labels);
        let count = labels.iter().max().map_or(0, |m| *m as usize + 1);
        Ok((
            Cut {
                resolution,
                labels,
                count,
            },
            modularity,
        ))
    };
    let (cut, mut modularity) = timings.time("communities", || {
        selection::split(
            params,
            stats.shape,
            &detect,
            |labels, count| {
                Ok(graph::canonical_labels(&graph::merge_to_count(
                    labels, &features, n, dim, count,
                )?))
            },
            |labels| selection::least_distinct(labels, embeddings, raw_dim),
        )
    })?;
    let Cut {
        labels, resolution, ..
    } = cut;
    if labels.iter().all(|&l| l == 0) {
        // One community (one phase, or a sweep that found one): the partition's modularity,
        // not that of a cut it replaced.
        modularity = graph::modularity(&g, &labels, resolution)?;
    }
    let n_communities = labels.iter().max().map_or(0, |m| *m as usize + 1);
    Ok(ChipPartition {
        labels,
        n_communities,
        cutoff,
        modularity,
        resolution,
        features,
        dim,
        blocks,
    })
}

/// The unit-length rows the graph is built on: the CNN block (centred, normalised, maybe
/// projected), then each weighted statistics block, normalised again as one row.
fn features(
    embeddings: &[f32],
    n: usize,
    dim: usize,
    stats: &ChipStats,
    params: &SegmentParams,
) -> Result<(Vec<f32>, usize, Vec<FeatureBlock>), SegmentError> {
    let mut f = embeddings.to_vec();
    if params.center {
        center_columns(&mut f, n, dim);
    }
    graph::l2_normalize_rows(&mut f, dim);
    let (mut f, mut width) = match params.pca {
        Some(c) if c < dim && c < n => {
            let mut p = graph::pca(&f, n, dim, c)?;
            graph::l2_normalize_rows(&mut p, c);
            (p, c)
        }
        _ => (f, dim),
    };
    let mut blocks = vec![FeatureBlock {
        name: "cnn",
        columns: width,
        column_names: Vec::new(),
        weight: 1.0,
    }];
    let wanted = [(
        "intensity",
        &INTENSITY[..],
        params.intensity_weight,
        &stats.intensity,
    )];
    let mut extra: Vec<(Vec<f32>, usize)> = Vec::new();
    for (name, columns, weight, values) in wanted {
        if weight <= 0.0 {
            continue;
        }
        let Some(values) = values else {
            return Err(SegmentError::Params(format!(
                "{name}_weight {weight} needs the image's {name} statistics; segment with \
                 the image (finish_image) or set the weight to 0"
            )));
        };
        let cols = columns.len();
        if values.len() != n * cols {
            return Err(SegmentError::Embedding(format!(
                "{} {name} values do not make {n} rows of {cols}",
                values.len()
            )));
        }
        let mut b = values.clone();
        scale_block(&mut b, n, cols, weight);
        extra.push((b, cols));
        blocks.push(FeatureBlock {
            name,
            columns: cols,
            column_names: columns.to_vec(),
            weight,
        });
    }
    if !extra.is_empty() {
        let views: Vec<(&[f32], usize)> = extra.iter().map(|(b, c)| (&b[..], *c)).collect();
        f = concat_rows(&f, width, &views, n);
        width += views.iter().map(|(_, c)| c).sum::<usize>();
        graph::l2_normalize_rows(&mut f, width);
    }
    if params.context > 0.0
        && let Some(shape) = stats.shape
        && shape.cols * shape.rows == n
    {
        let mut g = context_mean(&f, width, shape);
        graph::l2_normalize_rows(&mut g, width);
        g.iter_mut().for_each(|v| *v *= params.context);
        f = concat_rows(&f, width, &[(&g, width)], n);
        blocks.push(FeatureBlock {
            name: "context",
            columns: width,
            column_names: Vec::new(),
            weight: params.context,
        });
        width *= 2;
        graph::l2_normalize_rows(&mut f, width);
    }
    Ok((f, width, blocks))
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

    /// 20 chips near one direction, 20 near another, in 8 dimensions.
    fn two_groups() -> Vec<f32> {
        let mut e = Vec::new();
        for i in 0..40 {
            let mut row = vec![0.1f32; 8];
            row[if i < 20 { 0 } else { 1 }] = 5.0 + (i % 7) as f32 * 0.1;
            row[2 + i % 5] += 0.3;
            e.extend(row);
        }
        e
    }

    /// Graph-only parameters: no image statistics, one fixed cut.
    fn graph_only() -> SegmentParams {
        SegmentParams {
            intensity_weight: 0.0,
            split: crate::Split::Fixed,
            ..SegmentParams::default()
        }
    }

    #[test]
    fn a_forced_count_is_met() {
        for want in [1, 2, 3] {
            let p = SegmentParams {
                communities: Some(want),
                ..graph_only()
            };
            let got = cluster(&two_groups(), 40, 8, &p, &mut Timings::default()).unwrap();
            assert_eq!(got.n_communities, want);
        }
    }

    #[test]
    fn weighing_intensity_without_the_image_is_an_error_that_says_so() {
        let p = SegmentParams {
            split: crate::Split::Fixed,
            ..SegmentParams::default()
        };
        let err = cluster(&two_groups(), 40, 8, &p, &mut Timings::default()).unwrap_err();
        assert!(err.to_string().contains("intensity_weight"), "{err}");
    }

    #[test]
    fn two_clear_groups_become_two_communities() {
        let e = two_groups();
        let p = cluster(&e, 40, 8, &graph_only(), &mut Timings::default()).unwrap();
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
