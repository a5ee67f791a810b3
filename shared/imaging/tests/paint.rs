//! Painting chip labels onto pixels: block fill, majority, ties, hidden chips.

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{ChipGrid, ImagingError, NO_LABEL, paint_labels, paint_labels_weighted};

/// The rule, written per pixel the slow way.
fn naive(grid: &ChipGrid, labels: &[u32]) -> Vec<u32> {
    let (w, h, c) = (grid.width(), grid.height(), grid.chip() as i64);
    let mut out = vec![0; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut votes: Vec<(u32, u32, i64)> = Vec::new(); // label, count, best distance
            for (i, &(cx, cy)) in grid.positions().iter().enumerate() {
                let (cx, cy) = (cx as usize, cy as usize);
                if x < cx || x >= cx + c as usize || y < cy || y >= cy + c as usize {
                    continue;
                }
                let dx = 2 * x as i64 + 1 - (2 * cx as i64 + c);
                let dy = 2 * y as i64 + 1 - (2 * cy as i64 + c);
                let d = dx * dx + dy * dy;
                match votes.iter_mut().find(|v| v.0 == labels[i]) {
                    Some(v) => {
                        v.1 += 1;
                        v.2 = v.2.min(d);
                    }
                    None => votes.push((labels[i], 1, d)),
                }
            }
            // Most votes, then nearest centre, then lower label.
            votes.sort_by_key(|&(l, n, d)| (std::cmp::Reverse(n), d, l));
            out[y * w + x] = votes[0].0;
        }
    }
    out
}

#[test]
fn stride_equal_to_chip_is_a_block_fill() {
    let g = ChipGrid::new(8, 4, 4, 4).unwrap();
    let map = paint_labels(&g, &[3, 5], 6).unwrap();
    for y in 0..4 {
        assert_eq!(&map[y * 8..y * 8 + 8], &[3, 3, 3, 3, 5, 5, 5, 5]);
    }
}

#[test]
fn overlapping_majority_by_hand() {
    // 6 × 2 image, chip 2, stride 1 → chips at x = 0..=4 (one row).
    // Labels A A B B B: pixel x is covered by chips x-1 and x (where they exist).
    // x=0: {A} → A; x=1: {A,A} → A; x=2: {A,B} tie; x=3: {B,B}; x=4: {B,B}; x=5: {B}.
    // x=2 tie: chip 1 centre 2.0, chip 2 centre 3.0, pixel centre 2.5 → equal → lower label A.
    let g = ChipGrid::new(6, 2, 2, 1).unwrap();
    assert_eq!(g.len(), 5);
    let map = paint_labels(&g, &[0, 0, 1, 1, 1], 2).unwrap();
    assert_eq!(&map[..6], &[0, 0, 0, 1, 1, 1]);
    // With labels B A … the same tie at x=2 has A=1, B=0 → lower label 0 wins.
    let map = paint_labels(&g, &[1, 1, 0, 0, 0], 2).unwrap();
    assert_eq!(&map[..6], &[1, 1, 0, 0, 0, 0]);
}

#[test]
fn tie_goes_to_the_nearest_chip_centre() {
    // 8 × 4, chip 4, stride 2 → x starts 0, 2, 4; one row.
    // Pixel x=4 is covered by chips at 2 and 4 (labels 1 and 0): a tie.
    // Pixel centre 4.5; chip at 2 has centre 4.0 (distance 0.5), chip at 4 centre 6.0 → label 1.
    // Pixel x=5: chips at 2 (centre 4.0, d 1.5) and 4 (centre 6.0, d 0.5) → label 0.
    let g = ChipGrid::new(8, 4, 4, 2).unwrap();
    assert_eq!(g.col_starts(), &[0, 2, 4]);
    let map = paint_labels(&g, &[1, 1, 0], 2).unwrap();
    // x=0,1: {c0}=1; x=2,3: {c0,c1}=1; x=4: tie → 1; x=5: tie → 0; x=6,7: {c2}=0.
    assert_eq!(&map[..8], &[1, 1, 1, 1, 1, 0, 0, 0]);
    assert_eq!(map, naive(&g, &[1, 1, 0]));
}

#[test]
fn two_dimensional_majority_by_hand() {
    // 6 × 6, chip 4, stride 2: chips at (0,0) (2,0) (0,2) (2,2).
    // Centre pixels (2..4, 2..4) are covered by all four: labels 7 7 7 2 → 7.
    let g = ChipGrid::new(6, 6, 4, 2).unwrap();
    assert_eq!(g.len(), 4);
    let map = paint_labels(&g, &[7, 7, 7, 2], 8).unwrap();
    for y in 2..4 {
        for x in 2..4 {
            assert_eq!(map[y * 6 + x], 7);
        }
    }
    // The bottom-right corner is covered by chip 3 alone.
    assert_eq!(map[5 * 6 + 5], 2);
    assert_eq!(map, naive(&g, &[7, 7, 7, 2]));
}

#[test]
fn matches_the_naive_rule_on_many_grids() {
    let mut seed = 1u64;
    let mut next = |n: u32| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % u64::from(n)) as u32
    };
    for (w, h, chip, stride) in [
        (37, 29, 8, 4),
        (37, 29, 8, 3),
        (40, 40, 8, 8),
        (41, 23, 7, 5),
        (30, 30, 6, 1),
        (16, 16, 16, 16),
        (50, 20, 9, 2),
    ] {
        let g = ChipGrid::new(w, h, chip, stride).unwrap();
        for n_labels in [2u32, 3, 5] {
            let labels: Vec<u32> = (0..g.len())
                .map(|_| match next(n_labels + 1) {
                    l if l == n_labels => NO_LABEL,
                    l => l,
                })
                .collect();
            let map = paint_labels(&g, &labels, n_labels as usize).unwrap();
            assert_eq!(
                map,
                naive(&g, &labels),
                "{w}x{h} chip {chip} stride {stride}"
            );
        }
    }
}

#[test]
fn every_pixel_gets_a_label() {
    let g = ChipGrid::new(97, 61, 16, 8).unwrap();
    let labels: Vec<u32> = (0..g.len() as u32).map(|i| i % 4).collect();
    let map = paint_labels(&g, &labels, 4).unwrap();
    assert_eq!(map.len(), 97 * 61);
    assert!(map.iter().all(|&l| l < 4));
}

#[test]
fn hidden_chips_stay_hidden_where_they_win() {
    let g = ChipGrid::new(8, 4, 4, 4).unwrap();
    let map = paint_labels(&g, &[NO_LABEL, 1], 2).unwrap();
    assert_eq!(
        &map[..8],
        &[NO_LABEL, NO_LABEL, NO_LABEL, NO_LABEL, 1, 1, 1, 1]
    );
}

#[test]
fn bad_labels_are_refused() {
    let g = ChipGrid::new(8, 4, 4, 4).unwrap();
    let e = paint_labels(&g, &[0], 2).unwrap_err();
    assert!(matches!(e, ImagingError::LabelMismatch(_)));
    assert!(e.to_string().contains("one label per chip"));
    let e = paint_labels(&g, &[0, 2], 2).unwrap_err();
    assert!(e.to_string().contains("chip 1 has label 2"), "{e}");
}

#[test]
fn weights_let_confident_chips_outvote_many_unsure_ones() {
    // 6 × 4, chip 4, stride 1 → chips at x = 0, 1, 2; pixels x = 2, 3 are covered by all three.
    // Labels 0 1 1: by count label 1 wins there (x = 1 is a 1–1 tie that the nearer chip
    // centre, chip 0's, decides); weighted 3, 1, 1 label 0 wins wherever chip 0 votes.
    let g = ChipGrid::new(6, 4, 4, 1).unwrap();
    let counted = paint_labels(&g, &[0, 1, 1], 2).unwrap();
    assert_eq!(&counted[..6], &[0, 0, 1, 1, 1, 1]);
    let weighted = paint_labels_weighted(&g, &[0, 1, 1], &[3.0, 1.0, 1.0], 2).unwrap();
    assert_eq!(&weighted[..6], &[0, 0, 0, 0, 1, 1]);
    // Equal weights behave exactly like counting.
    let ones = paint_labels_weighted(&g, &[0, 1, 1], &[1.0; 3], 2).unwrap();
    assert_eq!(ones, counted);
}

#[test]
fn bad_weights_are_refused() {
    let g = ChipGrid::new(6, 4, 4, 1).unwrap();
    let e = paint_labels_weighted(&g, &[0, 1, 1], &[1.0, f32::NAN, 1.0], 2).unwrap_err();
    assert!(e.to_string().contains("chip 1 has vote weight NaN"), "{e}");
    let e = paint_labels_weighted(&g, &[0, 1, 1], &[1.0], 2).unwrap_err();
    assert!(e.to_string().contains("one weight per chip"), "{e}");
}
