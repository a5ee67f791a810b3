//! In-graph preprocessing (`<model>@u8x<chip>`, `<model>@f32x<chip>`) gives the embeddings of
//! the host preprocessing path, while the chips go to the model as they are.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use tessera_tests::{
    chips::{relative_gap, textured as chips},
    encoder,
};

/// The host path and the in-graph path on the same chips: `base` at the network side `side`,
/// `variant` taking `chip`-pixel chips as they are.
fn compare(base: &str, variant: &str, side: usize, chip: usize, chips: &[f32]) -> f32 {
    let mut host = encoder(base, side);
    let mut graph = encoder(variant, side);
    assert_eq!(graph.manifest().raw_input.unwrap().chip, chip);
    let a = host.embed(chips, chip).unwrap();
    let b = graph.embed(chips, chip).unwrap();
    let gap = relative_gap(&a, &b);
    eprintln!("{base} vs {variant}: relative gap {gap:.2e}");
    gap
}

/// The values a `uint8` input carries: the chips rounded to 1/255.
fn quantised(chips: &[f32]) -> Vec<f32> {
    chips.iter().map(|v| (v * 255.0).round() / 255.0).collect()
}

#[test]
fn float_chips_in_the_graph_match_the_host_path() {
    let c = chips(6, 64);
    // Shrinking (64 -> 32, the triangle filter's support widened) and enlarging (64 -> 224).
    let gap = compare("tiny", "tiny@f32x64", 32, 64, &c);
    assert!(gap < 1e-4, "tiny: relative gap {gap}");
    let gap = compare(
        "efficientnet-lite0",
        "efficientnet-lite0@f32x64",
        224,
        64,
        &c,
    );
    assert!(gap < 1e-4, "efficientnet-lite0: relative gap {gap}");
}

#[test]
fn byte_chips_in_the_graph_match_the_host_path() {
    let c = chips(6, 64);
    // On chips that are already 8-bit, the only difference is arithmetic order.
    let q = quantised(&c);
    let gap = compare(
        "efficientnet-lite0",
        "efficientnet-lite0@u8x64",
        224,
        64,
        &q,
    );
    assert!(gap < 1e-4, "8-bit chips: relative gap {gap}");
    // On arbitrary chips, the rounding to 1/255 is all that is added.
    let gap = compare(
        "efficientnet-lite0",
        "efficientnet-lite0@u8x64",
        224,
        64,
        &c,
    );
    assert!(gap < 2e-2, "rounded chips: relative gap {gap}");
}

#[test]
fn a_chip_of_another_side_is_refused_with_the_way_out() {
    let mut graph = encoder("tiny@u8x64", 32);
    let err = graph.embed(&chips(1, 32), 32).unwrap_err().to_string();
    assert!(
        err.contains("64-pixel chips") && err.contains("--chip 32"),
        "{err}"
    );
}
