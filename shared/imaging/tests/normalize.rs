//! Percentile normalisation.

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{ImagingError, Normalization, Raster, normalize, percentiles};

fn raster(pixels: Vec<f32>) -> Raster {
    let n = pixels.len();
    Raster::new(n, 1, pixels).unwrap()
}

/// NumPy-style linear-interpolation percentile by full sort (the reference).
fn reference(values: &[f32], p: f32) -> f32 {
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let pos = f64::from(p) / 100.0 * (v.len() - 1) as f64;
    let (i, t) = (pos.floor() as usize, pos - pos.floor());
    let j = (i + 1).min(v.len() - 1);
    (f64::from(v[i]) + t * (f64::from(v[j]) - f64::from(v[i]))) as f32
}

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 40) as f32 / (1u64 << 24) as f32
}

#[test]
fn percentiles_on_known_data() {
    // 0..=100: percentile p is exactly p.
    let r = raster((0..=100).map(|v| v as f32).collect());
    let n = Normalization {
        low_percentile: 2.0,
        high_percentile: 97.0,
    };
    assert_eq!(percentiles(&r, &n).unwrap(), (2.0, 97.0));
    // 0..=9 at 25 %: position 2.25 → 2.25 (interpolated).
    let r = raster((0..10).rev().map(|v| v as f32).collect());
    let n = Normalization {
        low_percentile: 25.0,
        high_percentile: 100.0,
    };
    assert_eq!(percentiles(&r, &n).unwrap(), (2.25, 9.0));
}

#[test]
fn percentiles_match_a_full_sort_on_large_and_awkward_data() {
    let mut seed = 7u64;
    let cases: Vec<Vec<f32>> = vec![
        (0..200_000)
            .map(|_| lcg(&mut seed) * 1000.0 - 300.0)
            .collect(),
        // Heavy concentration plus far outliers: forces the histogram refinement.
        (0..300_000)
            .map(|i| match i % 1000 {
                0 => 1e30,
                1 => -1e30,
                _ => 5.0 + lcg(&mut seed) * 1e-3,
            })
            .collect(),
        // Few distinct values (8-bit-like).
        (0..100_000)
            .map(|_| (lcg(&mut seed) * 4.0).floor())
            .collect(),
    ];
    for values in cases {
        let r = raster(values.clone());
        for (lo, hi) in [(0.5, 99.5), (0.0, 100.0), (10.0, 90.0), (49.9, 50.1)] {
            let n = Normalization {
                low_percentile: lo,
                high_percentile: hi,
            };
            let got = percentiles(&r, &n).unwrap();
            assert_eq!(
                got,
                (reference(&values, lo), reference(&values, hi)),
                "{lo} {hi}"
            );
        }
    }
}

#[test]
fn normalize_clips_and_scales() {
    let r = raster((0..=100).map(|v| v as f32).collect());
    let n = Normalization {
        low_percentile: 10.0,
        high_percentile: 90.0,
    };
    let out = normalize(&r, &n).unwrap();
    assert_eq!(out.pixels[0], 0.0);
    assert_eq!(out.pixels[10], 0.0);
    assert!((out.pixels[50] - 0.5).abs() < 1e-6);
    assert_eq!(out.pixels[90], 1.0);
    assert_eq!(out.pixels[100], 1.0);
    assert!(out.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    assert_eq!((out.width, out.height), (101, 1));
}

#[test]
fn default_is_half_a_percent() {
    let n = Normalization::default();
    assert_eq!((n.low_percentile, n.high_percentile), (0.5, 99.5));
}

#[test]
fn constant_image_is_an_error() {
    let err = normalize(&raster(vec![3.0; 1000]), &Normalization::default()).unwrap_err();
    assert!(matches!(err, ImagingError::ConstantImage { value, .. } if value == 3.0));
    assert!(err.to_string().contains("constant"), "{err}");
    // Constant between the percentiles although not everywhere.
    let mut v = vec![1.0; 1000];
    v[0] = 0.0;
    v[999] = 2.0;
    assert!(matches!(
        normalize(&raster(v), &Normalization::default()),
        Err(ImagingError::ConstantImage { .. })
    ));
}

#[test]
fn non_finite_pixels_are_counted() {
    let err = normalize(
        &raster(vec![1.0, f32::NAN, 2.0, f32::INFINITY, f32::NAN]),
        &Normalization::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImagingError::NonFinite {
            nan: 2,
            infinite: 1,
            pixels: 5
        }
    );
    assert!(err.to_string().contains("2 NaN and 1 infinite"), "{err}");
}

#[test]
fn invalid_percentiles_are_refused() {
    let r = raster(vec![0.0, 1.0]);
    for (lo, hi) in [
        (50.0, 50.0),
        (60.0, 40.0),
        (-1.0, 50.0),
        (0.0, 100.5),
        (f32::NAN, 9.0),
    ] {
        let n = Normalization {
            low_percentile: lo,
            high_percentile: hi,
        };
        assert!(matches!(
            normalize(&r, &n),
            Err(ImagingError::InvalidPercentiles { .. })
        ));
    }
}

#[test]
fn empty_or_malformed_rasters_are_refused() {
    let empty = Raster {
        width: 0,
        height: 0,
        pixels: vec![],
    };
    assert!(normalize(&empty, &Normalization::default()).is_err());
    let bad = Raster {
        width: 3,
        height: 3,
        pixels: vec![0.0; 4],
    };
    assert!(matches!(
        normalize(&bad, &Normalization::default()),
        Err(ImagingError::RasterShape { .. })
    ));
}

#[test]
fn extreme_range_does_not_overflow() {
    let r = raster(vec![-3e38, 0.0, 3e38]);
    let n = Normalization {
        low_percentile: 0.0,
        high_percentile: 100.0,
    };
    let out = normalize(&r, &n).unwrap();
    assert_eq!(out.pixels[0], 0.0);
    assert!((out.pixels[1] - 0.5).abs() < 1e-6);
    assert_eq!(out.pixels[2], 1.0);
}
