//! Synthetic SER and EMI files built here, byte by byte, from the layout in the module docs.

use std::collections::HashMap;

use super::*;
use crate::{DType, NoCompanions, SignalKind};

/// One data element: calibrations (x first), data type code, sizes (x first), raw data.
struct Elem {
    cal: Vec<(f64, f64, u32)>,
    code: u16,
    sizes: Vec<u32>,
    data: Vec<u8>,
}

fn image_u16(nx: u32, ny: u32, values: &[u16]) -> Elem {
    Elem {
        cal: vec![(-1e-9, 2e-10, 0), (5e-9, 2e-10, 2)],
        code: 2,
        sizes: vec![nx, ny],
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn spectrum_u32(values: &[u32]) -> Elem {
    Elem {
        cal: vec![(100.0, 10.0, 0)],
        code: 3,
        sizes: vec![values.len() as u32],
        data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// A navigation dimension: size, offset, delta, element, description, units.
type DimSpec<'a> = (u32, f64, f64, u32, &'a str, &'a str);

/// A SER file: header, dimension arrays, the offset arrays (for `total` elements), the
/// elements one after another, then a tag per element (with positions where given).
fn ser(
    version: u16,
    dims: &[DimSpec<'_>],
    total: u32,
    elems: &[Elem],
    positions: Option<&[(f64, f64)]>,
) -> Vec<u8> {
    let wide = version == 0x0220;
    let two_d = elems.first().is_some_and(|e| e.sizes.len() == 2);
    let mut b = Vec::new();
    b.extend(0x4949u16.to_le_bytes());
    b.extend(0x0197u16.to_le_bytes());
    b.extend(version.to_le_bytes());
    b.extend((if two_d { 0x4122u32 } else { 0x4120 }).to_le_bytes());
    b.extend(
        (if positions.is_some() {
            0x4142u32
        } else {
            0x4152
        })
        .to_le_bytes(),
    );
    b.extend(total.to_le_bytes());
    b.extend((elems.len() as u32).to_le_bytes());
    let offset_array_at = b.len();
    b.extend(if wide { vec![0u8; 8] } else { vec![0u8; 4] });
    b.extend((dims.len() as u32).to_le_bytes());
    for &(size, off, delta, el, desc, units) in dims {
        b.extend(size.to_le_bytes());
        b.extend(off.to_le_bytes());
        b.extend(delta.to_le_bytes());
        b.extend(el.to_le_bytes());
        b.extend((desc.len() as u32).to_le_bytes());
        b.extend(desc.as_bytes());
        b.extend((units.len() as u32).to_le_bytes());
        b.extend(units.as_bytes());
    }
    let array_at = b.len() as u64;
    let w = if wide { 8 } else { 4 };
    let put = |b: &mut Vec<u8>, at: usize, v: u64| {
        if wide {
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
        } else {
            b[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
        }
    };
    put(&mut b, offset_array_at, array_at);
    b.extend(vec![0u8; 2 * w * total as usize]);
    for (i, e) in elems.iter().enumerate() {
        let at = b.len() as u64;
        put(&mut b, array_at as usize + i * w, at);
        for &(o, d, el) in &e.cal {
            b.extend(o.to_le_bytes());
            b.extend(d.to_le_bytes());
            b.extend(el.to_le_bytes());
        }
        b.extend(e.code.to_le_bytes());
        for s in &e.sizes {
            b.extend(s.to_le_bytes());
        }
        b.extend(&e.data);
    }
    for i in 0..elems.len() {
        let at = b.len() as u64;
        put(&mut b, array_at as usize + (total as usize + i) * w, at);
        b.extend(
            (if positions.is_some() {
                0x4142u16
            } else {
                0x4152
            })
            .to_le_bytes(),
        );
        b.extend(0u16.to_le_bytes());
        b.extend((1_456_167_473u32 + i as u32).to_le_bytes());
        if let Some(p) = positions {
            b.extend(p[i].0.to_le_bytes());
            b.extend(p[i].1.to_le_bytes());
        }
    }
    b
}

fn single_image() -> Vec<u8> {
    // 3 wide, 2 high; stored bottom row first.
    let e = image_u16(3, 2, &[4, 5, 6, 1, 2, 3]);
    ser(0x0210, &[(1, 0.0, 1.0, 0, "Number", "")], 1, &[e], None)
}

struct Files(HashMap<String, Vec<u8>>);

impl Companions for Files {
    fn read(&self, name: &str) -> Option<Vec<u8>> {
        self.0.get(name).cloned()
    }
}

fn limits() -> ReadLimits {
    ReadLimits::default()
}

/// A TIA string: `60 00`, the tag, the length, the characters.
fn tagged(tag: [u8; 2], s: &str) -> Vec<u8> {
    let mut b = vec![0x60, 0x00, tag[0], tag[1]];
    b.extend((s.len() as u32).to_le_bytes());
    b.extend(s.as_bytes());
    b
}

fn object_info(mode: &str, camera: Option<&str>, date: &str) -> String {
    let camera = camera
        .map(|c| format!("<CameraNamePath>{c}</CameraNamePath>"))
        .unwrap_or_default();
    format!(
        "<ObjectInfo><ExperimentalDescription><Root>\
         <Data><Label>Microscope</Label><Value>Microscope Test 300 kV</Value><Unit></Unit></Data>\
         <Data><Label>High tension</Label><Value>300</Value><Unit>kV</Unit></Data>\
         <Data><Label>Mode</Label><Value>{mode}</Value><Unit></Unit></Data>\
         <Data><Label>Magnification</Label><Value>20000</Value><Unit>x</Unit></Data>\
         <Data><Label>User</Label><Value>A &amp; B</Value><Unit></Unit></Data>\
         </Root></ExperimentalDescription><AcquireDate>{date}</AcquireDate>\
         <AcquireInfo><DwellTimePath>0.000010</DwellTimePath>{camera}</AcquireInfo>\
         </ObjectInfo>"
    )
}

/// An EMI naming two data objects, each followed by its SER path and its block.
fn emi_file() -> Vec<u8> {
    let mut b = b"JK\0\x02\0\0\0\0".to_vec();
    b.extend(tagged([0x00, 0x01], "12.00.00 Scanning Acquire"));
    b.extend(tagged([0x12, 0x07], "4.5.1101.0"));
    for (n, name, det, cam) in [
        (1, "Acquire BF", "STEM", None),
        (2, "Acquire HAADF", "STEM", None),
    ] {
        b.extend(tagged([0x00, 0x01], &format!("{name} Scanning Display1")));
        b.extend([0u8; 40]);
        b.extend(tagged([0x00, 0x01], name));
        b.extend([7u8; 100]);
        b.extend(tagged([0x40, 0x04], &format!("C:\\data\\run_{n}.ser")));
        b.extend([0x32, 0, 0x42, 0x04, 2, 0]);
        let xml = object_info(det, cam, "Mon Jan 1 10:00:00 2024");
        b.extend(tagged([0x19, 0x04], &xml));
    }
    b
}

#[test]
fn a_single_image_reads_flipped_with_its_calibration_and_a_note() {
    let a = read(&single_image(), "x_1.ser", &NoCompanions, &limits()).unwrap();
    assert_eq!(a.format, FileFormat::Ser);
    let s = &a.signals[0];
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::U16);
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(s.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(s.axes[1].offset, -1e-9);
    // y: offset 5e-9 at element 2, so 4.6e-9 at index 0.
    assert!((s.axes[0].offset - 4.6e-9).abs() < 1e-18);
    assert_eq!(s.axes[0].unit, "m");
    assert_eq!(s.name, "x_1");
    assert_eq!(a.metadata.acquired.as_deref(), Some("2016-02-22T18:57:53Z"));
    assert!(a.notes.iter().any(|n| n.contains("x.emi was not found")));
    assert!(a.notes.iter().any(|n| n.contains("taken to be m")));
}

#[test]
fn a_spectrum_image_is_y_x_energy_with_dimension_1_fastest() {
    let elems: Vec<Elem> = (0..6).map(|i| spectrum_u32(&[i, 10 * i])).collect();
    let dims = [
        (3, 0.0, 1e-9, 0, "Position", "meters"),
        (2, 0.0, -2e-9, 0, "Position", "meters"),
    ];
    let pos: Vec<(f64, f64)> = (0..6)
        .map(|i| (f64::from(i % 3), f64::from(i / 3)))
        .collect();
    let b = ser(0x0220, &dims, 6, &elems, Some(&pos));
    let a = read(&b, "si.ser", &NoCompanions, &limits()).unwrap();
    let s = &a.signals[0];
    assert_eq!(s.kind, SignalKind::SpectrumImage);
    assert_eq!(s.shape(), [2, 3, 2]);
    let names: Vec<&str> = s.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["y", "x", "energy"]);
    assert_eq!(s.axes[0].scale, -2e-9);
    assert_eq!(s.axes[1].unit, "m");
    assert_eq!(
        (s.axes[2].scale, s.axes[2].offset, s.axes[2].unit.as_str()),
        (10.0, 100.0, "eV")
    );
    assert_eq!(s.data[..4], [0.0, 0.0, 1.0, 10.0]);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("not named <stem>_<n>.ser"))
    );

    // Positions moving along y first: dimension 1 is the outer one.
    let pos: Vec<(f64, f64)> = (0..6)
        .map(|i| (f64::from(i / 2), f64::from(i % 2)))
        .collect();
    let b = ser(0x0220, &dims, 6, &elems, Some(&pos));
    let s = read(&b, "si.ser", &NoCompanions, &limits())
        .unwrap()
        .signals
        .remove(0);
    assert_eq!(s.shape(), [3, 2, 2]);
}

#[test]
fn an_aborted_series_reads_what_was_written() {
    let elems: Vec<Elem> = (0..2).map(|i| image_u16(2, 2, &[i; 4])).collect();
    let b = ser(0x0210, &[(10, 0.0, 1.0, 0, "Number", "")], 10, &elems, None);
    let a = read(&b, "s_1.ser", &NoCompanions, &limits()).unwrap();
    let s = &a.signals[0];
    assert_eq!(s.kind, SignalKind::ImageStack);
    assert_eq!(s.shape(), [2, 2, 2]);
    assert_eq!(s.axes[0].name, "frame");
    assert!(a.notes.iter().any(|n| n.contains("2 of 10")));

    // A map stopped early: the missing spectra are NaN.
    let elems: Vec<Elem> = (0..3).map(|i| spectrum_u32(&[i])).collect();
    let dims = [(2, 0.0, 1.0, 0, "Position", "meters"); 2];
    let b = ser(0x0210, &dims, 4, &elems, None);
    let a = read(&b, "m_1.ser", &NoCompanions, &limits()).unwrap();
    let s = &a.signals[0];
    assert_eq!(s.shape(), [2, 2, 1]);
    assert_eq!(s.data[..3], [0.0, 1.0, 2.0]);
    assert!(s.data[3].is_nan());
}

#[test]
fn complex_elements_read_as_their_modulus() {
    let e = Elem {
        cal: vec![(0.0, 1.0, 0)],
        code: 9,
        sizes: vec![1],
        data: [3.0f32, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let b = ser(0x0210, &[(1, 0.0, 1.0, 0, "Number", "")], 1, &[e], None);
    let s = read(&b, "c_1.ser", &NoCompanions, &limits())
        .unwrap()
        .signals
        .remove(0);
    assert_eq!(
        (s.kind, s.dtype, s.data.as_slice()),
        (SignalKind::Spectrum, DType::Complex64, &[5.0f32][..])
    );
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let b = single_image();
    for n in 1..b.len() - 8 {
        let r = read(&b[..n], "t_1.ser", &NoCompanions, &limits());
        assert!(r.is_err(), "{n} bytes were read");
    }
    // Tags are optional: a file cut inside the last tag still reads, with a note.
    let a = read(&b[..b.len() - 2], "t_1.ser", &NoCompanions, &limits()).unwrap();
    assert!(a.notes.iter().any(|n| n.contains("tag")));
}

#[test]
fn damaged_headers_are_refused() {
    let good = single_image();
    let patch = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        read(&b, "d_1.ser", &NoCompanions, &limits()).unwrap_err()
    };
    // (sniff sends only "II\x97\x01" files here; the layout checks the id all the same)
    let mut b = good.clone();
    b[2] = 0x98;
    let e = series::parse(&b, None, &limits()).unwrap_err();
    assert!(matches!(e, FormatError::Corrupt { .. }), "{e}");
    assert!(matches!(
        patch(4, &[0x30, 0x02]),
        FormatError::Unsupported { .. }
    ));
    assert!(matches!(
        patch(6, &[0x21, 0x41]),
        FormatError::Unsupported { .. }
    ));
    // valid (2) > total (1)
    assert!(matches!(
        patch(18, &[2, 0, 0, 0]),
        FormatError::Corrupt { .. }
    ));
    // no valid elements
    let e = patch(18, &[0, 0, 0, 0]);
    assert!(e.to_string().contains("no valid data elements"), "{e}");
    // 9 dimensions
    assert!(matches!(
        patch(26, &[9, 0, 0, 0]),
        FormatError::Corrupt { .. }
    ));
    // data type 11
    let at = good.len() - 8 - 12 - 8 - 2;
    let e = patch(at, &[11, 0]);
    assert!(e.to_string().contains("data type 11"), "{e}");
}

#[test]
fn oversized_and_overlapping_elements_are_refused_before_allocating() {
    // One element claiming 65536 × 65536 pixels: over max_pixels.
    let mut e = image_u16(2, 2, &[0; 4]);
    e.sizes = vec![65536, 65536];
    let b = ser(0x0210, &[(1, 0.0, 1.0, 0, "Number", "")], 1, &[e], None);
    let err = read(&b, "o_1.ser", &NoCompanions, &limits()).unwrap_err();
    assert!(matches!(err, FormatError::TooLarge { .. }), "{err}");
    // Within the limits but not in the file.
    let mut e = image_u16(2, 2, &[0; 4]);
    e.sizes = vec![4096, 4096];
    let b = ser(0x0210, &[(1, 0.0, 1.0, 0, "Number", "")], 1, &[e], None);
    let err = read(&b, "o_1.ser", &NoCompanions, &limits()).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
    // A billion elements whose offset array is not there.
    let mut b = single_image();
    b[14..18].copy_from_slice(&1_000_000_000u32.to_le_bytes());
    let err = read(&b, "o_1.ser", &NoCompanions, &limits()).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
    // Two elements at the same offset.
    let elems: Vec<Elem> = (0..2).map(|_| image_u16(2, 2, &[1; 4])).collect();
    let mut b = ser(0x0210, &[(2, 0.0, 1.0, 0, "Number", "")], 2, &elems, None);
    let array = u32::from_le_bytes(b[22..26].try_into().unwrap()) as usize;
    let first: [u8; 4] = b[array..array + 4].try_into().unwrap();
    b[array + 4..array + 8].copy_from_slice(&first);
    let err = read(&b, "o_1.ser", &NoCompanions, &limits()).unwrap_err();
    assert!(err.to_string().contains("overlaps"), "{err}");
}

#[test]
fn byte_flips_never_panic() {
    let elems: Vec<Elem> = (0..3).map(|i| spectrum_u32(&[i, i + 1])).collect();
    let dims = [(3, 0.0, 1e-9, 0, "Position", "meters")];
    let good = ser(
        0x0220,
        &dims,
        3,
        &elems,
        Some(&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)]),
    );
    let mut state = 0x2545_f491u32;
    for _ in 0..4000 {
        let mut b = good.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = state as usize % b.len();
            b[at] = (state >> 24) as u8;
        }
        let _ = read(&b, "f_1.ser", &NoCompanions, &limits());
    }
}

#[test]
fn an_emi_reads_its_ser_files_named_by_their_detectors() {
    let mut files = HashMap::new();
    files.insert("run_1.ser".to_string(), single_image());
    files.insert("run_2.ser".to_string(), single_image());
    let a = read(&emi_file(), "run.emi", &Files(files.clone()), &limits()).unwrap();
    assert_eq!(a.format, FileFormat::Emi);
    let names: Vec<&str> = a.signals.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["BF", "HAADF"]);
    assert_eq!(a.signals[1].metadata["tia_name"], "Acquire HAADF");
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("Test 300 kV"));
    assert_eq!(m.voltage_kv, Some(300.0));
    assert_eq!(m.magnification, Some(20000.0));
    assert_eq!(m.exposure_s, Some(0.00001));
    assert_eq!(m.acquired.as_deref(), Some("Mon Jan 1 10:00:00 2024"));
    assert_eq!(m.extra["operator"], "A & B");
    assert_eq!(m.extra["tia_version"], "4.5.1101.0");
    assert!(a.notes.is_empty(), "{:?}", a.notes);

    // The SER alone finds its EMI and its name; the unit comes from the mode.
    files.insert("run.emi".to_string(), emi_file());
    let a = read(&single_image(), "run_2.ser", &Files(files), &limits()).unwrap();
    assert_eq!(a.signals[0].name, "HAADF");
    assert_eq!(a.metadata.voltage_kv, Some(300.0));
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn an_emi_without_its_ser_files_names_the_missing_one() {
    let e = read(&emi_file(), "dir/run.emi", &NoCompanions, &limits()).unwrap_err();
    match e {
        FormatError::MissingCompanion {
            format,
            missing,
            hint,
        } => {
            assert_eq!((format, missing.as_str()), ("EMI", "run_1.ser"));
            assert!(hint.contains("run_2.ser"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    // A damaged SER of an EMI names the file.
    let mut files = HashMap::new();
    files.insert("run_1.ser".to_string(), single_image()[..60].to_vec());
    let e = read(&emi_file(), "run.emi", &Files(files), &limits()).unwrap_err();
    assert!(e.to_string().contains("run_1.ser"), "{e}");
}

#[test]
fn names_units_and_times() {
    assert_eq!(ser_number("a_b_12.ser"), Some(("a_b", 12)));
    assert_eq!(
        ser_number("03_Scanning Preview_1.SER"),
        Some(("03_Scanning Preview", 1))
    );
    assert_eq!(ser_number("x.ser"), None);
    assert_eq!(ser_number("x_a.ser"), None);
    assert_eq!(base_name("C:\\d\\x_1.ser"), "x_1.ser");
    assert_eq!(emi::detector("Acquire DF4"), Some("DF4".into()));
    assert_eq!(emi::detector("EDX Spectrum profile"), Some("EDX".into()));
    assert_eq!(emi::detector("Acquire"), None);
    assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc(u32::MAX), "2106-02-07T06:28:15Z");
    let o = emi::Emi::parse(object_info("TEM Diffraction", None, "d").as_bytes());
    assert_eq!(o.objects[0].image_unit(), Some("1/m"));
    let o = emi::Emi::parse(object_info("STEM nP", Some("Ceta"), "d").as_bytes());
    assert_eq!(o.objects[0].image_unit(), Some("1/m"));
    let o = emi::Emi::parse(object_info("TEM Image", None, "d").as_bytes());
    assert_eq!(o.objects[0].image_unit(), Some("m"));
    // Unclosed blocks and stray markers tell nothing, and do not panic.
    let e = emi::Emi::parse(b"<ObjectInfo><Uuid>x</Uuid>\x60\x00\x00\x01\xff\xff\xff\xff");
    assert!(e.objects.is_empty());
}
