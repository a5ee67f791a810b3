//! Maximum-weight bipartite matching (Hungarian / Kuhn–Munkres), for [`crate::tracking`].

/// The maximum-weight matching of a `rows × cols` weight matrix (row-major). Only positive
/// weights can be matched; zero or less means "no edge", as does a missing entry. Returns, per
/// row, its matched column. Integer weights keep it exact: equal inputs, equal matchings.
/// O(min² · max) in the two sides, so a long run's many tracks stay cheap.
pub(crate) fn max_weight_matching(
    weights: &[i128],
    rows: usize,
    cols: usize,
) -> Vec<Option<usize>> {
    let edge = |r: usize, c: usize| match weights.get(r * cols + c) {
        Some(&w) if r < rows && c < cols && w > 0 => w,
        _ => 0,
    };
    if rows <= cols {
        return assign_rows(rows, cols, edge)
            .into_iter()
            .enumerate()
            .map(|(r, c)| c.filter(|&c| edge(r, c) > 0))
            .collect();
    }
    // More rows than columns: solve the transpose and turn it round.
    let mut matched = vec![None; rows];
    for (c, r) in assign_rows(cols, rows, |c, r| edge(r, c))
        .into_iter()
        .enumerate()
    {
        if let Some(r) = r.filter(|&r| edge(r, c) > 0) {
            matched[r] = Some(c);
        }
    }
    matched
}

/// A maximum-weight assignment of every one of `n` rows to a distinct one of `m >= n`
/// columns (Hungarian with potentials, minimising negated weights). Zero-weight edges then
/// stand for "unmatched", which loses nothing: there are enough columns for every row.
fn assign_rows(n: usize, m: usize, weight: impl Fn(usize, usize) -> i128) -> Vec<Option<usize>> {
    // 1-based, with row and column 0 as the algorithm's sentinels.
    let cost = |r: usize, c: usize| -weight(r - 1, c - 1);
    let mut u = vec![0i128; n + 1];
    let mut v = vec![0i128; m + 1];
    let mut row_of = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for r in 1..=n {
        row_of[0] = r;
        let mut j0 = 0;
        let mut min_v = vec![i128::MAX; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (i128::MAX, 0);
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = cost(i0, j) - u[i0] - v[j];
                if reduced < min_v[j] {
                    min_v[j] = reduced;
                    way[j] = j0;
                }
                if min_v[j] < delta {
                    delta = min_v[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            // j1 == 0 cannot happen while m >= n; stop rather than loop if it ever did.
            if j0 == 0 || row_of[j0] == 0 {
                break;
            }
        }
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut matched = vec![None; n];
    for (c, &r) in row_of.iter().enumerate().skip(1) {
        if (1..=n).contains(&r) {
            matched[r - 1] = Some(c - 1);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(w: &[i128], cols: usize, m: &[Option<usize>]) -> i128 {
        m.iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| w[r * cols + c]))
            .sum()
    }

    #[test]
    fn finds_the_optimum_where_greedy_does_not() {
        // Greedy takes (0,0) = 90 and is left with (1,1) = 0; the optimum crosses over.
        let w = [90, 80, 85, 0];
        let m = max_weight_matching(&w, 2, 2);
        assert_eq!(m, vec![Some(1), Some(0)]);
        assert_eq!(total(&w, 2, &m), 165);
    }

    #[test]
    fn rectangular_and_non_edges_stay_unmatched() {
        // 3 rows × 2 columns; row 2 has no edge.
        let w = [2, 9, 7, 0, 0, -1];
        assert_eq!(max_weight_matching(&w, 3, 2), vec![Some(1), Some(0), None]);
        assert_eq!(max_weight_matching(&[1, 3, 2], 1, 3), vec![Some(1)]);
        assert_eq!(max_weight_matching(&[], 0, 0), Vec::<Option<usize>>::new());
        assert_eq!(max_weight_matching(&[], 2, 0), vec![None, None]);
        // Too short a matrix: the missing entries are no edges.
        assert_eq!(max_weight_matching(&[5], 2, 2), vec![Some(0), None]);
    }

    /// `n` weights in -6..14 from a fixed pseudo-random sequence (xorshift) seeded by `state`.
    fn weights(state: &mut u64, n: usize) -> Vec<i128> {
        (0..n)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                (*state % 20) as i128 - 6
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_on_small_matrices() {
        // A fixed pseudo-random sequence (xorshift); every permutation of 4 checked.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let w = weights(&mut state, 16);
            let best = permutations(4)
                .iter()
                .map(|p| {
                    p.iter()
                        .enumerate()
                        .map(|(r, &c)| w[r * 4 + c].max(0))
                        .sum()
                })
                .max()
                .unwrap();
            let m = max_weight_matching(&w, 4, 4);
            assert_eq!(total(&w, 4, &m), best, "{w:?} {m:?}");
        }
    }

    #[test]
    fn rectangular_matches_brute_force_both_ways() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let w = weights(&mut state, 12);
            // 3 × 4, and its transpose 4 × 3: the best of the 24 injections of 3 into 4.
            let best = permutations(4)
                .iter()
                .map(|p| (0..3).map(|r| w[r * 4 + p[r]].max(0)).sum())
                .max()
                .unwrap();
            let wide = max_weight_matching(&w, 3, 4);
            assert_eq!(total(&w, 4, &wide), best, "{w:?} {wide:?}");
            let t: Vec<i128> = (0..12).map(|i| w[(i % 3) * 4 + i / 3]).collect();
            let tall = max_weight_matching(&t, 4, 3);
            assert_eq!(total(&t, 3, &tall), best, "{t:?} {tall:?}");
        }
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }
}
