//! Round trips, named-field evolution, version checks and codec errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde::{Deserialize, Serialize};
use tessera_protocol::*;

fn round_trip<T: Message + PartialEq + std::fmt::Debug>(message: &T) {
    let bytes = encode_message(message, &limits()).unwrap();
    let back: T = decode(&bytes, &limits()).unwrap();
    assert_eq!(&back, message, "{}", T::KIND);
}

#[test]
fn every_message_round_trips() {
    round_trip(&run_start());
    round_trip(&RunStart {
        params: resolved_params(),
        ..run_start()
    });
    for dtype in [
        Dtype::U8,
        Dtype::U16,
        Dtype::U32,
        Dtype::I16,
        Dtype::F32,
        Dtype::F64,
    ] {
        round_trip(&frame_inline(dtype, 7, 5));
    }
    round_trip(&frame_object());
    round_trip(&run_stop());
    round_trip(&chip_batch());
    round_trip(&embedding_batch());
    round_trip(&segmented());
    round_trip(&Segmented {
        chip_weights: None,
        labels: Some(ObjectRef {
            bucket: "tessera_outputs".into(),
            name: "x".into(),
            size: 1,
            digest: None,
        }),
        ..segmented()
    });
    round_trip(&frame_result());
    round_trip(&FrameResult {
        classes: Some(FrameClasses::failed(
            "oxide-2026",
            "no classifier is named oxide-2026".into(),
        )),
        ..frame_result()
    });
    round_trip(&reject());
    round_trip(&dead_letter());
    round_trip(&service_status());
    round_trip(&run_record());
    round_trip(&frame_progress());
}

#[test]
fn encoding_is_named_fields_with_binary_payloads() {
    let frame = frame_inline(Dtype::U8, 16, 16);
    let bytes = encode(&frame).unwrap();
    assert!((0x80..=0x8f).contains(&bytes[0]), "a msgpack map");
    for name in [
        "version",
        "run",
        "seq",
        "timestamp_ms",
        "dtype",
        "pixels",
        "inline",
    ] {
        assert!(
            bytes.windows(name.len()).any(|w| w == name.as_bytes()),
            "field name {name} on the wire"
        );
    }
    // 256 pixel bytes as one bin (0xc4 len), not an array of integers.
    assert!(
        bytes.windows(2).any(|w| w == [0xc4, 0x00])
            || bytes.windows(3).any(|w| w == [0xc5, 0x01, 0x00])
    );
    assert!(
        bytes.len() < 256 + 200,
        "pixels take one byte each: {}",
        bytes.len()
    );
    // Enums travel as strings.
    assert!(bytes.windows(3).any(|w| w == b"\xa2u8"));
}

/// RunStop as a newer publisher might send it: one more field.
#[derive(Serialize)]
struct RunStopV1Plus {
    version: u16,
    run: String,
    reason: String,
    frames: u64,
    message: String,
    operator_note: Vec<u32>,
}

/// RunStop without the required `frames`.
#[derive(Serialize, Deserialize)]
struct RunStopMissing {
    version: u16,
    run: String,
    reason: String,
}

#[test]
fn unknown_fields_are_ignored_and_missing_fields_named() {
    let newer = RunStopV1Plus {
        version: 1,
        run: "r1".into(),
        reason: "success".into(),
        frames: 3,
        message: String::new(),
        operator_note: vec![1, 2, 3],
    };
    let stop: RunStop = decode(&encode(&newer).unwrap(), &limits()).unwrap();
    assert_eq!(stop.frames, 3);
    assert_eq!(stop.reason, StopReason::Success);

    let missing = RunStopMissing {
        version: 1,
        run: "r1".into(),
        reason: "abort".into(),
    };
    let e = decode::<RunStop>(&encode(&missing).unwrap(), &limits()).unwrap_err();
    assert_eq!(
        e,
        ProtocolError::MissingField {
            kind: MessageKind::RunStop,
            field: "frames".into()
        }
    );
    assert!(e.to_string().contains("`frames`"), "{e}");

    // Optional fields may be left out entirely (a Python publisher's minimal dict).
    #[derive(Serialize)]
    struct MinimalStart {
        version: u16,
        run: &'static str,
        instrument: &'static str,
        modality: &'static str,
        started_at_ms: u64,
    }
    let start: RunStart = decode(
        &encode(&MinimalStart {
            version: 1,
            run: "r1",
            instrument: "sem-2",
            modality: "SEM-SE",
            started_at_ms: 5,
        })
        .unwrap(),
        &limits(),
    )
    .unwrap();
    assert_eq!(start.params, WireParams::default());
    assert!(start.metadata.is_empty() && start.sample.is_empty());
}

#[test]
fn versions_are_checked_before_the_body() {
    let newer = RunStop {
        version: 3,
        ..run_stop()
    };
    let e = decode::<RunStop>(&encode(&newer).unwrap(), &limits()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "run stop message version 3 is newer than this service understands (1); upgrade the service"
    );
    // Even when the newer message's body would not fit this version's shape.
    #[derive(Serialize)]
    struct Future {
        version: u16,
        something_else: bool,
    }
    let e = decode::<Frame>(
        &encode(&Future {
            version: 2,
            something_else: true,
        })
        .unwrap(),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolError::VersionTooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );

    let older = RunStop {
        version: 0,
        ..run_stop()
    };
    let e = decode::<RunStop>(&encode(&older).unwrap(), &limits()).unwrap_err();
    assert!(matches!(
        e,
        ProtocolError::VersionTooOld {
            found: 0,
            oldest: 1,
            ..
        }
    ));
    assert!(e.to_string().contains("upgrade the publisher"), "{e}");

    #[derive(Serialize)]
    struct NoVersion {
        run: &'static str,
    }
    let e = decode::<RunStop>(&encode(&NoVersion { run: "r" }).unwrap(), &limits()).unwrap_err();
    assert!(matches!(e, ProtocolError::MissingField { ref field, .. } if field == "version"));

    assert!(
        encode_message(&newer, &limits()).is_err(),
        "publishers cannot send it either"
    );
}

#[test]
fn bad_payloads_give_clear_errors() {
    let l = limits();
    assert_eq!(
        decode::<Frame>(&[], &l).unwrap_err(),
        ProtocolError::Empty {
            kind: MessageKind::Frame
        }
    );
    let e = decode::<Frame>(b"{\"version\": 1}", &l).unwrap_err();
    assert!(matches!(e, ProtocolError::NotMsgpack { .. }), "{e}");
    assert!(e.to_string().contains("0x7b"), "{e}");

    let good = encode_message(&run_start(), &l).unwrap();
    let e = decode::<RunStart>(&good[..good.len() - 3], &l).unwrap_err();
    assert!(matches!(e, ProtocolError::Truncated { .. }), "{e}");

    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0xc0, 0xc0]);
    let e = decode::<RunStart>(&trailing, &l).unwrap_err();
    assert_eq!(
        e,
        ProtocolError::TrailingBytes {
            kind: MessageKind::RunStart,
            extra: 2
        }
    );

    let small = Limits {
        max_payload_bytes: 16,
        ..l
    };
    let e = decode::<RunStart>(&good, &small).unwrap_err();
    assert!(matches!(e, ProtocolError::TooLarge { max: 16, .. }), "{e}");
    assert!(encode_message(&run_start(), &small).is_err());

    // A run stop sent on the frame subject: the missing field says so.
    let e = decode::<Frame>(&encode_message(&run_stop(), &l).unwrap(), &l).unwrap_err();
    assert!(matches!(e, ProtocolError::MissingField { .. }), "{e}");

    // Wrong enum value, invalid id.
    #[derive(Serialize)]
    struct BadStop {
        version: u16,
        run: &'static str,
        reason: &'static str,
        frames: u64,
    }
    let e = decode::<RunStop>(
        &encode(&BadStop {
            version: 1,
            run: "r1",
            reason: "exploded",
            frames: 1,
        })
        .unwrap(),
        &l,
    )
    .unwrap_err();
    assert!(
        matches!(e, ProtocolError::Malformed { .. }) && e.to_string().contains("exploded"),
        "{e}"
    );
    let e = decode::<RunStop>(
        &encode(&BadStop {
            version: 1,
            run: "r.1",
            reason: "success",
            frames: 1,
        })
        .unwrap(),
        &l,
    )
    .unwrap_err();
    assert!(e.to_string().contains("invalid run id"), "{e}");
}

#[test]
fn acquisition_messages_decode_by_subject() {
    let l = limits();
    let inst = instrument();
    let start = encode_message(&run_start(), &l).unwrap();
    let (i, m) = decode_acq(&subjects::acq_start_subject(&inst), &start, &l).unwrap();
    assert_eq!(i, inst);
    assert!(matches!(m, AcqMessage::Start(_)));
    let other = InstrumentId::new("krios-2").unwrap();
    let e = decode_acq(&subjects::acq_start_subject(&other), &start, &l).unwrap_err();
    assert!(e.to_string().contains("instrument"), "{e}");
    let frame = encode_message(&frame_object(), &l).unwrap();
    assert!(matches!(
        decode_acq(&subjects::acq_frame_subject(&inst), &frame, &l)
            .unwrap()
            .1,
        AcqMessage::Frame(_)
    ));
    let stop = encode_message(&run_stop(), &l).unwrap();
    assert!(matches!(
        decode_acq(&subjects::acq_stop_subject(&inst), &stop, &l)
            .unwrap()
            .1,
        AcqMessage::Stop(_)
    ));
    assert!(decode_acq(&subjects::acq_frame_subject(&inst), &stop, &l).is_err());
    assert!(decode_acq(&subjects::work_subject(&run()), &stop, &l).is_err());
}

#[test]
fn validation_names_fields() {
    let l = limits();
    let cases: Vec<(ProtocolError, &str)> = vec![
        (
            RunStart {
                modality: String::new(),
                ..run_start()
            }
            .validate(&l)
            .unwrap_err(),
            "modality",
        ),
        (
            RunStart {
                params: WireParams {
                    chip: Some(2000),
                    ..Default::default()
                },
                ..run_start()
            }
            .validate(&l)
            .unwrap_err(),
            "params.chip",
        ),
        (
            ChipBatch {
                batch: 3,
                ..chip_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "batch",
        ),
        (
            ChipBatch {
                first_chip: 10,
                ..chip_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "n",
        ),
        (
            ChipBatch {
                chips: vec![0; 12],
                ..chip_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "chips",
        ),
        (
            ChipBatch {
                grid: GridWire {
                    stride: 32,
                    ..grid()
                },
                ..chip_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "grid.stride",
        ),
        (
            EmbeddingBatch {
                dim: 9,
                ..embedding_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "values",
        ),
        (
            EmbeddingBatch {
                cache_hits: 5,
                ..embedding_batch()
            }
            .validate(&l)
            .unwrap_err(),
            "cache_hits",
        ),
        (
            Segmented {
                n_labels: 2,
                ..segmented()
            }
            .validate(&l)
            .unwrap_err(),
            "chip_labels",
        ),
        (
            Segmented {
                chip_weights: Some(vec![0; 8]),
                ..segmented()
            }
            .validate(&l)
            .unwrap_err(),
            "chip_weights",
        ),
        (
            FrameResult {
                communities: vec![CommunityWire {
                    color: "red".into(),
                    ..communities()[0].clone()
                }],
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "communities[0].color",
        ),
        (
            FrameResult {
                communities: vec![communities()[0].clone(), communities()[0].clone()],
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "communities[1].id",
        ),
        (
            FrameResult {
                classes: Some(FrameClasses {
                    unknown_fraction: 1.5,
                    ..frame_classes()
                }),
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "classes.unknown_fraction",
        ),
        (
            FrameResult {
                chip_map: frame_result().chip_map.map(|m| ChipMap {
                    labels: m.labels[4..].to_vec(),
                    ..m
                }),
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "chip_map.labels",
        ),
        (
            FrameResult {
                chip_map: frame_result().chip_map.map(|m| ChipMap {
                    confidence: Some(tessera_protocol::f32s_to_le_bytes(&[-1.0; 12])),
                    ..m
                }),
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "chip_map.confidence",
        ),
        (
            FrameResult {
                chip_map: frame_result().chip_map.map(|m| ChipMap {
                    grid: GridWire {
                        width: 32,
                        ..m.grid
                    },
                    ..m
                }),
                ..frame_result()
            }
            .validate(&l)
            .unwrap_err(),
            "chip_map.grid",
        ),
        (
            Segmented {
                classes: Some(FrameClasses {
                    classifier: "two words".into(),
                    ..frame_classes()
                }),
                ..segmented()
            }
            .validate(&l)
            .unwrap_err(),
            "classes.classifier",
        ),
        (
            Reject {
                service: "in gest".into(),
                ..reject()
            }
            .validate(&l)
            .unwrap_err(),
            "service",
        ),
        (
            FrameProgress {
                received: 4,
                ..frame_progress()
            }
            .validate(&l)
            .unwrap_err(),
            "received",
        ),
    ];
    for (e, field) in cases {
        assert!(matches!(e, ProtocolError::Invalid { .. }), "{e}");
        assert!(
            e.to_string().contains(&format!("`{field}`")),
            "{field}: {e}"
        );
    }
}

#[test]
fn byte_accessors() {
    let batch = chip_batch();
    let chips = batch.chips_f32().unwrap();
    assert_eq!(chips.len(), 4 * 16 * 16);
    assert_eq!(chips[255], 1.0);
    let mut out_of_range = batch.clone();
    out_of_range.chips[0..4].copy_from_slice(&1.5f32.to_le_bytes());
    assert!(
        out_of_range
            .chips_f32()
            .unwrap_err()
            .to_string()
            .contains("outside [0, 1]")
    );
    let mut short = batch;
    short.chips.pop();
    assert!(
        short
            .chips_f32()
            .unwrap_err()
            .to_string()
            .contains("multiple of 4")
    );

    let emb = embedding_batch();
    let values = emb.values_f32().unwrap();
    assert_eq!(values.len(), 32);
    assert_eq!(values[1], -2.75);
    let wrong = EmbeddingBatch {
        n: 3,
        ..emb.clone()
    };
    assert!(
        wrong
            .values_f32()
            .unwrap_err()
            .to_string()
            .contains("declares 24")
    );
    let mut nan = emb;
    nan.values[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(
        nan.values_f32()
            .unwrap_err()
            .to_string()
            .contains("not finite")
    );

    let seg = segmented();
    assert_eq!(seg.chip_labels_u32().unwrap()[11], 2);
    assert_eq!(seg.chip_weights_f32().unwrap().unwrap().len(), 12);
    assert_eq!(
        Segmented {
            chip_weights: None,
            ..seg
        }
        .chip_weights_f32()
        .unwrap(),
        None
    );
}
