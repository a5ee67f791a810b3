//! The default model is a faithful conversion: it recognises ImageNet classes, through the
//! same preprocessing path that chips take.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{ChipGrid, DecodeLimits, Normalization, decode, extract_chips, normalize};
use tessera_tests::{encoder, sample};

/// Top-1 class of the largest centred square of a sample image, at 224 px.
fn top_class(name: &str) -> usize {
    let bytes = std::fs::read(sample(name)).unwrap();
    let raster = decode(&bytes, &DecodeLimits::default()).unwrap().remove(0);
    // Luminance in [0, 1] with no clipping: the network saw whole-range photos.
    let norm = Normalization {
        low_percentile: 0.0,
        high_percentile: 100.0,
    };
    let image = normalize(&raster, &norm).unwrap();
    let side = image.width.min(image.height);
    let grid = ChipGrid::new(image.width, image.height, side, side).unwrap();
    // The grid's first chip is flush top-left; take the middle one when there are several.
    let chips = extract_chips(&image, &grid).unwrap();
    let middle = grid.len() / 2;
    let chip = &chips[middle * side * side..(middle + 1) * side * side];
    let mut enc = encoder("efficientnet-lite0", 224);
    let logits = enc.run_output(chip, side, "logits", 1000).unwrap();
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap()
}

#[test]
fn chelsea_is_a_cat() {
    let class = top_class("chelsea.png");
    assert!(
        (281..=285).contains(&class),
        "chelsea.png came out as class {class}"
    );
}

#[test]
fn embeddings_have_the_manifest_width_at_chip_size() {
    let mut enc = encoder("efficientnet-lite0", 64);
    let chips = vec![0.5f32; 3 * 64 * 64];
    let e = enc.embed(&chips, 64).unwrap();
    assert_eq!(e.len(), 3 * 1280);
    assert!(e.iter().all(|v| v.is_finite()));
    // Identical chips, identical rows.
    assert_eq!(e[..1280], e[1280..2560]);
}

#[test]
fn a_provider_that_is_not_there_is_refused() {
    use tessera_embedding::{Encoder, EncoderOptions, ExecutionProvider};
    let manifest = tessera_tests::cache().model("tiny").unwrap();
    for provider in ["cuda", "tensorrt"] {
        let options = EncoderOptions {
            provider: provider.parse::<ExecutionProvider>().unwrap(),
            ..EncoderOptions::default()
        };
        let err = Encoder::load(&tessera_tests::runtime(), &manifest, &options).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("was requested but did not load") && msg.contains("--provider cpu"),
            "{provider}: {msg}"
        );
    }
}
