//! Pixel scores of a classification against the truth, class for class.

use tessera_synth::adjusted_rand_index;

/// Mean IoU over the truth classes `present` (ascending) and the ARI, for pixel `labels`
/// where label `i` means truth value `values[i]` (any other label, such as unknown, matches
/// nothing). Pixels whose truth is `ignore` are left out.
pub(crate) fn class_scores(
    truth: &[u32],
    labels: &[u32],
    values: &[u32],
    present: &[u32],
    ignore: Option<u32>,
) -> (f64, f64) {
    let as_value = |l: u32| values.get(l as usize).copied().unwrap_or(u32::MAX);
    let (mut inter, mut union) = (vec![0u64; present.len()], vec![0u64; present.len()]);
    let mut predicted = Vec::with_capacity(labels.len());
    for (&t, &l) in truth.iter().zip(labels) {
        let p = as_value(l);
        predicted.push(p);
        if Some(t) == ignore {
            continue;
        }
        let ti = present.binary_search(&t).expect("a present class");
        union[ti] += 1;
        match present.binary_search(&p) {
            Ok(pi) if pi == ti => inter[ti] += 1,
            Ok(pi) => union[pi] += 1,
            Err(_) => {}
        }
    }
    let miou = inter
        .iter()
        .zip(&union)
        .map(|(&i, &u)| if u == 0 { 1.0 } else { i as f64 / u as f64 })
        .sum::<f64>()
        / present.len().max(1) as f64;
    let ari = adjusted_rand_index(truth, &predicted, ignore).unwrap();
    (miou, ari)
}
