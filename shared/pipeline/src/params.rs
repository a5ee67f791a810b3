//! Wire parameters ([`WireParams`], every field optional) to `SegmentParams` and back.
//!
//! A run start may leave any field unset; [`resolve`] fills it from the preset. Downstream
//! of ingest every message carries [`resolved_wire`]: every field set, the stride resolved
//! for the frame, so no later service depends on its own defaults.

use tessera_protocol::{AlgorithmWire, GraphWire, Preset, SplitWire, WireParams};
use tessera_segment::{Algorithm, GraphKind, SegmentParams, Split};

use crate::PipelineError;

/// k of a k-NN graph when a run asks for one without saying k.
const DEFAULT_K: usize = 30;

/// The segmentation parameters `wire` asks for: the preset's values, overridden by every
/// field that is set. Checked with `SegmentParams::validate`.
pub fn resolve(wire: &WireParams) -> Result<SegmentParams, PipelineError> {
    let mut p = match wire.preset {
        Some(Preset::Graphem) => SegmentParams::graphem(),
        Some(Preset::Default) | None => SegmentParams::default(),
    };
    if let Some(v) = wire.chip {
        p.chip = v as usize;
    }
    if let Some(v) = wire.stride {
        p.stride = Some(v as usize);
    }
    if let Some(v) = wire.low_percentile {
        p.low_percentile = v;
    }
    if let Some(v) = wire.high_percentile {
        p.high_percentile = v;
    }
    if let Some(v) = wire.center {
        p.center = v;
    }
    if let Some(v) = wire.pca {
        p.pca = Some(v as usize);
    }
    let k = wire.k.map(|k| k as usize);
    p.graph = match (wire.graph, p.graph) {
        (Some(GraphWire::Threshold), _) => GraphKind::Threshold,
        (Some(GraphWire::Knn), GraphKind::Knn { k: old }) => GraphKind::Knn {
            k: k.unwrap_or(old),
        },
        (Some(GraphWire::Knn), GraphKind::Threshold) => GraphKind::Knn {
            k: k.unwrap_or(DEFAULT_K),
        },
        (None, GraphKind::Knn { k: old }) => GraphKind::Knn {
            k: k.unwrap_or(old),
        },
        (None, GraphKind::Threshold) => GraphKind::Threshold,
    };
    if let Some(v) = wire.algorithm {
        p.algorithm = match v {
            AlgorithmWire::Leiden => Algorithm::Leiden,
            AlgorithmWire::Louvain => Algorithm::Louvain,
        };
    }
    if let Some(v) = wire.resolution {
        p.resolution = v;
    }
    if let Some(v) = wire.seed {
        p.seed = v;
    }
    if let Some(v) = wire.min_community {
        p.min_community = v as usize;
    }
    if let Some(v) = wire.merge_similarity {
        p.merge_similarity = Some(v);
    }
    if let Some(v) = wire.confidence_vote {
        p.confidence_vote = v;
    }
    if let Some(v) = wire.split {
        p.split = match v {
            SplitWire::Fixed => Split::Fixed,
            SplitWire::Coherent => Split::Coherent,
            SplitWire::Plateau => Split::Plateau,
            SplitWire::Neighbours => Split::Neighbours,
            SplitWire::Seeds => Split::Seeds,
        };
    }
    if let Some(v) = wire.communities {
        p.communities = Some(v as usize);
    }
    for (field, value) in [
        (&mut p.coherence, wire.coherence),
        (&mut p.intensity_weight, wire.intensity_weight),
        (&mut p.context, wire.context),
        (&mut p.refine, wire.refine),
        (&mut p.refine_sigma, wire.refine_sigma),
        (&mut p.flatten, wire.flatten),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    p.validate()
        .map_err(|e| PipelineError::Params(e.to_string()))?;
    Ok(p)
}

/// `params` as they travel downstream of ingest: every field set, `stride` the one laid on
/// this frame, `model` the model that embeds it. The classifier is not a segmentation
/// parameter: the caller sets the run's ([`WireParams::classifier`]).
pub fn resolved_wire(params: &SegmentParams, stride: usize, model: &str) -> WireParams {
    let (graph, k) = match params.graph {
        GraphKind::Knn { k } => (GraphWire::Knn, Some(k as u32)),
        GraphKind::Threshold => (GraphWire::Threshold, None),
    };
    WireParams {
        preset: None,
        chip: Some(params.chip as u32),
        stride: Some(stride as u32),
        low_percentile: Some(params.low_percentile),
        high_percentile: Some(params.high_percentile),
        center: Some(params.center),
        pca: params.pca.map(|v| v as u32),
        graph: Some(graph),
        k,
        algorithm: Some(match params.algorithm {
            Algorithm::Leiden => AlgorithmWire::Leiden,
            Algorithm::Louvain => AlgorithmWire::Louvain,
        }),
        resolution: Some(params.resolution),
        seed: Some(params.seed),
        min_community: Some(params.min_community as u32),
        merge_similarity: params.merge_similarity,
        confidence_vote: Some(params.confidence_vote),
        split: Some(match params.split {
            Split::Fixed => SplitWire::Fixed,
            Split::Coherent => SplitWire::Coherent,
            Split::Plateau => SplitWire::Plateau,
            Split::Neighbours => SplitWire::Neighbours,
            Split::Seeds => SplitWire::Seeds,
        }),
        communities: params.communities.map(|v| v as u32),
        coherence: Some(params.coherence),
        intensity_weight: Some(params.intensity_weight),
        context: Some(params.context),
        refine: Some(params.refine),
        refine_sigma: Some(params.refine_sigma),
        flatten: Some(params.flatten),
        model: Some(model.to_string()),
        classifier: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_wire_params_are_the_defaults() {
        assert_eq!(
            resolve(&WireParams::default()).unwrap(),
            SegmentParams::default()
        );
    }

    #[test]
    fn graphem_preset_with_overrides() {
        let wire = WireParams {
            preset: Some(Preset::Graphem),
            chip: Some(32),
            stride: Some(16),
            ..Default::default()
        };
        let p = resolve(&wire).unwrap();
        assert_eq!(p.graph, GraphKind::Threshold);
        assert_eq!(p.algorithm, Algorithm::Louvain);
        assert_eq!((p.chip, p.stride), (32, Some(16)));
    }

    #[test]
    fn resolved_round_trip_is_exact() {
        for base in [SegmentParams::default(), SegmentParams::graphem()] {
            let mut p = base.clone();
            p.pca = Some(16);
            p.merge_similarity = Some(0.9);
            let wire = resolved_wire(&p, 32, "tiny");
            let back = resolve(&wire).unwrap();
            assert_eq!(
                back,
                SegmentParams {
                    stride: Some(32),
                    ..p
                }
            );
        }
    }

    #[test]
    fn k_alone_sets_the_knn_k() {
        let wire = WireParams {
            k: Some(7),
            ..Default::default()
        };
        assert_eq!(resolve(&wire).unwrap().graph, GraphKind::Knn { k: 7 });
    }

    #[test]
    fn invalid_combinations_are_refused() {
        let wire = WireParams {
            chip: Some(32),
            stride: Some(64),
            ..Default::default()
        };
        assert!(matches!(resolve(&wire), Err(PipelineError::Params(_))));
    }
}
