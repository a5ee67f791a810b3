//! IO binding and the overlapped, padded batch pipeline that GPU workers use (with pinned
//! buffers there) give the embeddings of plain one-batch runs, row for row. Run here on the
//! CPU, where the same code moves ordinary tensors.

// Test code: a panic with a line number is the failure report we want.
#![allow(clippy::unwrap_used)]

use tessera_embedding::{Encoder, EncoderOptions, Staging};
use tessera_tests::{
    cache,
    chips::{relative_gap, textured},
    runtime,
};

const EXACT: Staging = Staging {
    overlap: false,
    pad: false,
};

fn load(model: &str, side: usize, batch_size: usize, staging: Staging) -> Encoder {
    let manifest = cache().model(model).unwrap();
    let options = EncoderOptions {
        input_size: Some(side),
        batch_size,
        staging: Some(staging),
        ..EncoderOptions::default()
    };
    let encoder = Encoder::load(&runtime(), &manifest, &options).unwrap();
    assert_eq!(encoder.staging(), staging);
    assert!(!encoder.pinned(), "the CPU has no pinned memory to offer");
    encoder
}

#[test]
fn every_staging_gives_the_rows_of_one_plain_batch() {
    // 13 different chips in batches of 5: two full batches and a tail of 3 (padded to 4).
    let chips = textured(13, 64);
    for (model, side) in [("tiny", 32), ("tiny@f32x64", 32), ("tiny@u8x64", 32)] {
        let reference = load(model, side, 13, EXACT).embed(&chips, 64).unwrap();
        let width = reference.len() / 13;
        for overlap in [false, true] {
            for pad in [false, true] {
                let staging = Staging { overlap, pad };
                let mut encoder = load(model, side, 5, staging);
                // Twice: the second call reuses the first call's slots.
                for call in 0..2 {
                    let rows = encoder.embed(&chips, 64).unwrap();
                    let gap = relative_gap(&reference, &rows);
                    assert!(gap < 1e-5, "{model} {staging:?} call {call}: gap {gap:.2e}");
                }
                // One chip: a single batch, which runs without the second thread.
                let one = encoder.embed(&chips[..64 * 64], 64).unwrap();
                assert!(
                    relative_gap(&reference[..width], &one) < 1e-5,
                    "{model} {staging:?}"
                );
            }
        }
    }
}

#[test]
fn another_output_and_a_failed_call_leave_the_encoder_working() {
    let chips = textured(7, 64);
    let overlapped = Staging {
        overlap: true,
        pad: true,
    };
    let mut plain = load("efficientnet-lite0", 64, 7, EXACT);
    let mut encoder = load("efficientnet-lite0", 64, 3, overlapped);
    let embedded = encoder.embed(&chips, 64).unwrap();
    assert!(relative_gap(&plain.embed(&chips, 64).unwrap(), &embedded) < 1e-5);
    // The same slots, bound to the classifier's output.
    let logits = encoder.run_output(&chips, 64, "logits", 1000).unwrap();
    let expected = plain.run_output(&chips, 64, "logits", 1000).unwrap();
    assert!(relative_gap(&expected, &logits) < 1e-5);
    // An output the model does not have fails the call, saying which ...
    let err = encoder
        .run_output(&chips, 64, "no-such-output", 8)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-output"), "{err}");
    // ... and the encoder goes on as before.
    let again = encoder.embed(&chips, 64).unwrap();
    assert_eq!(again, embedded);
}
