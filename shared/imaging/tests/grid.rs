//! Chip-grid arithmetic: counts, edge chips, coverage, errors.

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{ChipGrid, ImagingError, Raster, extract_chips};

fn coverage(g: &ChipGrid) -> Vec<u32> {
    let mut cov = vec![0u32; g.width() * g.height()];
    for &(x, y) in g.positions() {
        for yy in y as usize..y as usize + g.chip() {
            for xx in x as usize..x as usize + g.chip() {
                cov[yy * g.width() + xx] += 1;
            }
        }
    }
    cov
}

#[test]
fn exact_fit_without_overlap() {
    let g = ChipGrid::new(256, 128, 64, 64).unwrap();
    assert_eq!((g.cols(), g.rows(), g.len()), (4, 2, 8));
    assert_eq!(g.col_starts(), &[0, 64, 128, 192]);
    assert_eq!(g.row_starts(), &[0, 64]);
    assert!(coverage(&g).iter().all(|&c| c == 1));
}

#[test]
fn edge_chip_is_flush_with_the_edge() {
    // 100 = 64 + 36: a second chip flush with the right edge at 36.
    let g = ChipGrid::new(100, 64, 64, 64).unwrap();
    assert_eq!(g.col_starts(), &[0, 36]);
    assert_eq!(g.row_starts(), &[0]);
    let g = ChipGrid::new(130, 70, 64, 32).unwrap();
    assert_eq!(g.col_starts(), &[0, 32, 64, 66]);
    assert_eq!(g.row_starts(), &[0, 6]);
}

#[test]
fn no_edge_chip_when_the_stride_lands_on_the_edge() {
    let g = ChipGrid::new(160, 96, 64, 32).unwrap();
    assert_eq!(g.col_starts(), &[0, 32, 64, 96]);
    assert_eq!(g.row_starts(), &[0, 32]);
}

#[test]
fn positions_are_row_major() {
    let g = ChipGrid::new(100, 100, 50, 25).unwrap();
    assert_eq!(g.cols(), 3);
    let p = g.positions();
    assert_eq!(&p[..4], &[(0, 0), (25, 0), (50, 0), (0, 25)]);
    assert_eq!(*p.last().unwrap(), (50, 50));
}

#[test]
fn every_pixel_is_covered_for_odd_sizes_and_strides() {
    for (w, h, chip, stride) in [
        (97, 61, 16, 16),
        (97, 61, 16, 7),
        (33, 33, 33, 1),
        (64, 200, 17, 9),
        (1, 1, 1, 1),
        (5, 9, 3, 2),
    ] {
        let g = ChipGrid::new(w, h, chip, stride).unwrap();
        assert!(
            coverage(&g).iter().all(|&c| c >= 1),
            "{w}x{h} chip {chip} stride {stride}"
        );
        for &(x, y) in g.positions() {
            assert!(x as usize + chip <= w && y as usize + chip <= h);
        }
        assert_eq!(g.len(), g.cols() * g.rows());
        // Regular starts are multiples of the stride; only the last may be an edge chip.
        let xs = g.col_starts();
        for (i, &x) in xs.iter().enumerate().take(xs.len() - 1) {
            assert_eq!(x as usize, i * stride);
        }
        assert_eq!(
            *xs.last().unwrap() as usize,
            w - chip,
            "last chip is flush with the edge"
        );
    }
}

#[test]
fn image_the_size_of_one_chip_has_one_chip() {
    let g = ChipGrid::new(64, 64, 64, 32).unwrap();
    assert_eq!(g.len(), 1);
}

#[test]
fn errors_say_what_to_change() {
    let msg = |r: Result<ChipGrid, ImagingError>| r.unwrap_err().to_string();
    assert!(msg(ChipGrid::new(100, 100, 0, 1)).contains("chip size is 0"));
    assert!(msg(ChipGrid::new(100, 100, 10, 0)).contains("stride is 0"));
    let m = msg(ChipGrid::new(100, 100, 10, 11));
    assert!(
        m.contains("larger than the chip size") && m.contains("uncovered"),
        "{m}"
    );
    let m = msg(ChipGrid::new(50, 100, 64, 64));
    assert!(
        m.contains("smaller than one 64 × 64 chip") && m.contains("lower the chip size"),
        "{m}"
    );
    assert!(msg(ChipGrid::new(0, 0, 1, 1)).contains("smaller than one"));
}

#[test]
fn extract_chips_copies_the_right_pixels() {
    let (w, h) = (13, 9);
    let pixels: Vec<f32> = (0..w * h).map(|i| i as f32).collect();
    let r = Raster::new(w, h, pixels).unwrap();
    let g = ChipGrid::new(w, h, 4, 3).unwrap();
    let chips = extract_chips(&r, &g).unwrap();
    assert_eq!(chips.len(), g.len() * 16);
    for (i, &(x, y)) in g.positions().iter().enumerate() {
        for dy in 0..4 {
            for dx in 0..4 {
                let expect = ((y as usize + dy) * w + x as usize + dx) as f32;
                assert_eq!(chips[i * 16 + dy * 4 + dx], expect);
            }
        }
    }
}

#[test]
fn extract_chips_refuses_a_grid_for_another_size() {
    let r = Raster::new(10, 10, vec![0.0; 100]).unwrap();
    let g = ChipGrid::new(12, 10, 4, 4).unwrap();
    assert!(
        extract_chips(&r, &g)
            .unwrap_err()
            .to_string()
            .contains("grid was built for")
    );
    let bad = Raster {
        width: 12,
        height: 10,
        pixels: vec![0.0; 5],
    };
    assert!(matches!(
        extract_chips(&bad, &g),
        Err(ImagingError::RasterShape { .. })
    ));
}
