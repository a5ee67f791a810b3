//! How far to split: the number of communities, chosen per image rather than fixed by one
//! global resolution.
//!
//! The graph is cut at every resolution of [`RESOLUTIONS`] (each cut merged and numbered as
//! usual), and a criterion picks one cut ([`Split`]):
//! - `plateau`: the community count that holds over the most consecutive resolutions (a count
//!   of 1 only when nothing else holds); the cut in the middle of that run.
//! - `neighbours`: the cut that agrees best (chip ARI) with the cuts at the resolutions just
//!   below and above it.
//! - `seeds`: the cut whose partition changes least when the seed changes (mean chip ARI
//!   against two other seeds).
//!
//! All are deterministic for a seed. `communities = N` instead takes the first cut with at
//! least N communities and merges the closest centroids until N are left.

use serde::{Deserialize, Serialize};

use crate::{GridShape, SegmentError, SegmentParams};

/// The resolutions tried, low (few communities) to high.
pub const RESOLUTIONS: [f64; 12] = [
    0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5,
];

/// How the number of communities is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// One cut at `resolution`.
    #[default]
    Fixed,
    /// The longest plateau of the community count over [`RESOLUTIONS`].
    Plateau,
    /// The cut most like its neighbours on [`RESOLUTIONS`].
    Neighbours,
    /// The cut most stable across seeds.
    Seeds,
    /// The finest cut whose every community is a spatial region rather than speckle: each
    /// keeps at least `coherence` of its chips' grid neighbours. A two-community cut may give
    /// way to a finer one that holds thin layers ([`finer_distinct`]); with no coherent cut,
    /// one phase is one community ([`least_distinct`]).
    Coherent,
}

/// One cut: its resolution, labels (canonical) and community count.
#[derive(Debug, Clone)]
pub struct Cut {
    /// The resolution it was made at.
    pub resolution: f64,
    /// Canonical labels.
    pub labels: Vec<u32>,
    /// Number of communities.
    pub count: usize,
}

/// Cuts the graph as `params` say. `detect(resolution, seed)` makes one cut (with its
/// modularity); `merge_to(labels, count)` merges a cut down to `count` communities;
/// `distinct(labels)` is the cut's [`least_distinct`] on the raw embeddings.
pub fn split(
    params: &SegmentParams,
    shape: Option<GridShape>,
    detect: &dyn Fn(f64, u64) -> Result<(Cut, f64), SegmentError>,
    merge_to: impl Fn(&[u32], usize) -> Result<Vec<u32>, SegmentError>,
    distinct: impl Fn(&[u32]) -> f64,
) -> Result<(Cut, f64), SegmentError> {
    if let Some(want) = params.communities {
        let mut last = None;
        for &r in RESOLUTIONS.iter().chain(&[3.0, 10.0]) {
            let (cut, q) = detect(r, params.seed)?;
            let enough = cut.count >= want;
            last = Some((cut, q));
            if enough {
                break;
            }
        }
        let (mut cut, q) = last.expect("RESOLUTIONS is not empty");
        if cut.count > want {
            cut.labels = merge_to(&cut.labels, want)?;
            cut.count = want;
        }
        return Ok((cut, q));
    }
    if params.split == Split::Fixed {
        return detect(params.resolution, params.seed);
    }
    let (lo, hi) = params.sweep;
    let sweep: Vec<f64> = (RESOLUTIONS.iter().copied())
        .filter(|&r| r >= lo && r <= hi)
        .collect();
    if params.split == Split::Coherent {
        // The finest coherent cut: walk down from the highest resolution and stop at the
        // first one (the same cut as scoring them all, for a fraction of the runs).
        let GridShape { cols, rows, .. } = shape.ok_or_else(|| {
            SegmentError::Params("split = coherent needs the chip grid's shape".into())
        })?;
        let min = f64::from(params.coherence);
        let mut seen: Vec<((Cut, f64), f64)> = Vec::new();
        for &r in sweep.iter().rev() {
            let (cut, q) = detect(r, params.seed)?;
            let score = coherence(&cut.labels, cols, rows);
            if cut.count >= 2 && score >= min {
                // The finer cuts were all made on the way down: one may still stand.
                let finer: Vec<&Cut> = seen.iter().rev().map(|((c, _), _)| c).collect();
                let pick = finer_distinct(&cut, &finer, params, cols, rows, &distinct);
                return Ok(match pick {
                    Some(i) => seen.swap_remove(seen.len() - 1 - i).0,
                    None => (cut, q),
                });
            }
            seen.push(((cut, q), score));
        }
        seen.reverse();
        let only: Vec<Cut> = seen.iter().map(|((c, _), _)| c.clone()).collect();
        let scores: Vec<f64> = seen.iter().map(|(_, s)| *s).collect();
        if only.is_empty() {
            return detect(params.resolution, params.seed);
        }
        let pick = finest_coherent(&only, &scores, min);
        let (mut cut, q) = seen.swap_remove(pick).0;
        if distinct(&cut.labels) < f64::from(params.min_distinct) {
            // No cut is coherent, and the best of them splits nothing real: one phase.
            cut.labels.fill(0);
            cut.count = 1;
        }
        return Ok((cut, q));
    }
    let mut cuts = Vec::with_capacity(sweep.len());
    for &r in &sweep {
        cuts.push(detect(r, params.seed)?);
    }
    if cuts.is_empty() {
        return detect(params.resolution, params.seed);
    }
    let only: Vec<Cut> = cuts.iter().map(|(c, _)| c.clone()).collect();
    tracing::debug!(
        counts = ?only.iter().map(|c| c.count).collect::<Vec<_>>(),
        "community counts over the resolution sweep"
    );
    let pick = match params.split {
        Split::Plateau => plateau(&only),
        Split::Neighbours => neighbours(&only),
        Split::Fixed | Split::Coherent => unreachable!("handled above"),
        Split::Seeds => {
            let mut best = (f64::NEG_INFINITY, 0);
            for (i, c) in only.iter().enumerate() {
                if c.count < 2 {
                    continue;
                }
                let mut sum = 0.0;
                for s in 1..=2 {
                    let (other, _) = detect(c.resolution, params.seed.wrapping_add(s))?;
                    sum += chip_ari(&c.labels, &other.labels);
                }
                if sum > best.0 {
                    best = (sum, i);
                }
            }
            best.1
        }
    };
    Ok(cuts.swap_remove(pick))
}

/// The least cosine distance between the mean `embeddings` rows (`dim` wide) of two
/// communities of `labels`; 2 (the largest) with fewer than two communities. Raw model
/// output, before centring: a split of one phase by noise leaves the means nearly equal
/// (measured: 0.001–0.07 on one-phase synthetic frames), where real phases differ (0.11 and
/// more on the SEM tuning set, 0.03 between two grains of one crystal in a coherent cut).
pub fn least_distinct(labels: &[u32], embeddings: &[f32], dim: usize) -> f64 {
    let k = labels.iter().max().map_or(0, |m| *m as usize + 1);
    let mut sums = vec![0f64; k * dim];
    for (row, &l) in embeddings.chunks_exact(dim).zip(labels) {
        let s = &mut sums[l as usize * dim..(l as usize + 1) * dim];
        s.iter_mut().zip(row).for_each(|(a, &x)| *a += f64::from(x));
    }
    let norm = |c: usize| {
        sums[c * dim..(c + 1) * dim]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
    };
    let mut least: f64 = 2.0;
    for a in 0..k {
        for b in a + 1..k {
            let dot: f64 = (0..dim)
                .map(|j| sums[a * dim + j] * sums[b * dim + j])
                .sum();
            let n = norm(a) * norm(b);
            if n > 0.0 {
                least = least.min(1.0 - dot / n);
            }
        }
    }
    least
}

/// Among `finer` (cuts finer than the coherent `cut`, coarsest first), the index of the
/// coarsest that splits as really as `cut` does (only when `cut` has two communities): every community a region or a band
/// ([`chip_coherence`] ≥ `finer_coherence`), and its least distinct pair of communities at
/// least `finer_ratio` of `cut`'s and at least `finer_floor` apart ([`least_distinct`]).
///
/// A layer thinner than three chips never keeps 80 % of its grid neighbours, so the coherent
/// cut alone merges thin coating layers into their neighbours. A finer cut that only splits a
/// phase by texture or noise makes a community much closer to another than the coherent
/// cut's communities are to each other (measured: 0.11–0.16 against 0.59–0.63 on two-phase
/// synthetic scenes), where a real thin layer is about as distinct (0.10–0.25 against
/// 0.12–0.30 on the coatings).
pub fn finer_distinct(
    cut: &Cut,
    finer: &[&Cut],
    params: &SegmentParams,
    cols: usize,
    rows: usize,
    distinct: &impl Fn(&[u32]) -> f64,
) -> Option<usize> {
    if params.finer_ratio <= 0.0 || cut.count != 2 {
        return None;
    }
    let reference = distinct(&cut.labels);
    let need = (f64::from(params.finer_ratio) * reference).max(f64::from(params.finer_floor));
    (0..finer.len()).find(|&i| {
        let c = finer[i];
        c.count > cut.count
            && chip_coherence(&c.labels, cols, rows) >= f64::from(params.finer_coherence)
            && distinct(&c.labels) >= need
    })
}

/// Index of the finest cut (of two or more communities) whose `scores` reach `min`; else
/// the cut of two or more communities with the best score; else the first cut.
pub fn finest_coherent(cuts: &[Cut], scores: &[f64], min: f64) -> usize {
    let multi = || (0..cuts.len()).filter(|&i| cuts[i].count >= 2);
    if let Some(i) = multi().rfind(|&i| scores[i] >= min) {
        return i;
    }
    multi()
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// The least coherent community's share of grid-neighbour pairs (4-neighbourhood on a
/// `cols × rows` chip grid) that stay inside it. A single community scores 1.
pub fn coherence(labels: &[u32], cols: usize, rows: usize) -> f64 {
    let k = labels.iter().max().map_or(0, |m| *m as usize + 1);
    let (mut inside, mut all) = (vec![0u64; k], vec![0u64; k]);
    let mut pair = |a: u32, b: u32| {
        for l in [a, b] {
            all[l as usize] += 1;
            if a == b {
                inside[l as usize] += 1;
            }
        }
    };
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            if c + 1 < cols {
                pair(labels[i], labels[i + 1]);
            }
            if r + 1 < rows {
                pair(labels[i], labels[i + cols]);
            }
        }
    }
    (0..k)
        .filter(|&l| all[l] > 0)
        .map(|l| inside[l] as f64 / all[l] as f64)
        .fold(1.0, f64::min)
}

/// The least coherent community's share of chips that have at least two of their four grid
/// neighbours inside it, a neighbour beyond the frame counting as inside (the region goes
/// on past the edge). A band one chip thick scores 1, where speckle scores near 0. A single
/// community scores 1.
pub fn chip_coherence(labels: &[u32], cols: usize, rows: usize) -> f64 {
    let k = labels.iter().max().map_or(0, |m| *m as usize + 1);
    let (mut held, mut size) = (vec![0u64; k], vec![0u64; k]);
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            let near = [
                (c > 0).then(|| i - 1),
                (c + 1 < cols).then(|| i + 1),
                (r > 0).then(|| i - cols),
                (r + 1 < rows).then(|| i + cols),
            ];
            let inside = near
                .iter()
                .filter(|j| j.is_none_or(|j| labels[j] == labels[i]))
                .count();
            let l = labels[i] as usize;
            size[l] += 1;
            if inside >= 2 {
                held[l] += 1;
            }
        }
    }
    (0..k)
        .filter(|&l| size[l] > 0)
        .map(|l| held[l] as f64 / size[l] as f64)
        .fold(1.0, f64::min)
}

/// Index of the cut `plateau` picks among `cuts` (ordered by resolution).
pub fn plateau(cuts: &[Cut]) -> usize {
    let mut best: Option<(usize, usize, usize)> = None; // (length, start, count)
    let mut start = 0;
    for i in 1..=cuts.len() {
        if i == cuts.len() || cuts[i].count != cuts[start].count {
            let len = i - start;
            let count = cuts[start].count;
            let better = match best {
                None => true,
                Some((bl, _, bc)) => (count > 1 && bc == 1) || (len > bl && (count > 1 || bc == 1)),
            };
            if better {
                best = Some((len, start, count));
            }
            start = i;
        }
    }
    best.map_or(0, |(len, start, _)| start + (len - 1) / 2)
}

/// Index of the cut `neighbours` picks: the best mean chip ARI with the adjacent cuts, among
/// cuts of two or more communities (the first cut if there are none).
pub fn neighbours(cuts: &[Cut]) -> usize {
    let mut best = (f64::NEG_INFINITY, 0);
    for i in 0..cuts.len() {
        if cuts[i].count < 2 {
            continue;
        }
        let mut sum = 0.0;
        let mut k = 0;
        for j in [i.wrapping_sub(1), i + 1] {
            if let Some(c) = cuts.get(j) {
                sum += chip_ari(&cuts[i].labels, &c.labels);
                k += 1;
            }
        }
        let score = if k > 0 { sum / k as f64 } else { 0.0 };
        if score > best.0 {
            best = (score, i);
        }
    }
    best.1
}

/// Adjusted Rand index between two labelings of the same chips.
pub fn chip_ari(a: &[u32], b: &[u32]) -> f64 {
    let ka = a.iter().max().map_or(0, |m| *m as usize + 1);
    let kb = b.iter().max().map_or(0, |m| *m as usize + 1);
    let mut table = vec![0f64; ka * kb];
    let (mut rows, mut cols) = (vec![0f64; ka], vec![0f64; kb]);
    for (&x, &y) in a.iter().zip(b) {
        table[x as usize * kb + y as usize] += 1.0;
        rows[x as usize] += 1.0;
        cols[y as usize] += 1.0;
    }
    let pairs = |v: f64| v * (v - 1.0) / 2.0;
    let n = a.len().min(b.len()) as f64;
    let index: f64 = table.iter().map(|&v| pairs(v)).sum();
    let (ra, cb) = (
        rows.iter().map(|&v| pairs(v)).sum::<f64>(),
        cols.iter().map(|&v| pairs(v)).sum::<f64>(),
    );
    let expected = ra * cb / pairs(n).max(1.0);
    let max = (ra + cb) / 2.0;
    if (max - expected).abs() < 1e-12 {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinctness_is_the_cosine_distance_of_community_means() {
        // Two rows per community, 2 wide: means (1, 0) and (0, 1), then (1, 0) twice.
        let rows = [1.0, 0.1, 1.0, -0.1, 0.1, 1.0, -0.1, 1.0];
        assert!((least_distinct(&[0, 0, 1, 1], &rows, 2) - 1.0).abs() < 1e-9);
        let same = [1.0, 0.1, 1.0, -0.1, 1.0, 0.1, 1.0, -0.1];
        assert!(least_distinct(&[0, 0, 1, 1], &same, 2).abs() < 1e-9);
        assert_eq!(least_distinct(&[0, 0, 0, 0], &rows, 2), 2.0);
    }

    fn cut(count: usize) -> Cut {
        Cut {
            resolution: 0.0,
            labels: (0..12).map(|i| (i % count) as u32).collect(),
            count,
        }
    }

    #[test]
    fn the_longest_run_of_two_or_more_wins() {
        let cuts: Vec<Cut> = [1, 1, 1, 1, 2, 2, 3, 3, 3, 5].map(cut).to_vec();
        assert_eq!(cuts[plateau(&cuts)].count, 3);
        let cuts: Vec<Cut> = [1, 1, 1].map(cut).to_vec();
        assert_eq!(plateau(&cuts), 1);
    }

    #[test]
    fn regions_are_coherent_and_speckle_is_not() {
        // A 4 × 4 grid: left and right halves, against a checkerboard.
        let halves: Vec<u32> = (0..16).map(|i| u32::from(i % 4 >= 2)).collect();
        let checker: Vec<u32> = (0..16).map(|i| ((i % 4 + i / 4) % 2) as u32).collect();
        assert!(coherence(&halves, 4, 4) > 0.6);
        assert_eq!(coherence(&checker, 4, 4), 0.0);
        let cuts = vec![
            Cut {
                resolution: 0.1,
                labels: vec![0; 16],
                count: 1,
            },
            Cut {
                resolution: 0.3,
                labels: halves.clone(),
                count: 2,
            },
            Cut {
                resolution: 1.0,
                labels: checker.clone(),
                count: 2,
            },
        ];
        let scores = [1.0, coherence(&halves, 4, 4), 0.0];
        assert_eq!(finest_coherent(&cuts, &scores, 0.6), 1);
        assert_eq!(
            finest_coherent(&cuts, &scores, 0.99),
            1,
            "else the most coherent split"
        );
    }

    #[test]
    fn a_thin_band_is_a_region_by_chips_and_speckle_is_not() {
        // 4 × 4: a band one chip thick (row 1) keeps half its neighbours at most.
        let band: Vec<u32> = (0..16).map(|i| u32::from(i / 4 == 1)).collect();
        assert!(coherence(&band, 4, 4) < 0.6, "fails the pair rule");
        assert_eq!(chip_coherence(&band, 4, 4), 1.0, "passes the chip rule");
        // 8 × 8 checkerboard: only the corners, half outside the frame, hold.
        let checker: Vec<u32> = (0..64).map(|i| ((i % 8 + i / 8) % 2) as u32).collect();
        assert_eq!(chip_coherence(&checker, 8, 8), 2.0 / 32.0);
    }

    #[test]
    fn a_finer_cut_stands_only_when_it_splits_as_really_as_the_coherent_one() {
        // 6 × 6 chips: phase A in rows 0–2, a thin layer B in row 3, phase C in rows 4–5.
        let (cols, rows) = (6, 6);
        let phase = |i: usize| match i / cols {
            0..=2 => 0,
            3 => 1,
            _ => 2,
        };
        let emb: Vec<f32> = (0..36)
            .flat_map(|i| {
                let wobble = if i % 2 == 0 { 0.05 } else { -0.05 };
                match phase(i) {
                    0 => [1.0, 0.0, 0.0],
                    1 => [0.0, 1.0, 0.0],
                    _ => [0.0, wobble, 1.0],
                }
            })
            .collect();
        let distinct = |l: &[u32]| least_distinct(l, &emb, 3);
        let cut = |labels: Vec<u32>| {
            let count = *labels.iter().max().unwrap() as usize + 1;
            Cut {
                resolution: 0.0,
                labels,
                count,
            }
        };
        let coherent = cut((0..36).map(|i| u32::from(phase(i) > 0)).collect());
        let layers = cut((0..36).map(|i| phase(i) as u32).collect());
        // C split by its wobble, chip by chip: as coherent as speckle, and barely distinct.
        let noise = cut((0..36)
            .map(|i| match phase(i) {
                0 => 0,
                1 => 1,
                _ => 2 + (i % 2) as u32,
            })
            .collect());
        // C split into two bands by nothing but its wobble's sign: regions, not distinct.
        let bands = cut((0..36)
            .map(|i| match phase(i) {
                2 if i / cols == 5 => 3,
                p => p as u32,
            })
            .collect());
        let p = SegmentParams::default();
        let pick = |finer: &[&Cut]| finer_distinct(&coherent, finer, &p, cols, rows, &distinct);
        assert_eq!(pick(&[&layers]), Some(0), "the thin layer B is found");
        assert_eq!(pick(&[&noise]), None, "speckle is no layer");
        assert_eq!(pick(&[&layers, &noise]), Some(0));
        assert_eq!(
            pick(&[&layers, &bands]),
            Some(0),
            "the coarsest that stands"
        );
        assert_eq!(
            pick(&[&bands]),
            None,
            "two bands of one phase are not distinct"
        );
        let off = SegmentParams {
            finer_ratio: 0.0,
            ..SegmentParams::default()
        };
        assert_eq!(
            finer_distinct(&coherent, &[&layers], &off, cols, rows, &distinct),
            None
        );
        assert_eq!(
            finer_distinct(&layers, &[&bands], &p, cols, rows, &distinct),
            None,
            "only a two-community cut is refined"
        );
    }

    #[test]
    fn chip_ari_is_one_for_relabelled_partitions_and_near_zero_for_unrelated_ones() {
        let a = [0, 0, 1, 1, 2, 2];
        assert!((chip_ari(&a, &[2, 2, 0, 0, 1, 1]) - 1.0).abs() < 1e-12);
        assert!(chip_ari(&a, &[0, 1, 0, 1, 0, 1]) < 0.1);
    }
}
