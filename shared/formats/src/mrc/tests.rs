//! Unit tests on small synthetic MRC files built here.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::NoCompanions;

/// A synthetic MRC file, built field by field.
#[derive(Clone)]
struct Mrc {
    n: [i32; 3],
    mode: i32,
    start: [i32; 3],
    m: [i32; 3],
    cell: [f32; 3],
    map: [i32; 3],
    ispg: i32,
    exttyp: [u8; 4],
    imod_flags: Option<i32>,
    origin: [f32; 3],
    stamp: [u8; 4],
    labels: Vec<&'static str>,
    ext: Vec<u8>,
    data: Vec<u8>,
}

impl Mrc {
    /// An image of `nx` × `ny` mode-`mode` samples, 2 Å pixels, no data yet.
    fn image(nx: i32, ny: i32, mode: i32) -> Mrc {
        Mrc {
            n: [nx, ny, 1],
            mode,
            start: [0; 3],
            m: [nx, ny, 1],
            cell: [2.0 * nx as f32, 2.0 * ny as f32, 2.0],
            map: [1, 2, 3],
            ispg: 0,
            exttyp: [0; 4],
            imod_flags: None,
            origin: [0.0; 3],
            stamp: [0x44, 0x44, 0, 0],
            labels: vec![],
            ext: vec![],
            data: vec![],
        }
    }

    fn big(&self) -> bool {
        self.stamp[0] == 0x11
    }

    fn i32s(&self, out: &mut Vec<u8>, v: &[i32]) {
        for x in v {
            out.extend(if self.big() {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
    }

    fn f32s(&self, out: &mut Vec<u8>, v: &[f32]) {
        for x in v {
            out.extend(if self.big() {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
    }

    fn build(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(1024);
        self.i32s(&mut h, &self.n);
        self.i32s(&mut h, &[self.mode]);
        self.i32s(&mut h, &self.start);
        self.i32s(&mut h, &self.m);
        self.f32s(&mut h, &self.cell);
        self.f32s(&mut h, &[90.0; 3]);
        self.i32s(&mut h, &self.map);
        self.f32s(&mut h, &[0.0, 1.0, 0.5]);
        self.i32s(&mut h, &[self.ispg, self.ext.len() as i32]);
        h.resize(104, 0);
        h.extend(self.exttyp);
        self.i32s(&mut h, &[20140]);
        h.resize(152, 0);
        if let Some(f) = self.imod_flags {
            self.i32s(&mut h, &[1_146_047_817, f]);
        }
        h.resize(196, 0);
        self.f32s(&mut h, &self.origin);
        h.extend(b"MAP ");
        h.extend(self.stamp);
        self.f32s(&mut h, &[0.25]);
        self.i32s(&mut h, &[self.labels.len() as i32]);
        for l in &self.labels {
            let mut b = l.as_bytes().to_vec();
            b.resize(80, 0);
            h.extend(b);
        }
        h.resize(1024, 0);
        h.extend(&self.ext);
        h.extend(&self.data);
        h
    }

    fn with_u16(mut self, v: &[u16]) -> Mrc {
        self.data = v
            .iter()
            .flat_map(|x| {
                if self.big() {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                }
            })
            .collect();
        self
    }

    fn with_f32(mut self, v: &[f32]) -> Mrc {
        self.data = v
            .iter()
            .flat_map(|x| {
                if self.big() {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                }
            })
            .collect();
        self
    }
}

fn read_named(bytes: &[u8], name: &str) -> Result<Acquisition, FormatError> {
    read(bytes, name, &NoCompanions, &ReadLimits::default())
}

fn read_ok(f: &Mrc) -> Acquisition {
    read_named(&f.build(), "t.mrc").unwrap()
}

fn read_err(f: &Mrc) -> FormatError {
    read_named(&f.build(), "t.mrc").unwrap_err()
}

#[test]
fn a_u16_image_reads_with_its_pixel_size_and_labels() {
    let mut f = Mrc::image(3, 2, 6).with_u16(&[1, 2, 3, 4, 5, 65535]);
    f.labels = vec!["written by a test", "second label"];
    let a = read_ok(&f);
    assert_eq!(a.format, FileFormat::Mrc);
    let s = &a.signals[0];
    assert_eq!(
        (s.kind, s.dtype, s.name.as_str()),
        (SignalKind::Image, DType::U16, "image")
    );
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(s.data, [1.0, 2.0, 3.0, 4.0, 5.0, 65535.0]);
    assert_eq!((s.axes[1].name.as_str(), s.axes[1].scale), ("x", 2.0));
    assert_eq!(s.axes[0].unit, "Å");
    assert!((s.pixel_size().unwrap().x_nm - 0.2).abs() < 1e-12);
    assert_eq!(a.metadata.extra["label_1"], "written by a test");
    assert_eq!(a.metadata.extra["label_2"], "second label");
    assert_eq!(a.metadata.extra["mode"], "6 (u16)");
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn a_big_endian_volume_reads_with_offsets_from_the_start_indices() {
    let mut f = Mrc::image(2, 2, 2);
    f.stamp = [0x11, 0x11, 0, 0];
    f.n = [2, 2, 3];
    f.m = [2, 2, 3];
    f.cell = [3.0, 3.0, 6.0];
    f.start = [-1, 0, 4];
    f.ispg = 1;
    let vals: Vec<f32> = (0..12).map(|v| v as f32 - 5.5).collect();
    let f = f.with_f32(&vals);
    let a = read_ok(&f);
    let s = &a.signals[0];
    assert_eq!((s.kind, s.name.as_str()), (SignalKind::Volume, "volume"));
    assert_eq!(s.shape(), [3, 2, 2]);
    assert_eq!(s.data, vals);
    assert_eq!((s.axes[0].scale, s.axes[0].offset), (2.0, 8.0));
    assert_eq!((s.axes[2].scale, s.axes[2].offset), (1.5, -1.5));
    assert_eq!(a.metadata.extra["byte_order"], "big-endian");
}

#[test]
fn space_group_zero_is_a_stack_unless_mz_says_volume_or_the_name_says_stack() {
    let mut f = Mrc::image(2, 2, 1);
    f.n[2] = 3;
    f.data = vec![0; 24];
    let a = read_ok(&f);
    assert_eq!(a.signals[0].kind, SignalKind::ImageStack);
    assert_eq!(a.signals[0].axes[0].name, "frame");
    assert_eq!(a.signals[0].axes[0].unit, "");
    f.m[2] = 3;
    let a = read_ok(&f);
    assert_eq!(a.signals[0].kind, SignalKind::Volume);
    assert!(
        a.notes.iter().any(|n| n.contains("MZ = 3")),
        "{:?}",
        a.notes
    );
    let a = read_named(&f.build(), "particles.mrcs").unwrap();
    assert_eq!(a.signals[0].kind, SignalKind::ImageStack);
}

#[test]
fn a_volume_stack_gives_one_signal_per_volume() {
    let mut f = Mrc::image(1, 1, 2);
    f.n[2] = 4;
    f.m[2] = 2;
    f.ispg = 401;
    let f = f.with_f32(&[1.0, 2.0, 3.0, 4.0]);
    let a = read_ok(&f);
    assert_eq!(a.signals.len(), 2);
    assert_eq!(a.signals[1].name, "volume 2");
    assert_eq!(a.signals[1].data, [3.0, 4.0]);
    let mut bad = f.clone();
    bad.m[2] = 3;
    assert!(matches!(read_err(&bad), FormatError::Corrupt { .. }));
}

#[test]
fn a_volume_in_another_axis_order_is_reordered_into_z_y_x() {
    // Columns along Z (4), rows along X (2), sections along Y (3): stored value at
    // (section s, row r, column c) is 100 s + 10 r + c, so output [z][y][x] = 100 y + 10 x + z.
    let mut f = Mrc::image(4, 2, 2);
    f.n = [4, 2, 3];
    f.map = [3, 1, 2];
    f.m = [2, 3, 4];
    f.cell = [2.0, 6.0, 12.0];
    f.start = [0, -1, 2]; // first column (Z), row (X), section (Y)
    f.ispg = 1;
    let mut vals = vec![];
    for s in 0..3 {
        for r in 0..2 {
            for c in 0..4 {
                vals.push((100 * s + 10 * r + c) as f32);
            }
        }
    }
    let a = read_ok(&f.with_f32(&vals));
    let s = &a.signals[0];
    assert_eq!(s.shape(), [4, 3, 2]);
    for z in 0..4 {
        for y in 0..3 {
            for x in 0..2 {
                assert_eq!(s.data[(z * 3 + y) * 2 + x], (100 * y + 10 * x + z) as f32);
            }
        }
    }
    let scales: Vec<f64> = s.axes.iter().map(|a| a.scale).collect();
    assert_eq!(scales, [3.0, 2.0, 1.0]);
    let offsets: Vec<f64> = s.axes.iter().map(|a| a.offset).collect();
    assert_eq!(offsets, [0.0, 4.0, -1.0]);
    assert!(a.notes.iter().any(|n| n.contains("reordered")));
}

#[test]
fn an_image_in_another_axis_order_is_refused() {
    let mut f = Mrc::image(2, 2, 0);
    f.map = [2, 1, 3];
    f.data = vec![0; 4];
    assert!(matches!(read_err(&f), FormatError::Unsupported { .. }));
}

#[test]
fn mode_zero_is_signed_unless_imod_says_unsigned() {
    let mut f = Mrc::image(2, 1, 0);
    f.data = vec![0xff, 0x7f];
    let a = read_ok(&f);
    assert_eq!(
        (a.signals[0].dtype, a.signals[0].data.clone()),
        (DType::I8, vec![-1.0, 127.0])
    );
    f.imod_flags = Some(0);
    let a = read_ok(&f);
    assert_eq!(
        (a.signals[0].dtype, a.signals[0].data.clone()),
        (DType::U8, vec![255.0, 127.0])
    );
    assert!(a.notes.iter().any(|n| n.contains("unsigned")));
    f.imod_flags = Some(1);
    assert_eq!(read_ok(&f).signals[0].dtype, DType::I8);
    f.imod_flags = Some(16);
    assert!(matches!(read_err(&f), FormatError::Unsupported { .. }));
}

#[test]
fn half_floats_and_complex_read_and_modes_3_and_101_are_refused() {
    let mut f = Mrc::image(2, 1, 12);
    f.data = vec![0x00, 0x3c, 0x00, 0xc0];
    assert_eq!(read_ok(&f).signals[0].data, [1.0, -2.0]);
    let mut f = Mrc::image(1, 1, 4).with_f32(&[3.0, 4.0]);
    f.mode = 4;
    let a = read_ok(&f);
    assert_eq!(
        (a.signals[0].dtype, a.signals[0].data.clone()),
        (DType::Complex64, vec![5.0])
    );
    assert!(a.notes.iter().any(|n| n.contains("modulus")));
    for mode in [3, 101, 5, -1] {
        let mut f = Mrc::image(2, 2, mode);
        f.data = vec![0; 64];
        let e = read_err(&f);
        assert!(matches!(e, FormatError::Unsupported { .. }), "{mode}: {e}");
        assert!(e.to_string().contains(&format!("mode {mode}")), "{e}");
    }
}

/// A one-record FEI1 extended header: 300 kV, × 50 000, 0.8 Å pixels, 2.5 s, "Falcon".
fn fei1_record() -> Vec<u8> {
    let mut r = vec![0u8; 768];
    r[0..4].copy_from_slice(&768i32.to_le_bytes());
    let bm1: u32 = (1 << 1) | (1 << 5) | (1 << 14) | (1 << 15) | (1 << 31);
    r[8..12].copy_from_slice(&bm1.to_le_bytes());
    r[20..25].copy_from_slice(b"TITAN");
    r[84..92].copy_from_slice(&300_000f64.to_le_bytes());
    r[156..164].copy_from_slice(&0.8e-10f64.to_le_bytes());
    r[164..172].copy_from_slice(&0.8e-10f64.to_le_bytes());
    r[289..297].copy_from_slice(&50_000f64.to_le_bytes());
    let bm2: u32 = (1 << 16) | (1 << 19);
    r[297..301].copy_from_slice(&bm2.to_le_bytes());
    r[419..427].copy_from_slice(&2.5f64.to_le_bytes());
    r[435..441].copy_from_slice(b"Falcon");
    // A value whose bit is clear must be ignored: dose.
    r[92..100].copy_from_slice(&1e21f64.to_le_bytes());
    r
}

#[test]
fn an_fei_extended_header_gives_the_microscope_settings_and_is_skipped() {
    let mut f = Mrc::image(2, 2, 6).with_u16(&[10, 20, 30, 40]);
    f.exttyp = *b"FEI1";
    f.ext = fei1_record();
    f.cell = [0.0; 3];
    let a = read_ok(&f);
    let s = &a.signals[0];
    assert_eq!(s.name, "Falcon");
    assert_eq!(s.data, [10.0, 20.0, 30.0, 40.0]);
    assert!(
        (s.axes[1].scale - 0.8).abs() < 1e-9,
        "pixel size from the FEI header"
    );
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("TITAN"));
    assert_eq!(
        (m.voltage_kv, m.magnification, m.exposure_s),
        (Some(300.0), Some(5e4), Some(2.5))
    );
    assert!(!m.extra.contains_key("dose_e_per_m2"));
    assert_eq!(m.extra["extended_header"], "FEI1, 768 bytes");
    assert!(
        a.notes.iter().any(|n| n.contains("768 bytes")),
        "{:?}",
        a.notes
    );
    // A record length that does not fit is noted, not fatal.
    let mut g = f.clone();
    g.ext[0..4].copy_from_slice(&(-5i32).to_le_bytes());
    let a = read_ok(&g);
    assert!(a.metadata.voltage_kv.is_none());
    assert!(
        a.notes.iter().any(|n| n.contains("not valid")),
        "{:?}",
        a.notes
    );
}

#[test]
fn a_zero_cell_leaves_the_axes_uncalibrated() {
    let mut f = Mrc::image(2, 2, 6).with_u16(&[0; 4]);
    f.cell = [0.0; 3];
    let a = read_ok(&f);
    assert!(a.signals[0].pixel_size().is_none());
    assert_eq!(a.signals[0].axes[0].unit, "");
    assert!(a.notes.iter().any(|n| n.contains("uncalibrated")));
}

#[test]
fn origin_overrides_the_start_index_and_trailing_bytes_are_noted() {
    let mut f = Mrc::image(2, 2, 6).with_u16(&[0; 4]);
    f.start = [5, 5, 0];
    f.origin = [10.0, -20.0, 0.0];
    f.data.extend([0, 0, 0]);
    let a = read_ok(&f);
    assert_eq!(a.signals[0].axes[1].offset, 10.0);
    assert_eq!(a.signals[0].axes[0].offset, -20.0);
    assert!(a.notes.iter().any(|n| n.contains("3 bytes after")));
}

#[test]
fn an_unknown_machine_stamp_falls_back_to_a_plausible_byte_order() {
    let mut f = Mrc::image(2, 2, 6).with_u16(&[1, 2, 3, 4]);
    f.stamp = [0, 0, 0, 0];
    let a = read_ok(&f);
    assert_eq!(a.signals[0].data, [1.0, 2.0, 3.0, 4.0]);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("little-endian was taken"))
    );
    let mut bytes = f.build();
    bytes[12..16].copy_from_slice(&[9, 9, 9, 9]); // mode unknown in both orders
    assert!(matches!(
        read_named(&bytes, "t.mrc"),
        Err(FormatError::Corrupt { .. })
    ));
}

#[test]
fn truncated_files_are_refused() {
    let f = Mrc::image(4, 4, 2).with_f32(&[0.0; 16]);
    let full = f.build();
    for cut in [0, 100, 1023, 1024, full.len() - 1] {
        let e = read_named(&full[..cut], "t.mrc").unwrap_err();
        assert!(matches!(e, FormatError::Truncated { .. }), "{cut}: {e}");
    }
    let mut g = f.clone();
    g.ext = vec![0; 10];
    let mut bytes = g.build();
    bytes[92..96].copy_from_slice(&100_000i32.to_le_bytes());
    let e = read_named(&bytes, "t.mrc").unwrap_err();
    assert!(e.to_string().contains("extended header"), "{e}");
}

#[test]
fn corrupt_headers_are_refused() {
    let base = Mrc::image(2, 2, 6).with_u16(&[0; 4]);
    let mut f = base.clone();
    f.n[0] = 0;
    assert!(matches!(read_err(&f), FormatError::Corrupt { .. }));
    let mut f = base.clone();
    f.map = [1, 1, 3];
    assert!(read_err(&f).to_string().contains("MAPC"));
    let mut bytes = base.build();
    bytes[92..96].copy_from_slice(&(-4i32).to_le_bytes());
    let e = read_named(&bytes, "t.mrc").unwrap_err();
    assert!(e.to_string().contains("NSYMBT"), "{e}");
}

#[test]
fn oversized_headers_are_refused_before_allocating() {
    let mut f = Mrc::image(1 << 20, 1 << 20, 2);
    f.data = vec![0; 64];
    assert!(matches!(read_err(&f), FormatError::TooLarge { .. }));
    let mut f = Mrc::image(16, 16, 0);
    f.n[2] = 1 << 30;
    assert!(matches!(read_err(&f), FormatError::TooLarge { .. }));
    let mut f = Mrc::image(i32::MAX, i32::MAX, 2);
    f.n[2] = i32::MAX;
    f.ispg = 1;
    assert!(matches!(read_err(&f), FormatError::TooLarge { .. }));
}

#[test]
fn the_crate_reader_takes_gzip_and_sniffs_mrc() {
    use std::io::Write;
    let f = Mrc::image(2, 2, 6).with_u16(&[7, 8, 9, 10]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&f.build()).unwrap();
    let bytes = gz.finish().unwrap();
    let a = crate::read("x.mrc.gz", &bytes, &NoCompanions, &ReadLimits::default()).unwrap();
    assert_eq!(a.format, FileFormat::Mrc);
    assert_eq!(a.signals[0].data, [7.0, 8.0, 9.0, 10.0]);
}
