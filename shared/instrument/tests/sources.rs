//! Frame data without a server: the dtype `from_raster` picks, image files, and the
//! synthetic dose series.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{DecodeLimits, Raster, decode, encode_png_gray16};
use tessera_instrument::{DISORDERED_FRACTION_SCALAR, DoseSeries, FrameData, FrameSource};
use tessera_protocol::{Dtype, samples_to_f32};

/// `from_raster`, then back to `f32` as the pipeline does.
fn round_trip(pixels: Vec<f32>) -> (Dtype, Vec<f32>) {
    let raster = Raster::new(pixels.len(), 1, pixels).unwrap();
    let frame = FrameData::from_raster(&raster);
    let back = samples_to_f32(frame.dtype, frame.width, frame.height, &frame.bytes).unwrap();
    (frame.dtype, back)
}

#[test]
fn from_raster_picks_the_narrowest_exact_dtype() {
    let cases = [
        (vec![0.0, 17.0, 255.0], Dtype::U8),
        (vec![0.0, 256.0, 65535.0], Dtype::U16),
        (vec![0.0, 65536.0], Dtype::F32),
        (vec![0.0, 1.5, 2.0], Dtype::F32),
        (vec![-1.0, 3.0], Dtype::F32),
        (vec![0.25, 0.5, 1.0e-7], Dtype::F32),
    ];
    for (pixels, dtype) in cases {
        let (got, back) = round_trip(pixels.clone());
        assert_eq!(got, dtype, "{pixels:?}");
        assert_eq!(back, pixels, "{dtype:?} did not convert back exactly");
    }
}

#[test]
fn a_file_frame_has_the_values_the_decoder_gives() {
    let (w, h) = (40usize, 30usize);
    let samples: Vec<u16> = (0..w * h).map(|i| (i * 50) as u16).collect();
    let png = encode_png_gray16(w, h, &samples).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frame.png");
    std::fs::write(&path, &png).unwrap();
    let missing = dir.path().join("missing.tif");
    let source = FrameSource::Files {
        paths: vec![path.clone(), missing.clone()],
        signal: None,
    };

    let frame = source.frame(0).unwrap();
    assert_eq!(
        (frame.dtype, frame.width, frame.height),
        (Dtype::U16, 40, 30)
    );
    let decoded = &decode(&png, &DecodeLimits::default()).unwrap()[0];
    let back = samples_to_f32(frame.dtype, frame.width, frame.height, &frame.bytes).unwrap();
    assert_eq!(back, decoded.pixels);
    assert_eq!(source.name(0), path.display().to_string());

    let err = source.frame(1).unwrap_err().to_string();
    assert!(
        err.contains("missing.tif") && err.contains("reading"),
        "{err}"
    );
    let err = source.frame(2).unwrap_err().to_string();
    assert!(err.contains("past the end"), "{err}");
}

#[test]
fn the_dose_series_is_deterministic_and_grows_in_dose_and_disorder() {
    let series = FrameSource::Synthetic(DoseSeries::new(64, 6, 7).unwrap());
    let again = FrameSource::Synthetic(DoseSeries::new(64, 6, 7).unwrap());
    let other = FrameSource::Synthetic(DoseSeries::new(64, 6, 8).unwrap());
    assert_eq!(series.len(), 6);
    let frames: Vec<FrameData> = (0..6).map(|i| series.frame(i).unwrap()).collect();
    for (i, f) in frames.iter().enumerate() {
        let g = again.frame(i as u64).unwrap();
        assert!(f.bytes == g.bytes && f.dose == g.dose, "frame {i} differs");
        assert_eq!(
            (f.dtype, f.width, f.bytes.len()),
            (Dtype::U16, 64, 64 * 64 * 2)
        );
    }
    assert!(frames[0].bytes != other.frame(0).unwrap().bytes);
    assert!(frames[1].bytes != frames[2].bytes);

    let doses: Vec<f64> = frames.iter().map(|f| f.dose.unwrap()).collect();
    assert!(doses.windows(2).all(|d| d[0] < d[1]), "{doses:?}");
    let fractions: Vec<f64> = frames
        .iter()
        .map(|f| f.scalars[DISORDERED_FRACTION_SCALAR])
        .collect();
    assert!(fractions.windows(2).all(|p| p[0] <= p[1]), "{fractions:?}");
    assert!(fractions[0] < 0.3 && fractions[5] > 0.7, "{fractions:?}");
}

#[test]
fn a_zoomed_frame_shows_its_region_at_the_magnification_asked() {
    let series = DoseSeries::new(128, 6, 7).unwrap();
    let survey = series.frame_at(30.0, 3, None).unwrap();
    // The survey at a frame's dose is that frame.
    assert_eq!(survey.bytes, series.frame_at(30.0, 3, None).unwrap().bytes);
    let zoom = tessera_instrument::Zoom {
        x: 32,
        y: 64,
        width: 32,
        height: 32,
    };
    let z = series.frame_at(30.0, 4, Some(&zoom)).unwrap();
    assert_eq!(
        (z.width, z.height, z.bytes.len()),
        (128, 128, 128 * 128 * 2)
    );
    let roi: Vec<f64> = ["roi_x", "roi_y", "roi_width", "roi_height", "magnification"]
        .iter()
        .map(|k| z.scalars[*k])
        .collect();
    assert_eq!(roi, [32.0, 64.0, 32.0, 32.0, 4.0]);
    assert!((z.pixel_size_nm.unwrap() * 4.0 - survey.pixel_size_nm.unwrap()).abs() < 1e-12);
    assert_eq!(z.dose, survey.dose);
    // The region's truth: the share of its pixels that are disordered in the survey.
    let truth = series.truth(3);
    let inside: Vec<u32> = (64..96)
        .flat_map(|y| (32..64).map(move |x| (x, y)))
        .map(|(x, y)| truth[y * 128 + x])
        .collect();
    let expected = inside.iter().filter(|&&t| t != 0).count() as f64 / inside.len() as f64;
    let got = z.scalars[DISORDERED_FRACTION_SCALAR];
    assert!((got - expected).abs() < 0.05, "{got} against {expected}");
}

#[test]
fn a_bad_series_size_says_what_is_allowed() {
    let err = DoseSeries::new(8, 3, 0).unwrap_err().to_string();
    assert!(err.contains("32..=8192"), "{err}");
}
