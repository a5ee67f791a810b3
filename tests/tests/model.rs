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
    use tessera_embedding::{EmbeddingError, Encoder, EncoderOptions, ExecutionProvider};
    let manifest = tessera_tests::cache().model("tiny").unwrap();
    let runtime = tessera_tests::runtime();
    for provider in ["cuda", "tensorrt:1"] {
        let provider = provider.parse::<ExecutionProvider>().unwrap();
        assert_eq!(
            runtime.has_provider(&provider),
            Ok(false),
            "the test runtime is the CPU build"
        );
        let options = EncoderOptions {
            provider: provider.clone(),
            ..EncoderOptions::default()
        };
        let err = Encoder::load(&runtime, &manifest, &options).unwrap_err();
        assert!(
            matches!(err, EmbeddingError::ProviderUnavailable { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        let requested = format!("the {provider} execution provider was requested but did not load");
        let why = format!("built without {}", provider.ort_name());
        let library = runtime.path().display().to_string();
        // Which provider, why, and the ways out.
        let parts: [&str; 8] = [
            &requested,
            "refuses to start rather than run on the CPU",
            &why,
            &library,
            "tessera provision --gpu",
            "runtime-gpu/libonnxruntime.so.1.31.1",
            "ORT_DYLIB_PATH",
            "--provider cpu",
        ];
        for part in parts {
            assert!(msg.contains(part), "{provider}: {part:?} is not in: {msg}");
        }
    }
}

#[test]
fn the_resnet50_throughput_model_gives_2048_wide_rows() {
    // Provisioned on demand (scripts/provision.py --only resnet50), as the other models are.
    for name in ["resnet50", "resnet50-fp16"] {
        let mut enc = encoder(name, 224);
        assert_eq!(enc.embedding_dim(), 2048, "{name}");
        // Two different chips at the chip side of a 4096-chip 4096² frame; resized to 224.
        let chips: Vec<f32> = (0..2 * 64 * 64)
            .map(|i| ((i % 64) as f32 / 63.0) * if i < 4096 { 1.0 } else { 0.5 })
            .collect();
        let e = enc.embed(&chips, 64).unwrap();
        assert_eq!(e.len(), 2 * 2048, "{name}");
        assert!(e.iter().all(|v| v.is_finite()), "{name}");
        assert_ne!(
            e[..2048],
            e[2048..],
            "{name}: different chips, different rows"
        );
    }
}
