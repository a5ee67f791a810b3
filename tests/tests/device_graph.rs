//! The chip graph's dense steps as ONNX graphs (`tessera-device-graph`), run on the CPU
//! provider of the real runtime, against the host's: the same k-NN lists (up to neighbours
//! that are equally near to rounding), the same margins, and the same segmentation.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use tessera_device_graph::DeviceSteps;
use tessera_embedding::ExecutionProvider;
use tessera_graph::{Knn, knn_cosine};
use tessera_segment::{
    SegmentParams, confidence::chip_confidence, confidence::community_centroids, segment,
    segment_on,
};
use tessera_synth::{NoiseLevel, SceneConfig, SceneKind, adjusted_rand_index};
use tessera_tests::{clustered_unit_rows, deployed_encoder, runtime, scene};

/// `n × dim` unit rows in `clusters` loose groups, with rows 5 and 9 exact copies of row 2
/// (ties broken by index).
fn rows(n: usize, dim: usize, clusters: usize) -> Vec<f32> {
    let mut data = clustered_unit_rows(n, dim, clusters, 0.3, 0x2545_f491_4f6c_dd1d);
    for copy in [5, 9] {
        let row2 = data[2 * dim..3 * dim].to_vec();
        data[copy * dim..(copy + 1) * dim].copy_from_slice(&row2);
    }
    data
}

fn dot(data: &[f32], dim: usize, i: usize, j: usize) -> f32 {
    let (a, b) = (&data[i * dim..(i + 1) * dim], &data[j * dim..(j + 1) * dim]);
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Asserts that `device` lists the host's neighbours: where an index differs, the one the
/// device chose is as near (to 1e-5) as the host's at that rank. Returns how many differ.
fn assert_same_lists(data: &[f32], dim: usize, host: &Knn, device: &Knn) -> usize {
    assert_eq!(
        (host.k, host.indices.len()),
        (device.k, device.indices.len())
    );
    let mut differ = 0;
    for (e, (&h, &d)) in host.indices.iter().zip(&device.indices).enumerate() {
        let row = e / host.k;
        let (hs, ds) = (host.similarities[e], device.similarities[e]);
        assert!(
            (hs - ds).abs() < 1e-5,
            "row {row}: cosine {ds} on the device, {hs} here"
        );
        assert_ne!(d as usize, row, "row {row} lists itself");
        if h != d {
            differ += 1;
            let near = dot(data, dim, row, d as usize);
            assert!(
                (near - hs).abs() < 1e-5,
                "row {row}: the device chose {d} (cosine {near}), the host {h} ({hs})"
            );
        }
    }
    differ
}

#[test]
fn the_device_knn_lists_the_host_neighbours_tile_by_tile() {
    let (n, dim, k) = (700, 96, 10);
    let data = rows(n, dim, 6);
    let host = knn_cosine(&data, n, dim, k).unwrap();
    // Tiles of 128 query rows: five full ones and a short last one.
    let mut device = DeviceSteps::new(&runtime(), &ExecutionProvider::Cpu, 0)
        .unwrap()
        .with_tile_elements(128 * n);
    let on_device = device.knn_cosine(&data, n, dim, k).unwrap();
    let differ = assert_same_lists(&data, dim, &host, &on_device);
    eprintln!(
        "{differ} of {} entries differ, all between equally near rows",
        n * k
    );
    assert!(differ * 100 < n * k, "{differ} of {} entries differ", n * k);
    // Row 2's copies: each other's nearest, the lower index first, as on the host.
    assert_eq!(&on_device.indices[2 * k..2 * k + 2], &[5, 9]);
    assert_eq!(&on_device.indices[9 * k..9 * k + 2], &[2, 5]);
    // k past n − 1 is clamped, as on the host.
    let all = device.knn_cosine(&data[..4 * dim], 4, dim, 10).unwrap();
    assert_eq!(all.k, 3);
    assert_eq!(all.indices.len(), 12);
    // Bad input is refused with the host's words.
    let err = device
        .knn_cosine(&data, n, dim + 1, k)
        .unwrap_err()
        .to_string();
    let host_err = knn_cosine(&data, n, dim + 1, k).unwrap_err().to_string();
    assert_eq!(err, host_err);
}

#[test]
fn the_device_margins_are_the_host_margins() {
    let (n, dim) = (500, 64);
    let data = rows(n, dim, 4);
    let mut device = DeviceSteps::new(&runtime(), &ExecutionProvider::Cpu, 0).unwrap();
    for communities in [1usize, 4] {
        let labels: Vec<u32> = (0..n).map(|i| (i % communities) as u32).collect();
        let centroids = community_centroids(&data, dim, &labels, communities);
        let host = chip_confidence(&data, dim, &labels, &centroids);
        let on_device = device.margins(&data, dim, &labels, &centroids).unwrap();
        assert_eq!(host.len(), on_device.len());
        for (i, (h, d)) in host.iter().zip(&on_device).enumerate() {
            assert!(
                (h - d).abs() < 1e-5,
                "{communities} communities, chip {i}: {d} vs {h}"
            );
        }
    }
    let err = device
        .margins(&data, dim, &[7; 500], &data[..dim])
        .unwrap_err();
    assert!(err.to_string().contains("label 7 has no centroid"), "{err}");
}

#[test]
fn a_segmentation_with_the_dense_steps_on_the_device_is_the_host_one() {
    let (raster, _) = scene(&SceneConfig {
        width: 512,
        height: 512,
        seed: 3,
        kind: SceneKind::OrderDisorder,
        noise: NoiseLevel::Low,
        ..SceneConfig::default()
    });
    let params = SegmentParams::default();
    let mut enc = deployed_encoder("efficientnet-lite0", params.chip);
    let (_, host) = segment(&mut enc, &raster, &params).unwrap();
    let mut device = DeviceSteps::new(&runtime(), &ExecutionProvider::Cpu, 0).unwrap();
    let (_, on_device) = segment_on(&mut enc, &mut device, &raster, &params).unwrap();
    let agreement = adjusted_rand_index(&host.labels, &on_device.labels, None).unwrap();
    eprintln!(
        "host {} communities, device {}; ARI between them {agreement:.4}",
        host.communities.len(),
        on_device.communities.len()
    );
    assert_eq!(host.communities.len(), on_device.communities.len());
    assert!(agreement > 0.99, "ARI {agreement}");
}
