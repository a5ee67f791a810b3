//! Metric values checked against scikit-learn and against hand computation.

use super::*;

const TOL: f64 = 1e-12;

fn ari_of(t: &[u32], p: &[u32]) -> f64 {
    adjusted_rand_index(t, p, None).expect("same length")
}

fn nmi_of(t: &[u32], p: &[u32]) -> f64 {
    normalized_mutual_info(t, p, None).expect("same length")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < TOL
}

#[test]
fn ari_matches_sklearn() {
    assert!(close(ari_of(&[0, 0, 1, 1], &[0, 0, 1, 1]), 1.0));
    assert!(close(ari_of(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0));
    assert!(close(
        ari_of(&[0, 0, 1, 1], &[0, 0, 1, 2]),
        0.5714285714285715
    ));
    assert!(close(
        ari_of(&[0, 0, 1, 2], &[0, 0, 1, 1]),
        0.5714285714285715
    ));
    assert!(close(
        ari_of(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]),
        0.24242424242424246
    ));
    assert!(close(ari_of(&[0, 0, 1, 1], &[0, 1, 0, 1]), -0.5));
    assert!(close(ari_of(&[0, 0, 0, 0], &[0, 1, 2, 3]), 0.0));
}

#[test]
fn ari_by_hand() {
    // truth [0,0,0,0,1,1], pred [0,0,1,1,1,1]: cells 2,2,2; rows 4,2; cols 2,4.
    // Unordered pairs: index = 3, sum C(rows) = 7, sum C(cols) = 7, C(6,2) = 15,
    // expected = 49/15, max = 7 -> ARI = (3 - 49/15) / (7 - 49/15) = -4/56 = -1/14.
    assert!(close(
        ari_of(&[0, 0, 0, 0, 1, 1], &[0, 0, 1, 1, 1, 1]),
        -1.0 / 14.0
    ));
}

#[test]
fn degenerate_cases() {
    // Both one cluster, both all singletons, and nothing at all: perfect, as sklearn.
    assert_eq!(ari_of(&[3, 3, 3], &[7, 7, 7]), 1.0);
    assert_eq!(ari_of(&[0, 1, 2], &[5, 4, 3]), 1.0);
    assert_eq!(ari_of(&[], &[]), 1.0);
    assert_eq!(nmi_of(&[3, 3, 3], &[7, 7, 7]), 1.0);
    assert_eq!(nmi_of(&[], &[]), 1.0);
    assert_eq!(mean_iou::<u32, u32>(&[], &[], None), Ok(1.0));
    // One side one cluster, the other not: no information.
    assert_eq!(ari_of(&[0, 0, 0, 0], &[0, 0, 1, 1]), 0.0);
    assert_eq!(nmi_of(&[0, 0, 0, 0], &[0, 0, 1, 1]), 0.0);
    assert_eq!(nmi_of(&[0, 0, 1, 1], &[0, 0, 0, 0]), 0.0);
    // A single pixel.
    assert_eq!(ari_of(&[1], &[9]), 1.0);
}

#[test]
fn nmi_matches_sklearn_and_hand() {
    assert!(close(nmi_of(&[0, 0, 1, 1], &[0, 0, 1, 2]), 0.8));
    assert!(close(nmi_of(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0));
    assert_eq!(nmi_of(&[0, 0, 1, 1], &[0, 1, 0, 1]), 0.0);
    // MI = (2/3) ln 2, H(truth) = ln 2, H(pred) = ln 3.
    let ln2 = 2f64.ln();
    let expected = (2.0 / 3.0) * ln2 / (0.5 * (ln2 + 3f64.ln()));
    assert!(close(
        nmi_of(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]),
        expected
    ));
}

#[test]
fn mean_iou_by_hand() {
    // Clusters 0 -> class 0, 1 (tie 1:1) -> class 0, 2 -> class 1.
    // Mapped prediction [0,0,0,0,1,1]: IoU 3/4 and 2/3.
    let m = mean_iou(&[0u8, 0, 0, 1, 1, 1], &[0u32, 0, 1, 1, 2, 2], None).expect("ok");
    assert!(close(m, (0.75 + 2.0 / 3.0) / 2.0));
    // A class no cluster maps to scores 0.
    let m = mean_iou(&[0u8, 0, 0, 1], &[5u32, 5, 5, 5], None).expect("ok");
    assert!(close(m, 0.75 / 2.0));
    let m = mean_iou(&[2u8, 2, 1, 1], &[9u32, 9, 4, 4], None).expect("ok");
    assert!(close(m, 1.0));
}

#[test]
fn ignore_drops_pixels() {
    let truth: Vec<u8> = vec![0, 0, 255, 1, 1, 255, 0];
    let pred: Vec<u32> = vec![4, 4, 9, 7, 7, 4, 4];
    let kept_t: Vec<u8> = vec![0, 0, 1, 1, 0];
    let kept_p: Vec<u32> = vec![4, 4, 7, 7, 4];
    let a = partition_scores(&truth, &pred, Some(255)).expect("ok");
    let b = partition_scores(&kept_t, &kept_p, None).expect("ok");
    assert_eq!(a, b);
    assert_eq!(a.ari, 1.0);
    assert_eq!(a.pixels, 5);
    assert_eq!((a.classes, a.clusters), (2, 2));
    // Everything ignored.
    let s = partition_scores(&[7u8, 7], &[0u32, 1], Some(7)).expect("ok");
    assert_eq!((s.ari, s.nmi, s.mean_iou, s.pixels), (1.0, 1.0, 1.0, 0));
}

#[test]
fn length_mismatch_is_an_error() {
    assert!(adjusted_rand_index(&[0u8, 1], &[0u32], None).is_err());
    assert!(normalized_mutual_info(&[0u8], &[0u32, 1], None).is_err());
    assert!(mean_iou(&[0u8], &[0u32, 1], None).is_err());
}

#[test]
fn relabelling_large_and_signed_labels_changes_nothing() {
    let truth: Vec<u32> = (0..1000).map(|i| (i * 7 % 13 % 3) as u32).collect();
    let pred: Vec<u32> = (0..1000).map(|i| (i * 11 % 17 % 4) as u32).collect();
    let big: Vec<u64> = pred
        .iter()
        .map(|&p| u64::from(p) * 1_000_000_007 + (1 << 40))
        .collect();
    let signed: Vec<i64> = pred.iter().map(|&p| i64::from(p) - 2).collect();
    let a = partition_scores(&truth, &pred, None).expect("ok");
    let b = partition_scores(&truth, &big, None).expect("ok");
    let c = partition_scores(&truth, &signed, None).expect("ok");
    assert_eq!(a, b);
    assert_eq!(a, c);
    // ARI and NMI are symmetric.
    let s = partition_scores(&pred, &truth, None).expect("ok");
    assert!(close(a.ari, s.ari) && close(a.nmi, s.nmi));
}

#[test]
fn many_clusters_use_the_sparse_table() {
    // 3000 x 3000 possible cells exceeds the dense limit.
    let n = 30_000usize;
    let truth: Vec<u32> = (0..n).map(|i| (i / 10) as u32).collect();
    let pred: Vec<u32> = (0..n).map(|i| (i / 10) as u32 + 5).collect();
    assert_eq!(adjusted_rand_index(&truth, &pred, None), Ok(1.0));
    let nmi = normalized_mutual_info(&truth, &pred, None).expect("ok");
    assert!(close(nmi, 1.0), "{nmi}");
}
