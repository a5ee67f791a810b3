//! Threshold graphs and community merges.
mod common;

use tessera_graph::{
    Cutoff, Graph, GraphError, merge_close_communities, merge_small_communities, merge_to_count,
    threshold_graph,
};

/// Unit vectors at the given angles (degrees).
fn circle(angles: &[f64]) -> Vec<f32> {
    angles
        .iter()
        .flat_map(|a| [a.to_radians().cos() as f32, a.to_radians().sin() as f32])
        .collect()
}

#[test]
fn threshold_graph_uses_histogram_mode() {
    // Cosines: (0,1) .985, (0,2) .940, (1,2) .985, (0,3) 0, (1,3) .174, (2,3) .342.
    // Ten bins: bin 9 holds three pairs, so the cutoff is its left edge, 0.9.
    let data = circle(&[0.0, 10.0, 20.0, 90.0]);
    let (g, cut) = threshold_graph(&data, 4, 2, Cutoff::HistogramMode { bins: 10 }).unwrap();
    assert!((cut - 0.9).abs() < 1e-6);
    assert_eq!(g.n_edges(), 3);
    assert_eq!(g.neighbors(0), (&[1u32, 2][..], &[1.0f32, 1.0][..]));
    assert!(g.neighbors(3).0.is_empty());
    let (g, cut) = threshold_graph(&data, 4, 2, Cutoff::Fixed(0.3)).unwrap();
    assert_eq!((g.n_edges(), cut), (4, 0.3));
    assert_eq!(
        threshold_graph(&data, 4, 2, Cutoff::HistogramMode { bins: 0 }).unwrap_err(),
        GraphError::ZeroBins
    );
    assert!(matches!(
        threshold_graph(&data, 4, 2, Cutoff::Fixed(f32::NAN)),
        Err(GraphError::BadCutoff(_))
    ));
}

#[test]
fn threshold_graph_across_tiles() {
    let (data, _) = common::mixture(4, 150, 16, 0.7, 2);
    let n = 600;
    let (g, cut) = threshold_graph(&data, n, 16, Cutoff::Fixed(0.5)).unwrap();
    let mut expected = 0;
    for i in 0..n {
        for j in i + 1..n {
            let d: f32 = (0..16).map(|t| data[i * 16 + t] * data[j * 16 + t]).sum();
            if d > cut + 1e-5 {
                expected += 1;
                assert!(g.neighbors(i).0.contains(&(j as u32)));
            }
        }
    }
    assert!(g.n_edges() >= expected && g.n_edges() < expected + 20);
}

#[test]
fn small_communities_join_a_neighbouring_one() {
    // A: nodes 0-3 near 0°, B: nodes 4-7 near 90°, C: node 8 at 10° (close to A) but linked
    // only to B, D: node 9 at 80° with no edges, so it joins the most similar overall (B).
    let data = circle(&[0.0, 2.0, 4.0, 6.0, 90.0, 88.0, 86.0, 84.0, 10.0, 80.0]);
    let labels = [5, 5, 5, 5, 7, 7, 7, 7, 1, 2];
    let g = Graph::from_edges(10, &[(0, 1, 1.0), (4, 5, 1.0), (8, 4, 1.0)]).unwrap();
    let out = merge_small_communities(&labels, &data, 10, 2, &g, 2).unwrap();
    assert_eq!(out, vec![1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    // Without the edge C joins A, the closer centroid.
    let g = Graph::from_edges(10, &[(0, 1, 1.0)]).unwrap();
    let out = merge_small_communities(&labels, &data, 10, 2, &g, 2).unwrap();
    assert_eq!(out, vec![0, 0, 0, 0, 1, 1, 1, 1, 0, 1]);
    // min_size 1 changes nothing but the canonical numbering.
    assert_eq!(
        merge_small_communities(&labels, &data, 10, 2, &g, 1).unwrap(),
        vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 3]
    );
    assert_eq!(
        merge_small_communities(&labels[..9], &data, 10, 2, &g, 2).unwrap_err(),
        GraphError::LabelCount { labels: 9, n: 10 }
    );
    let small = Graph::from_edges(3, &[]).unwrap();
    assert!(matches!(
        merge_small_communities(&labels, &data, 10, 2, &small, 2),
        Err(GraphError::GraphSize { .. })
    ));
}

#[test]
fn close_communities_merge_agglomeratively() {
    // Centroids at 0°, 8°, 16° and 90°: 0/8 merge first (ties go to the lower pair), then
    // the merged centroid (4°) with 16° (cos 12° = .978); 90° stays apart.
    let data = circle(&[0.0, 8.0, 16.0, 90.0]);
    let out = merge_close_communities(&[3, 2, 1, 0], &data, 4, 2, 0.97).unwrap();
    assert_eq!(out, vec![0, 0, 0, 1]);
    let out = merge_close_communities(&[3, 2, 1, 0], &data, 4, 2, 0.995).unwrap();
    assert_eq!(out, vec![0, 1, 2, 3]);
    assert_eq!(
        merge_close_communities(&[0, 0, 1, 1], &data, 4, 2, -1.0).unwrap(),
        vec![0; 4]
    );
    assert!(merge_close_communities(&[0; 4], &data, 4, 2, f32::NAN).is_err());
}

#[test]
fn merging_to_a_count_joins_the_closest_first() {
    // Four singletons at 0, 10, 50 and 90 degrees: 0 and 10 go first, then 50 and 90.
    let data = circle(&[0.0, 10.0, 50.0, 90.0]);
    let three = merge_to_count(&[0, 1, 2, 3], &data, 4, 2, 3).unwrap();
    assert_eq!(three[0], three[1]);
    assert_eq!(
        three
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3
    );
    let two = merge_to_count(&[0, 1, 2, 3], &data, 4, 2, 2).unwrap();
    assert_eq!(
        (two[0] == two[1], two[2] == two[3], two[0] != two[2]),
        (true, true, true)
    );
    let many = merge_to_count(&[0, 1, 2, 3], &data, 4, 2, 9).unwrap();
    assert_eq!(
        many,
        vec![0, 1, 2, 3],
        "fewer communities than asked: nothing to merge"
    );
}
