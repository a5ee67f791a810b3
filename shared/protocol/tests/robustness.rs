//! Arbitrary bytes never panic the decoder: random payloads, truncations and bit flips.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_protocol::*;

#[test]
fn random_bytes_are_errors_not_panics() {
    let encoded = all_encoded();
    let l = limits();
    let mut rng = Rng::new(0x7e55e7a);
    for i in 0..4000 {
        let len = rng.below(300) as usize;
        let mut bytes = rng.bytes(len);
        // Half of them look like a map, so the decoder gets past the first byte.
        if i % 2 == 0 && !bytes.is_empty() {
            bytes[0] = [0x80 | (rng.below(16) as u8), 0xde, 0xdf][rng.below(3) as usize];
        }
        let (kind, _, decode) = &encoded[i % encoded.len()];
        assert!(
            decode(&bytes, &l).is_err(),
            "{kind}: random input {bytes:02x?} decoded"
        );
    }
}

#[test]
fn truncations_and_bit_flips_never_panic() {
    let l = limits();
    let mut rng = Rng::new(42);
    for (kind, bytes, decode) in all_encoded() {
        decode(&bytes, &l).unwrap();
        for cut in 0..bytes.len() {
            let e = decode(&bytes[..cut], &l);
            assert!(e.is_err(), "{kind} truncated at {cut} decoded");
        }
        for _ in 0..300 {
            let mut flipped = bytes.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(flipped.len() as u64) as usize;
                flipped[at] ^= 1 << rng.below(8);
            }
            let _ = decode(&flipped, &l); // Ok or Err, never a panic.
        }
    }
}

#[test]
fn hostile_lengths_and_nesting_are_refused() {
    let l = limits();
    // A map whose first value claims a 4 GiB binary.
    let mut huge = vec![0x81, 0xa7];
    huge.extend_from_slice(b"version");
    huge.extend_from_slice(&[0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2]);
    assert!(decode::<Frame>(&huge, &l).is_err());
    // A map of 4 billion entries.
    assert!(decode::<Frame>(&[0xdf, 0xff, 0xff, 0xff, 0xff], &l).is_err());
    // Deep nesting inside an ignored field.
    let mut deep = vec![0x82, 0xa7];
    deep.extend_from_slice(b"version");
    deep.push(0x01);
    deep.extend_from_slice(&[0xa1, b'x']);
    deep.extend(std::iter::repeat_n(0x91, 100_000));
    deep.push(0xc0);
    let e = decode::<RunStop>(&deep, &l).unwrap_err();
    assert!(matches!(e, ProtocolError::Malformed { .. }), "{e}");
    // Version of the wrong type.
    let mut v = vec![0x81, 0xa7];
    v.extend_from_slice(b"version");
    v.extend_from_slice(&[0xa1, b'1']);
    assert!(matches!(
        decode::<RunStop>(&v, &l).unwrap_err(),
        ProtocolError::Malformed { .. }
    ));
}

#[test]
fn accessors_and_validation_survive_corrupt_messages() {
    // The loosest limits a caller could pass, so nothing is cut short before the arithmetic.
    let loose = Limits {
        max_payload_bytes: usize::MAX,
        max_frame_pixels: u64::MAX,
        inline_max_bytes: u64::MAX,
    };
    let mut rng = Rng::new(7);
    let sources = [
        encode(&chip_batch()).unwrap(),
        encode(&embedding_batch()).unwrap(),
        encode(&segmented()).unwrap(),
        encode(&frame_inline(Dtype::F32, 4, 4)).unwrap(),
    ];
    for _ in 0..2000 {
        for (i, src) in sources.iter().enumerate() {
            let mut bytes = src.clone();
            let at = rng.below(bytes.len() as u64) as usize;
            bytes[at] = rng.next_u64() as u8;
            match i {
                0 => {
                    if let Ok(m) = decode_unvalidated::<ChipBatch>(&bytes, &loose) {
                        let _ = (m.validate(&loose), m.chips_f32());
                    }
                }
                1 => {
                    if let Ok(m) = decode_unvalidated::<EmbeddingBatch>(&bytes, &loose) {
                        let _ = (m.validate(&loose), m.values_f32());
                    }
                }
                2 => {
                    if let Ok(m) = decode_unvalidated::<Segmented>(&bytes, &loose) {
                        let _ = (
                            m.validate(&loose),
                            m.chip_labels_u32(),
                            m.chip_weights_f32(),
                        );
                    }
                }
                _ => {
                    if let Ok(m) = decode_unvalidated::<Frame>(&bytes, &loose) {
                        let _ = (m.validate(&loose), m.inline_samples(), m.raw_len());
                    }
                }
            }
        }
    }
    // Extreme values set directly.
    let mut batch = chip_batch();
    batch.n = u32::MAX;
    batch.grid.chip = u32::MAX;
    assert!(batch.validate(&loose).is_err() && batch.chips_f32().is_err());
    let huge = Frame {
        width: u32::MAX,
        height: u32::MAX,
        dtype: Dtype::F64,
        ..frame_object()
    };
    assert!(huge.validate(&loose).is_err());
}
