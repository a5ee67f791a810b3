//! Synthetic DM3/DM4 files built here, tag by tag: valid ones in both versions and byte
//! orders, and truncated, corrupt and oversized ones.

use super::*;
use crate::{DType, NoCompanions};

/// A tag of a synthetic file.
enum T {
    /// A group with its entries.
    G(&'static str, Vec<T>),
    /// A simple value: type code and value.
    N(&'static str, u64, f64),
    /// A text, as DM writes it: an array of u16.
    S(&'static str, &'static str),
    /// Any data tag: its type definition and its data bytes (already in the file's order).
    Raw(&'static str, Vec<u64>, Vec<u8>),
}

/// Writes DM3 (`v4` false) or DM4 files in either byte order.
#[derive(Clone, Copy)]
struct W {
    v4: bool,
    le: bool,
}

impl W {
    fn len(self, out: &mut Vec<u8>, v: u64) {
        if self.v4 {
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.extend_from_slice(&(v as u32).to_be_bytes());
        }
    }

    /// The bytes of a simple value of type `code`.
    fn simple(self, code: u64, v: f64) -> Vec<u8> {
        macro_rules! b {
            ($x:expr) => {
                if self.le {
                    $x.to_le_bytes().to_vec()
                } else {
                    $x.to_be_bytes().to_vec()
                }
            };
        }
        match code {
            2 => b!(v as i16),
            3 => b!(v as i32),
            4 => b!(v as u16),
            5 => b!(v as u32),
            6 => b!(v as f32),
            7 => b!(v),
            8 | 10 => vec![v as u8],
            9 => vec![v as i8 as u8],
            11 => b!(v as i64),
            12 => b!(v as u64),
            _ => panic!("not simple: {code}"),
        }
    }

    /// The bytes of several values of type `code`.
    fn values(self, code: u64, vs: &[f64]) -> Vec<u8> {
        vs.iter().flat_map(|&v| self.simple(code, v)).collect()
    }

    fn file(self, root: &[T]) -> Vec<u8> {
        let mut tree = Vec::new();
        self.group(&mut tree, root);
        let mut out = Vec::new();
        out.extend_from_slice(&(if self.v4 { 4u32 } else { 3 }).to_be_bytes());
        self.len(&mut out, tree.len() as u64);
        out.extend_from_slice(&u32::from(self.le).to_be_bytes());
        out.extend_from_slice(&tree);
        out.extend_from_slice(&[0; 8]);
        out
    }

    fn group(self, out: &mut Vec<u8>, entries: &[T]) {
        out.extend_from_slice(&[0, 1]);
        self.len(out, entries.len() as u64);
        for e in entries {
            self.entry(out, e);
        }
    }

    fn entry(self, out: &mut Vec<u8>, e: &T) {
        let (kind, name) = match e {
            T::G(n, _) => (20u8, *n),
            T::N(n, ..) | T::S(n, _) | T::Raw(n, ..) => (21, *n),
        };
        let mut body = Vec::new();
        match e {
            T::G(_, entries) => self.group(&mut body, entries),
            T::N(_, code, v) => self.data(&mut body, &[*code], &self.simple(*code, *v)),
            T::S(_, s) => {
                let units: Vec<f64> = s.encode_utf16().map(f64::from).collect();
                self.data(
                    &mut body,
                    &[20, 4, units.len() as u64],
                    &self.values(4, &units),
                );
            }
            T::Raw(_, info, data) => self.data(&mut body, info, data),
        }
        out.push(kind);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        if self.v4 {
            out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        }
        out.extend_from_slice(&body);
    }

    fn data(self, out: &mut Vec<u8>, info: &[u64], data: &[u8]) {
        out.extend_from_slice(b"%%%%");
        self.len(out, info.len() as u64);
        for &v in info {
            self.len(out, v);
        }
        out.extend_from_slice(data);
    }

    /// An `ImageList` entry: `dims` fastest first, calibrations (scale, origin, unit) per
    /// dimension, the samples as an array of `elem` (type code) holding `data`.
    #[allow(clippy::too_many_arguments)]
    fn image(
        self,
        name: &'static str,
        data_type: u64,
        dims: &[u64],
        cal: &[(f64, f64, &'static str)],
        elem: u64,
        count: u64,
        data: Vec<u8>,
        tags: Vec<T>,
    ) -> T {
        let dim_tags = dims
            .iter()
            .map(|&d| T::N("", if self.v4 { 12 } else { 5 }, d as f64))
            .collect();
        let cal_tags = cal
            .iter()
            .map(|&(s, o, u)| {
                T::G(
                    "",
                    vec![T::N("Origin", 6, o), T::N("Scale", 6, s), T::S("Units", u)],
                )
            })
            .collect();
        T::G(
            "",
            vec![
                T::G(
                    "ImageData",
                    vec![
                        T::G(
                            "Calibrations",
                            vec![
                                T::G(
                                    "Brightness",
                                    vec![
                                        T::N("Origin", 6, 0.0),
                                        T::N("Scale", 6, 1.0),
                                        T::S("Units", ""),
                                    ],
                                ),
                                T::G("Dimension", cal_tags),
                            ],
                        ),
                        T::Raw("Data", vec![20, elem, count], data),
                        T::N("DataType", 5, data_type as f64),
                        T::G("Dimensions", dim_tags),
                    ],
                ),
                T::G("ImageTags", tags),
                T::S("Name", name),
            ],
        )
    }

    /// A 64-byte RGB thumbnail entry (4 × 4, DataType 23).
    fn thumbnail(self) -> T {
        self.image("Image Of x", 23, &[4, 4], &[], 3, 16, vec![7; 64], vec![])
    }
}

fn read_bytes(b: &[u8], name: &str) -> Result<Acquisition, FormatError> {
    crate::read(name, b, &NoCompanions, &ReadLimits::default())
}

/// A 3 × 2 u16 HAADF image with a thumbnail, calibration and metadata.
fn haadf(w: W) -> Vec<u8> {
    let tags = vec![
        T::G(
            "DataBar",
            vec![
                T::S("Acquisition Date", "8/8/2016"),
                T::S("Acquisition Time", "4:26:37 PM"),
            ],
        ),
        T::G("DigiScan", vec![T::N("Sample Time", 7, 3.5)]),
        T::G(
            "Microscope Info",
            vec![
                T::S("Illumination Mode", "STEM"),
                T::N("Indicated Magnification", 7, 225000.0),
                T::S("Name", "Interface"),
                T::N("Voltage", 7, 200000.0),
            ],
        ),
        T::G(
            "Session Info",
            vec![T::S("Microscope", "Titan"), T::S("Operator", "")],
        ),
    ];
    let img = w.image(
        "HAADF",
        10,
        &[3, 2],
        &[(0.25, -4.0, "nm"), (0.25, 2.0, "nm")],
        4,
        6,
        w.values(4, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        tags,
    );
    w.file(&[
        T::G("ImageList", vec![w.thumbnail(), img]),
        T::G(
            "Thumbnails",
            vec![T::G("", vec![T::N("ImageIndex", 5, 0.0)])],
        ),
    ])
}

#[test]
fn both_versions_and_byte_orders_read_the_same_image() {
    for (v4, le) in [(false, true), (false, false), (true, true), (true, false)] {
        let a = read_bytes(&haadf(W { v4, le }), "x.dm3").unwrap();
        assert_eq!(a.format, if v4 { FileFormat::Dm4 } else { FileFormat::Dm3 });
        assert_eq!(a.signals.len(), 1, "thumbnail skipped");
        let s = &a.signals[0];
        assert_eq!(s.name, "HAADF");
        assert_eq!(s.kind, SignalKind::Image);
        assert_eq!(s.dtype, DType::U16);
        assert_eq!(s.shape(), [2, 3]);
        assert_eq!(s.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (y, x) = (&s.axes[0], &s.axes[1]);
        assert_eq!(
            (y.name.as_str(), y.scale, y.offset, y.unit.as_str()),
            ("y", 0.25, -0.5, "nm")
        );
        assert_eq!((x.name.as_str(), x.scale, x.offset), ("x", 0.25, 1.0));
        let m = &a.metadata;
        assert_eq!(m.microscope.as_deref(), Some("Titan"));
        assert_eq!(m.voltage_kv, Some(200.0));
        assert_eq!(m.magnification, Some(225000.0));
        assert_eq!(m.exposure_s, Some(3.5e-6));
        assert_eq!(m.acquired.as_deref(), Some("8/8/2016 4:26:37 PM"));
        assert!(!m.extra.contains_key("operator"), "empty tags are left out");
        assert!(a.notes.iter().any(|n| n.contains("thumbnail")));
    }
}

#[test]
fn a_first_rgb_entry_is_the_thumbnail_even_without_a_thumbnails_group() {
    let w = W {
        v4: false,
        le: true,
    };
    let img = w.image("A", 6, &[2, 2], &[], 10, 4, vec![1, 2, 3, 4], vec![]);
    let only_rgb = w.file(&[T::G("ImageList", vec![w.thumbnail()])]);
    let both = w.file(&[T::G("ImageList", vec![w.thumbnail(), img])]);
    let a = read_bytes(&both, "two.dm3").unwrap();
    assert_eq!(a.signals.len(), 1);
    assert_eq!(a.signals[0].dtype, DType::U8);
    let a = read_bytes(&only_rgb, "rgb.dm3").unwrap();
    assert_eq!(a.signals[0].dtype, DType::Rgb8);
    // Bytes 7,7,7,7 read as B, G, R: grey 7.
    assert!((a.signals[0].data[0] - 7.0).abs() < 1e-3);
}

#[test]
fn every_sample_type_reads_its_values() {
    let w = W { v4: true, le: true };
    let cases: [(u64, u64, DType); 11] = [
        (1, 2, DType::I16),
        (2, 6, DType::F32),
        (6, 10, DType::U8),
        (7, 3, DType::I32),
        (9, 9, DType::I8),
        (10, 4, DType::U16),
        (11, 5, DType::U32),
        (12, 7, DType::F64),
        (14, 8, DType::Bool),
        (39, 11, DType::I64),
        (40, 12, DType::U64),
    ];
    for (data_type, elem, dtype) in cases {
        let vals = [1.0, 0.0, 1.0, 1.0];
        let img = w.image(
            "t",
            data_type,
            &[2, 2],
            &[],
            elem,
            4,
            w.values(elem, &vals),
            vec![],
        );
        let a = read_bytes(&w.file(&[T::G("ImageList", vec![img])]), "t.dm4").unwrap();
        assert_eq!(a.signals[0].dtype, dtype, "DataType {data_type}");
        let want: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
        assert_eq!(a.signals[0].data, want, "DataType {data_type}");
        assert_eq!(a.signals[0].name, "t");
    }
    // Complex: (3, 4) has modulus 5; stored as pairs of f32 (3) or f64 (13).
    for (data_type, elem, dtype) in [(3u64, 6u64, DType::Complex64), (13, 7, DType::Complex128)] {
        let img = w.image(
            "c",
            data_type,
            &[1],
            &[],
            elem,
            2,
            w.values(elem, &[3.0, 4.0]),
            vec![],
        );
        let a = read_bytes(&w.file(&[T::G("ImageList", vec![img])]), "c.dm4").unwrap();
        assert_eq!(a.signals[0].dtype, dtype);
        assert_eq!(a.signals[0].data, [5.0]);
    }
}

#[test]
fn spectra_and_spectrum_images_get_their_energy_axis_last() {
    let w = W { v4: true, le: true };
    // DM dims x = 2, y = 2, energy = 3; values e·100 + y·10 + x stored energy-slowest.
    let mut vals = Vec::new();
    for e in 0..3 {
        for y in 0..2 {
            for x in 0..2 {
                vals.push(f64::from(e * 100 + y * 10 + x));
            }
        }
    }
    let si = w.image(
        "SI",
        2,
        &[2, 2, 3],
        &[(1.0, 0.0, "µm"), (1.0, 0.0, "µm"), (0.5, -600.0, "eV")],
        6,
        12,
        w.values(6, &vals),
        vec![T::G(
            "Meta Data",
            vec![T::S("Format", "Spectrum image"), T::S("Signal", "EELS")],
        )],
    );
    let spectrum = w.image(
        "EELS",
        2,
        &[4],
        &[(0.5, 200.0, "eV")],
        6,
        4,
        w.values(6, &[1.0; 4]),
        vec![],
    );
    let profile = w.image("Plot", 2, &[4], &[], 6, 4, w.values(6, &[1.0; 4]), vec![]);
    let stack = w.image(
        "S",
        6,
        &[2, 1, 3],
        &[(1.0, 0.0, "nm")],
        10,
        6,
        vec![0; 6],
        vec![],
    );
    let a = read_bytes(
        &w.file(&[T::G("ImageList", vec![si, spectrum, profile, stack])]),
        "m.dm4",
    )
    .unwrap();
    let si = &a.signals[0];
    assert_eq!(si.kind, SignalKind::SpectrumImage);
    assert_eq!(si.shape(), [2, 2, 3]);
    // [y, x, channel]: y = 1, x = 0, e = 2 is 210.
    assert_eq!(si.data[2 * 3 + 2], 210.0);
    assert_eq!(si.data[..3], [0.0, 100.0, 200.0]);
    let e = &si.axes[2];
    assert_eq!(
        (e.name.as_str(), e.scale, e.offset, e.unit.as_str()),
        ("energy", 0.5, 300.0, "eV")
    );
    assert_eq!(si.axes[0].unit, "µm");
    let sp = &a.signals[1];
    assert_eq!(sp.kind, SignalKind::Spectrum);
    assert_eq!(sp.axes[0].offset, -100.0);
    assert_eq!(a.signals[2].kind, SignalKind::Other);
    let st = &a.signals[3];
    assert_eq!(st.kind, SignalKind::ImageStack);
    assert_eq!(st.shape(), [3, 1, 2]);
    assert_eq!(st.axes[2].unit, "nm");
    assert_eq!(st.axes[0].unit, "", "missing calibrations are uncalibrated");
}

#[test]
fn structs_strings_and_arrays_of_structs_parse() {
    let w = W {
        v4: false,
        le: true,
    };
    let img = w.image("A", 6, &[2], &[], 10, 2, vec![1, 2], vec![]);
    let file = w.file(&[
        T::Raw("Pair", vec![15, 0, 2, 0, 3, 0, 3], w.values(3, &[5.0, 6.0])),
        T::Raw("Str", vec![18, 3], b"abc".to_vec()),
        T::Raw("Structs", vec![20, 15, 0, 2, 0, 6, 0, 7, 2], vec![0; 24]),
        T::Raw("Strings", vec![20, 18, 2, 3], vec![0; 6]),
        T::Raw("Arrays", vec![20, 20, 2, 3, 2], vec![0; 12]),
        T::G("ImageList", vec![img]),
    ]);
    let tree = Tree::parse(&file).unwrap();
    assert_eq!(
        tree.root.value_at(&["Pair"]),
        Some(&tags::Value::Struct(vec![tags::Num::I(5), tags::Num::I(6)]))
    );
    assert_eq!(
        tree.root.value_at(&["Str"]),
        Some(&tags::Value::Text("abc".into()))
    );
    assert!(matches!(
        tree.root.value_at(&["Structs"]),
        Some(tags::Value::Other { len: 24, .. })
    ));
    assert!(matches!(
        tree.root.value_at(&["Arrays"]),
        Some(tags::Value::Other { len: 12, .. })
    ));
    assert_eq!(
        read_bytes(&file, "s.dm3").unwrap().signals[0].data,
        [1.0, 2.0]
    );
}

#[test]
fn every_truncation_is_refused_without_panic() {
    let file = haadf(W { v4: true, le: true });
    // The 8 zero bytes at the end are padding; cutting anywhere before them breaks the tree.
    for n in 1..file.len() - 8 {
        let r = read_bytes(&file[..n], "cut.dm4");
        assert!(r.is_err(), "{n} bytes read");
    }
    let e = read_bytes(&file[..file.len() - 30], "cut.dm4").unwrap_err();
    assert!(matches!(e, FormatError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("declares"), "{e}");
}

#[test]
fn corrupted_bytes_never_panic() {
    let file = haadf(W {
        v4: false,
        le: true,
    });
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut b = file.clone();
        for _ in 0..3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % b.len() as u64) as usize;
            b[i] = (seed >> 32) as u8;
        }
        let _ = read_bytes(&b, "x.dm3");
    }
}

#[test]
fn damaged_structure_is_named() {
    let w = W {
        v4: false,
        le: true,
    };
    // A tag kind that is neither group nor data.
    let mut b = haadf(w);
    let at = b.windows(9).position(|s| s == b"ImageList").unwrap() - 3;
    b[at] = 7;
    let e = read_bytes(&b, "x.dm3").unwrap_err();
    assert!(e.to_string().contains("tag kind 7"), "{e}");
    // A data tag without its marker, named by its path.
    let mut b = haadf(w);
    let at = b.windows(8).rposition(|s| s == b"DataType").unwrap();
    b[at + 8] = b'#';
    let e = read_bytes(&b, "x.dm3").unwrap_err();
    assert!(
        e.to_string().contains("ImageList/#1/ImageData/DataType"),
        "{e}"
    );
    // Data that does not fill the dimensions.
    let img = w.image(
        "A",
        10,
        &[3, 3],
        &[],
        4,
        2,
        w.values(4, &[1.0, 2.0]),
        vec![],
    );
    let e = read_bytes(&w.file(&[T::G("ImageList", vec![img])]), "x.dm3").unwrap_err();
    assert!(
        matches!(e, FormatError::Corrupt { .. }) && e.to_string().contains("Data holds"),
        "{e}"
    );
    // No ImageList.
    let e = read_bytes(&w.file(&[T::N("x", 5, 1.0)]), "x.dm3").unwrap_err();
    assert!(e.to_string().contains("no ImageList"), "{e}");
    // Byte-order flag.
    let mut b = haadf(w);
    b[11] = 9;
    assert!(
        read_bytes(&b, "x.dm3")
            .unwrap_err()
            .to_string()
            .contains("byte-order")
    );
}

#[test]
fn bombs_are_refused_before_allocating() {
    let w = W { v4: true, le: true };
    // Dimensions of 2^20 × 2^20 with 8 bytes of data.
    let img = w.image(
        "big",
        10,
        &[1 << 20, 1 << 20],
        &[],
        4,
        4,
        vec![0; 8],
        vec![],
    );
    let e = read_bytes(&w.file(&[T::G("ImageList", vec![img])]), "big.dm4").unwrap_err();
    assert!(matches!(e, FormatError::TooLarge { .. }), "{e}");
    // A group claiming 2^40 tags.
    let mut b = w.file(&[T::G("ImageList", vec![])]);
    let at = b.windows(9).position(|s| s == b"ImageList").unwrap() + 9 + 8 + 2;
    b[at..at + 8].copy_from_slice(&(1u64 << 40).to_be_bytes());
    let e = read_bytes(&b, "x.dm4").unwrap_err();
    assert!(e.to_string().contains("claims"), "{e}");
    // Groups nested 100 deep.
    let mut t = T::G("leaf", vec![]);
    for _ in 0..100 {
        t = T::G("g", vec![t]);
    }
    let e = read_bytes(&w.file(&[t]), "deep.dm4").unwrap_err();
    assert!(e.to_string().contains("nest deeper"), "{e}");
    // An array whose element count overflows.
    let e = read_bytes(
        &w.file(&[T::Raw("a", vec![20, 7, u64::MAX / 4], vec![])]),
        "x.dm4",
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            FormatError::Corrupt { .. } | FormatError::Truncated { .. }
        ),
        "{e}"
    );
}

#[test]
fn unsupported_types_are_skipped_with_a_note_or_refused() {
    let w = W {
        v4: false,
        le: true,
    };
    let packed = w.image("FFT", 5, &[2, 2], &[], 6, 4, w.values(6, &[0.0; 4]), vec![]);
    let e = read_bytes(&w.file(&[T::G("ImageList", vec![packed])]), "fft.dm3").unwrap_err();
    assert!(
        matches!(e, FormatError::Unsupported { .. }) && e.to_string().contains("packed"),
        "{e}"
    );
    let packed = w.image("FFT", 5, &[2, 2], &[], 6, 4, w.values(6, &[0.0; 4]), vec![]);
    let ok = w.image("A", 6, &[2], &[], 10, 2, vec![1, 2], vec![]);
    let a = read_bytes(&w.file(&[T::G("ImageList", vec![packed, ok])]), "m.dm3").unwrap();
    assert_eq!(a.signals.len(), 1);
    assert!(
        a.notes.iter().any(|n| n.contains("packed")),
        "{:?}",
        a.notes
    );
}

#[test]
fn names_fall_back_to_the_file_and_stay_unique() {
    let w = W {
        v4: false,
        le: true,
    };
    let unnamed = |_: W| {
        T::G(
            "",
            vec![T::G(
                "ImageData",
                vec![
                    T::Raw("Data", vec![20, 10, 1], vec![1]),
                    T::N("DataType", 5, 6.0),
                    T::G("Dimensions", vec![T::N("", 5, 1.0)]),
                ],
            )],
        )
    };
    let a = read_bytes(
        &w.file(&[T::G("ImageList", vec![unnamed(w)])]),
        "dir/run 7.dm3",
    )
    .unwrap();
    assert_eq!(a.signals[0].name, "run 7");
    let a = read_bytes(
        &w.file(&[T::G("ImageList", vec![unnamed(w), unnamed(w)])]),
        "x.dm3",
    )
    .unwrap();
    assert_eq!(a.signals[0].name, "image 0");
    let same = |w: W| w.image("HAADF", 6, &[1], &[], 10, 1, vec![1], vec![]);
    let a = read_bytes(
        &w.file(&[T::G("ImageList", vec![same(w), same(w)])]),
        "x.dm3",
    )
    .unwrap();
    assert_eq!(a.signals[1].name, "HAADF (2)");
}
