//! Texture mosaics: truth matches what was pasted, layouts, errors.

use tessera_synth::{MosaicLayout, SynthError, mosaic};

/// Texture `k` of size `w`×`h` whose pixel (x, y) holds `k·100000 + y·w + x`, so every
/// output pixel says which texture and which texel it came from.
fn coded(k: usize, w: usize, h: usize) -> Vec<f32> {
    (0..w * h).map(|i| (k * 100_000 + i) as f32).collect()
}

#[test]
fn truth_matches_pasted_texture() {
    let sizes = [(37, 23), (300, 200), (5, 90)];
    let texs: Vec<Vec<f32>> = sizes
        .iter()
        .enumerate()
        .map(|(k, &(w, h))| coded(k, w, h))
        .collect();
    let input: Vec<(usize, usize, &[f32])> = sizes
        .iter()
        .zip(texs.iter())
        .map(|(&(w, h), t)| (w, h, t.as_slice()))
        .collect();
    for layout in [
        MosaicLayout::Bands,
        MosaicLayout::Voronoi { cells: 7 },
        MosaicLayout::default(),
    ] {
        let img = mosaic(&input, 400, 256, layout, 9).expect("valid");
        assert_eq!(img.pixels.len(), 400 * 256);
        let f = img.class_fractions();
        assert_eq!(f.len(), 3, "{layout:?}");
        assert!(f.iter().all(|&p| p > 0.03), "{layout:?}: {f:?}");
        for (&v, &t) in img.pixels.iter().zip(img.truth.iter()) {
            let k = (v as usize) / 100_000;
            let texel = (v as usize) % 100_000;
            assert_eq!(k, usize::from(t));
            assert!(texel < sizes[k].0 * sizes[k].1);
        }
        assert_eq!(img, mosaic(&input, 400, 256, layout, 9).expect("valid"));
    }
}

#[test]
fn mirror_tiling_has_no_seams() {
    // A small ramp texture, tiled over a large output: horizontal neighbours from one
    // texture differ by at most one texel step.
    let ramp: Vec<f32> = (0..10 * 4).map(|i| (i % 10) as f32).collect();
    let flat = vec![100.0f32; 16];
    let img = mosaic(
        &[(10, 4, &ramp), (4, 4, &flat)],
        128,
        64,
        MosaicLayout::Bands,
        1,
    )
    .expect("valid");
    for (prow, trow) in img
        .pixels
        .chunks_exact(128)
        .zip(img.truth.chunks_exact(128))
    {
        for x in 1..128 {
            if trow[x] == 0 && trow[x - 1] == 0 {
                assert!((prow[x] - prow[x - 1]).abs() <= 1.0);
            }
        }
    }
}

#[test]
fn bands_run_left_to_right_along_curves() {
    let texs: Vec<Vec<f32>> = (0..4).map(|k| vec![k as f32; 64]).collect();
    let input: Vec<(usize, usize, &[f32])> = texs.iter().map(|t| (8, 8, t.as_slice())).collect();
    let img = mosaic(&input, 512, 300, MosaicLayout::Bands, 4).expect("valid");
    let mut first_of_1 = Vec::new();
    for row in img.truth.chunks_exact(512) {
        assert!(row.windows(2).all(|p| p[0] <= p[1]));
        assert_eq!((row[0], row[511]), (0, 3));
        first_of_1.push(row.iter().position(|&t| t == 1).unwrap_or(0));
    }
    let (lo, hi) = (first_of_1.iter().min(), first_of_1.iter().max());
    assert!(
        hi.zip(lo).is_some_and(|(h, l)| h - l > 5),
        "boundary is straight"
    );
    assert!(
        img.pixels
            .iter()
            .zip(&img.truth)
            .all(|(&v, &t)| v == f32::from(t))
    );
}

#[test]
fn bad_inputs_are_errors() {
    let t = vec![0.5f32; 16];
    let one = [(4usize, 4usize, t.as_slice())];
    assert!(matches!(
        mosaic(&one, 64, 64, MosaicLayout::Bands, 0),
        Err(SynthError::TextureCount { got: 1, .. })
    ));
    let many = vec![(4usize, 4usize, t.as_slice()); 17];
    assert!(mosaic(&many, 64, 64, MosaicLayout::Bands, 0).is_err());
    let wrong_len = [(4usize, 4usize, t.as_slice()), (5, 4, t.as_slice())];
    assert!(matches!(
        mosaic(&wrong_len, 64, 64, MosaicLayout::Bands, 0),
        Err(SynthError::BadTexture { index: 1, .. })
    ));
    let zero = [(4usize, 4usize, t.as_slice()), (0, 4, &t[..0])];
    assert!(mosaic(&zero, 64, 64, MosaicLayout::Bands, 0).is_err());
    let nan = vec![f32::NAN; 16];
    let with_nan = [(4usize, 4usize, t.as_slice()), (4, 4, nan.as_slice())];
    assert!(mosaic(&with_nan, 64, 64, MosaicLayout::Bands, 0).is_err());
    let two = [(4usize, 4usize, t.as_slice()), (4, 4, t.as_slice())];
    assert!(mosaic(&two, 0, 64, MosaicLayout::Bands, 0).is_err());
    // Too many cells are clamped, not an error.
    assert!(mosaic(&two, 64, 64, MosaicLayout::Voronoi { cells: 1000 }, 0).is_ok());
    assert!(mosaic(&two, 64, 64, MosaicLayout::Voronoi { cells: 0 }, 0).is_ok());
}
