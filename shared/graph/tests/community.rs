//! Modularity, Leiden and Louvain.
mod common;

use tessera_graph::{
    Graph, GraphError, LeidenConfig, LouvainConfig, canonical_labels, leiden, louvain, modularity,
};

fn two_triangles() -> Graph {
    let e = [(0, 1), (0, 2), (1, 2), (3, 4), (3, 5), (4, 5), (2, 3)];
    Graph::from_edges(6, &e.map(|(a, b)| (a, b, 1.0))).expect("valid edges")
}

#[test]
fn modularity_of_two_triangles_by_hand() {
    // m = 7; each triangle has internal A-sum 6 and total degree 7:
    // Q = 2 · (6/14 − (7/14)²) = 5/14; with γ = 2, Q = 6/7 − 2 · 1/2 = −1/7.
    let g = two_triangles();
    let labels = [0, 0, 0, 1, 1, 1];
    assert!((modularity(&g, &labels, 1.0).unwrap() - 5.0 / 14.0).abs() < 1e-12);
    assert!((modularity(&g, &labels, 2.0).unwrap() + 1.0 / 7.0).abs() < 1e-12);
    // Everything in one community: 1 − 1 = 0.
    assert!(modularity(&g, &[9; 6], 1.0).unwrap().abs() < 1e-12);
    assert_eq!(
        modularity(&g, &[0; 5], 1.0).unwrap_err(),
        GraphError::LabelCount { labels: 5, n: 6 }
    );
}

#[test]
fn both_split_two_triangles() {
    let g = two_triangles();
    assert_eq!(
        leiden(&g, &LeidenConfig::default()).unwrap().labels,
        vec![0, 0, 0, 1, 1, 1]
    );
    assert_eq!(
        louvain(&g, &LouvainConfig::default()).unwrap().labels,
        vec![0, 0, 0, 1, 1, 1]
    );
}

#[test]
fn recover_planted_partitions() {
    for seed in 1..4 {
        let (g, truth) = common::sbm(5, 60, 0.3, 0.01, seed);
        let truth = canonical_labels(&truth);
        let p = leiden(
            &g,
            &LeidenConfig {
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.labels, truth, "leiden, seed {seed}");
        assert_eq!(p.n_communities, 5);
        let p = louvain(
            &g,
            &LouvainConfig {
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.labels, truth, "louvain, seed {seed}");
    }
}

#[test]
fn recover_clusters_of_a_weighted_knn_graph() {
    let (data, truth) = common::mixture(6, 150, 24, 0.6, 5);
    let knn = tessera_graph::knn_cosine(&data, 900, 24, 10).unwrap();
    let g = Graph::from_knn(&knn).unwrap();
    let p = leiden(&g, &LeidenConfig::default()).unwrap();
    assert_eq!(p.labels, canonical_labels(&truth));
}

#[test]
fn deterministic_for_a_seed() {
    let (g, _) = common::sbm(8, 50, 0.12, 0.03, 9);
    let cfg = LeidenConfig {
        seed: 7,
        ..Default::default()
    };
    let a = leiden(&g, &cfg).unwrap();
    assert_eq!(a, leiden(&g, &cfg).unwrap());
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    assert_eq!(a, one.install(|| leiden(&g, &cfg).unwrap()));
    let lc = LouvainConfig {
        seed: 7,
        ..Default::default()
    };
    assert_eq!(louvain(&g, &lc).unwrap(), louvain(&g, &lc).unwrap());
}

#[test]
fn leiden_at_least_as_good_as_louvain_on_sbm() {
    for seed in 1..6 {
        let (g, _) = common::sbm(10, 60, 0.1, 0.02, 100 + seed);
        let ql = modularity(
            &g,
            &leiden(
                &g,
                &LeidenConfig {
                    seed,
                    ..Default::default()
                },
            )
            .unwrap()
            .labels,
            1.0,
        )
        .unwrap();
        let qv = modularity(
            &g,
            &louvain(
                &g,
                &LouvainConfig {
                    seed,
                    ..Default::default()
                },
            )
            .unwrap()
            .labels,
            1.0,
        )
        .unwrap();
        assert!(ql >= qv - 1e-9, "seed {seed}: leiden {ql} < louvain {qv}");
    }
}

#[test]
fn leiden_communities_are_connected() {
    let (g, _) = common::sbm(10, 40, 0.08, 0.03, 77);
    let p = leiden(&g, &LeidenConfig::default()).unwrap();
    for c in 0..p.n_communities as u32 {
        let members: Vec<usize> = (0..g.n_nodes()).filter(|&v| p.labels[v] == c).collect();
        let mut seen = vec![false; g.n_nodes()];
        let mut stack = vec![members[0]];
        seen[members[0]] = true;
        while let Some(v) = stack.pop() {
            for &u in g.neighbors(v).0 {
                if p.labels[u as usize] == c && !seen[u as usize] {
                    seen[u as usize] = true;
                    stack.push(u as usize);
                }
            }
        }
        assert!(
            members.iter().all(|&v| seen[v]),
            "community {c} is disconnected"
        );
    }
}

#[test]
fn resolution_and_edge_cases() {
    let (g, _) = common::sbm(4, 50, 0.3, 0.02, 3);
    let coarse = leiden(
        &g,
        &LeidenConfig {
            resolution: 0.05,
            ..Default::default()
        },
    )
    .unwrap();
    let fine = leiden(
        &g,
        &LeidenConfig {
            resolution: 4.0,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(coarse.n_communities < 4 && fine.n_communities > 4);
    let one = leiden(
        &g,
        &LeidenConfig {
            max_iterations: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(one.labels.len(), 200);
    let empty = Graph::from_edges(3, &[]).unwrap();
    assert_eq!(
        leiden(&empty, &LeidenConfig::default())
            .unwrap()
            .n_communities,
        3
    );
    assert_eq!(
        louvain(&empty, &LouvainConfig::default())
            .unwrap()
            .n_communities,
        3
    );
    assert_eq!(
        leiden(
            &Graph::from_edges(0, &[]).unwrap(),
            &LeidenConfig::default()
        )
        .unwrap()
        .n_communities,
        0
    );
    for bad in [f64::NAN, -1.0] {
        let err = leiden(
            &g,
            &LeidenConfig {
                resolution: bad,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("resolution"), "{err}");
    }
    assert!(
        leiden(
            &g,
            &LeidenConfig {
                randomness: 0.0,
                ..Default::default()
            }
        )
        .is_err()
    );
    assert!(
        leiden(
            &g,
            &LeidenConfig {
                max_iterations: Some(0),
                ..Default::default()
            }
        )
        .is_err()
    );
}
