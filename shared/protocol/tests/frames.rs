//! Frame validation: shapes, inline sizes per dtype, object references, sample conversion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tessera_protocol::*;

const DTYPES: [(Dtype, u64); 6] = [
    (Dtype::U8, 1),
    (Dtype::U16, 2),
    (Dtype::U32, 4),
    (Dtype::I16, 2),
    (Dtype::F32, 4),
    (Dtype::F64, 8),
];

#[test]
fn inline_size_must_match_each_dtype() {
    let l = limits();
    for (dtype, size) in DTYPES {
        assert_eq!(dtype.size_bytes(), size);
        let frame = frame_inline(dtype, 13, 7);
        frame.validate(&l).unwrap();
        assert_eq!(frame.raw_len(), Some(13 * 7 * size));
        for delta in [-1i64, 1, size as i64] {
            let len = (13 * 7 * size) as i64 + delta;
            let bad = Frame {
                pixels: Pixels::Inline(vec![0; len as usize]),
                ..frame.clone()
            };
            let e = bad.validate(&l).unwrap_err().to_string();
            assert!(
                e.contains("`pixels.inline`") && e.contains(&format!("take {}", 13 * 7 * size)),
                "{dtype:?}: {e}"
            );
        }
        // And through the codec, as ingest sees it.
        let bad = Frame {
            pixels: Pixels::Inline(vec![0; 3]),
            ..frame
        };
        assert!(decode::<Frame>(&encode(&bad).unwrap(), &l).is_err());
    }
}

#[test]
fn shapes_and_limits() {
    let l = limits();
    for (w, h) in [(0, 5), (5, 0), (0, 0)] {
        let f = Frame {
            width: w,
            height: h,
            pixels: Pixels::Inline(vec![]),
            ..frame_inline(Dtype::U8, 1, 1)
        };
        assert!(f.validate(&l).unwrap_err().to_string().contains("is 0"));
    }
    let small = Limits {
        max_frame_pixels: 100,
        ..l
    };
    let e = frame_inline(Dtype::U8, 11, 10)
        .validate(&small)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("110 pixels") && e.contains("limit of 100"),
        "{e}"
    );
    frame_inline(Dtype::U8, 10, 10).validate(&small).unwrap();
    let huge = Frame {
        width: u32::MAX,
        height: u32::MAX,
        ..frame_object()
    };
    assert!(huge.validate(&l).is_err());

    let bad_dose = Frame {
        dose: Some(f64::NAN),
        ..frame_inline(Dtype::U8, 2, 2)
    };
    assert!(
        bad_dose
            .validate(&l)
            .unwrap_err()
            .to_string()
            .contains("`dose`")
    );
    let bad_scalar = Frame {
        scalars: [("tilt".to_owned(), f64::INFINITY)].into(),
        ..frame_inline(Dtype::U8, 2, 2)
    };
    assert!(
        bad_scalar
            .validate(&l)
            .unwrap_err()
            .to_string()
            .contains("scalars")
    );
}

#[test]
fn object_references() {
    let l = limits();
    frame_object().validate(&l).unwrap();
    let mut f = frame_object();
    if let Pixels::Object(o) = &mut f.pixels {
        o.size -= 2;
    }
    let e = f.validate(&l).unwrap_err().to_string();
    assert!(
        e.contains("`pixels.object.size`") && e.contains("8388608"),
        "{e}"
    );
    let mut f = frame_object();
    if let Pixels::Object(o) = &mut f.pixels {
        o.bucket = "tessera.frames".into();
    }
    assert!(
        f.validate(&l)
            .unwrap_err()
            .to_string()
            .contains("pixels.object.bucket")
    );
    let mut f = frame_object();
    if let Pixels::Object(o) = &mut f.pixels {
        o.name = String::new();
    }
    assert!(
        f.validate(&l)
            .unwrap_err()
            .to_string()
            .contains("pixels.object.name")
    );
    assert!(
        f.inline_samples().is_err(),
        "object pixels must be fetched first"
    );
}

#[test]
fn inline_threshold() {
    let l = limits();
    assert_eq!(Frame::INLINE_MAX_BYTES, DEFAULT_INLINE_MAX_BYTES);
    assert!(l.pixels_inline(512 * 512 * 2));
    assert!(!l.pixels_inline(1024 * 1024 * 2));
    // The largest inline frame still encodes under a 1 MiB NATS payload.
    let side = 640u32; // 640² u16 = 800 KiB
    let f = frame_inline(Dtype::U16, side, side);
    assert!(l.pixels_inline(f.raw_len().unwrap()));
    assert!(encode_message(&f, &l).unwrap().len() < 1024 * 1024);
}

#[test]
fn samples_convert_from_every_dtype() {
    let (w, h) = (3u32, 2u32);
    let expect = [0.0f32, 1.0, 2.0, 3.0, 250.0, 255.0];
    let u8s: Vec<u8> = expect.iter().map(|&v| v as u8).collect();
    let u16s: Vec<u8> = expect
        .iter()
        .flat_map(|&v| (v as u16).to_le_bytes())
        .collect();
    let u32s: Vec<u8> = expect
        .iter()
        .flat_map(|&v| (v as u32).to_le_bytes())
        .collect();
    let i16s: Vec<u8> = expect
        .iter()
        .flat_map(|&v| (v as i16).to_le_bytes())
        .collect();
    let f32s = f32s_to_le_bytes(&expect);
    let f64s: Vec<u8> = expect
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    for (dtype, bytes) in [
        (Dtype::U8, u8s),
        (Dtype::U16, u16s),
        (Dtype::U32, u32s),
        (Dtype::I16, i16s),
        (Dtype::F32, f32s),
        (Dtype::F64, f64s),
    ] {
        assert_eq!(
            samples_to_f32(dtype, w, h, &bytes).unwrap(),
            expect,
            "{dtype:?}"
        );
        assert!(samples_to_f32(dtype, w, h, &bytes[1..]).is_err());
        let frame = Frame {
            width: w,
            height: h,
            dtype,
            pixels: Pixels::Inline(bytes),
            ..frame_inline(Dtype::U8, 1, 1)
        };
        assert_eq!(frame.inline_samples().unwrap(), expect);
    }
    let neg = (-7i16).to_le_bytes();
    assert_eq!(samples_to_f32(Dtype::I16, 1, 1, &neg).unwrap(), [-7.0]);
    let nan = f32s_to_le_bytes(&[1.0, f32::NAN]);
    let e = samples_to_f32(Dtype::F32, 2, 1, &nan)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sample 1 (x 1, y 0)"), "{e}");
    assert!(samples_to_f32(Dtype::F64, 1, 1, &1e300f64.to_le_bytes()).is_err());
}
