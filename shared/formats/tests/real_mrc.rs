//! The MRC reader on the real files of mrcfile 1.5.4's test data (BSD-3): two EMDB maps,
//! the same map gzip-compressed, and two EPU micrographs with FEI extended headers.
//!
//! Every expected value was read independently of this reader: the header fields with
//! Python's `struct` at the MRC2014 offsets, the FEI records with numpy and the field list
//! of mrcfile's `dtypes.py`, and the voxels with `numpy.frombuffer` at offset 1024 + NSYMBT
//! (in ~/.cache/tessera/venv). The comment on each value says which field it comes from.
#![allow(clippy::unwrap_used)]

// `common` is shared by the real-file tests; not every test uses all of it.
mod common;

use common::{close, read_instrument};
use tessera_formats::{Acquisition, DType, SignalKind};

const DIR: &str = "mrcfile-1.5.4/tests/test_data";

fn read(name: &str) -> Acquisition {
    read_instrument(&format!("{DIR}/{name}"))
}

/// Checks EMD-3197 (plain or gzip-compressed): a 20³ f32 map.
fn check_emd_3197(a: &Acquisition) {
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    // ISPG = 1 (a volume); NX = NY = NZ = 20; MODE = 2.
    assert_eq!((s.kind, s.dtype), (SignalKind::Volume, DType::F32));
    assert_eq!(s.shape(), [20, 20, 20]);
    let names: Vec<&str> = s.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["z", "y", "x"]);
    for ax in &s.axes {
        // CELLA = 228 Å along each axis, MX = MY = MZ = 20: 11.4 Å per voxel.
        assert!(close(ax.scale, 11.4, 1e-6), "{ax:?}");
        assert_eq!(ax.unit, "Å");
    }
    // NXSTART, NYSTART, NZSTART = -2, 0, 0 (MAPC/MAPR/MAPS = 1, 2, 3; ORIGIN = 0):
    // the first x is at -2 × 11.4 Å.
    assert!(close(s.axes[2].offset, -22.8, 1e-6));
    assert_eq!((s.axes[0].offset, s.axes[1].offset), (0.0, 0.0));
    // Voxels read with numpy: [0,0,0] and [19,10,3].
    assert_eq!(s.data[0], -1.801_309_1);
    assert_eq!(s.data[(19 * 20 + 10) * 20 + 3], 1.847_073_6);
    // DMIN, DMAX, DMEAN = -4.1337457, 5.576737, 0.783612.
    let min = s.data.iter().copied().fold(f32::INFINITY, f32::min);
    let max = s.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mean = s.data.iter().map(|&v| f64::from(v)).sum::<f64>() / s.data.len() as f64;
    assert_eq!((min, max), (-4.133_745_7, 5.576_737));
    assert!(close(mean, 0.783_612, 1e-5));
    // Label 1 and ISPG as written.
    let x = &a.metadata.extra;
    assert_eq!(x["label_1"], "::::EMDATABANK.org::::EMD-3197::::");
    assert_eq!(x["space_group"], "1");
    assert!(s.pixel_size().is_some());
}

#[test]
fn emd_3197_is_a_20_cubed_f32_volume_of_11_4_angstrom_voxels() {
    let a = read("EMD-3197.map");
    check_emd_3197(&a);
    // No extended header (NSYMBT = 0), nothing skipped.
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn emd_3197_gzip_reads_the_same_as_the_plain_map() {
    let gz = read("emd_3197.map.gz");
    check_emd_3197(&gz);
    assert_eq!(gz.signals[0].data, read("EMD-3197.map").signals[0].data);
}

#[test]
fn emd_3001_is_reordered_from_its_zxy_storage_and_its_symmetry_block_skipped() {
    let a = read("EMD-3001.map");
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    assert_eq!((s.kind, s.dtype), (SignalKind::Volume, DType::F32));
    // NX, NY, NZ = 73, 43, 25 (columns, rows, sections) with MAPC, MAPR, MAPS = 3, 1, 2:
    // columns run along Z (73), rows along X (43), sections along Y (25).
    assert_eq!(s.shape(), [73, 25, 43]);
    // CELLA = 17.93, 4.71, 33.03 Å over MX, MY, MZ = 40, 12, 72.
    let (x, y, z) = (&s.axes[2], &s.axes[1], &s.axes[0]);
    assert!(close(x.scale, 17.93 / 40.0, 1e-6), "{x:?}");
    assert!(close(y.scale, 4.71 / 12.0, 1e-6), "{y:?}");
    assert!(close(z.scale, 33.03 / 72.0, 1e-6), "{z:?}");
    // NCSTART, NRSTART, NSSTART = 0, -21, -12: rows (X) start at -21, sections (Y) at -12.
    assert!(close(x.offset, -21.0 * 17.93 / 40.0, 1e-6));
    assert!(close(y.offset, -12.0 * 4.71 / 12.0, 1e-6));
    assert_eq!(z.offset, 0.0);
    // Voxels from numpy: stored[section=y][row=x][column=z] at [z, y, x].
    let at = |z: usize, y: usize, x: usize| s.data[(z * 25 + y) * 43 + x];
    assert_eq!(at(0, 0, 0), 0.042_834_472);
    assert_eq!(at(72, 24, 42), 0.067_244_98);
    assert_eq!(at(10, 20, 30), -0.055_563_59);
    assert_eq!(at(40, 3, 7), -0.167_489_08);
    // NSYMBT = 160 bytes of symmetry records ("X,  Y,  Z", "-X,  Y+1/2,  -Z"), EXTTYP
    // blank, ISPG = 4; CELLB β = 94.326°.
    let x = &a.metadata.extra;
    assert_eq!(x["space_group"], "4");
    assert_eq!(x["extended_header"], "type not stated, 160 bytes");
    assert_eq!(x["label_1"], "::::EMDATABANK.org::::EMD-3001::::");
    let notes = a.notes.join(" | ");
    assert!(notes.contains("extended header of 160 bytes"), "{notes}");
    assert!(notes.contains("reordered"), "{notes}");
    assert!(notes.contains("94.326"), "{notes}");
}

#[test]
fn epu_2_9_is_a_4096_squared_u16_falcon_micrograph_with_its_fei2_settings() {
    let a = read("epu2.9_example.mrc");
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    // NX = NY = 4096, NZ = 1, MODE = 6, ISPG = 0; the FEI2 record's camera name.
    assert_eq!((s.kind, s.dtype), (SignalKind::Image, DType::U16));
    assert_eq!(s.shape(), [4096, 4096]);
    assert_eq!(s.name, "BM-Falcon");
    // CELLA x, y = 2730.1943 Å over MX, MY = 4096; the FEI record's pixel size is
    // 6.66551328e-11 m, the same.
    for ax in &s.axes {
        assert!(
            close(ax.scale, 2_730.194_335_937_5 / 4096.0, 1e-7),
            "{ax:?}"
        );
        assert!(close(ax.scale, 0.666_551_328, 1e-6));
        assert_eq!((ax.offset, ax.unit.as_str()), (0.0, "Å"));
    }
    // Pixels from numpy at offset 1024 + 909312: [0,0], [1000,2000], [4095,4095]; DMIN and
    // DMAX = 2790 and 9661.
    assert_eq!(s.data[0], 4627.0);
    assert_eq!(s.data[1000 * 4096 + 2000], 5192.0);
    assert_eq!(s.data[4096 * 4096 - 1], 5807.0);
    let min = s.data.iter().copied().fold(f32::INFINITY, f32::min);
    let max = s.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (2790.0, 9661.0));
    // The first FEI2 record (metadata version 2, 888 bytes; bitmask 1 = 0xffffcfff,
    // bitmask 2 = 0x0ffff02f): HT 300000 V, magnification 120000, integration time
    // 12.207756 s, microscope type "TITAN52337720", EPU 2.9.0.1519.
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("TITAN52337720"));
    assert_eq!(m.voltage_kv, Some(300.0));
    assert_eq!(m.magnification, Some(120_000.0));
    assert!(close(m.exposure_s.unwrap(), 12.207_756, 1e-9));
    assert_eq!(m.extra["application"], "EPU 2.9.0.1519");
    assert_eq!(m.extra["detector"], "BM-Falcon");
    assert_eq!(m.extra["fei_metadata_version"], "2");
    assert_eq!(m.extra["extended_header"], "FEI2, 909312 bytes");
    assert_eq!(m.extra["mrc_version"], "20140");
    let notes = a.notes.join(" | ");
    assert!(notes.contains("extended header of 909312 bytes"), "{notes}");
}

#[test]
fn fei_extended_is_a_3710_by_3838_u16_micrograph_with_its_fei1_settings() {
    let a = read("fei-extended.mrc");
    let s = &a.signals[0];
    // NX = 3710 columns, NY = 3838 rows, NZ = 1, MODE = 6; camera name "EF-CCD".
    assert_eq!((s.kind, s.dtype), (SignalKind::Image, DType::U16));
    assert_eq!(s.shape(), [3838, 3710]);
    assert_eq!(s.name, "EF-CCD");
    // CELLA = 3167.5071 × 3276.7903 Å over MX, MY = 3710, 3838 (0.85378 Å both ways; the
    // FEI1 record says 8.5377552e-11 m).
    assert!(close(s.axes[1].scale, 3_167.507_080_078_125 / 3710.0, 1e-7));
    assert!(close(s.axes[0].scale, 3_276.790_283_203_125 / 3838.0, 1e-7));
    let px = s.pixel_size().unwrap();
    assert!(close(px.x_nm, 0.085_377_55, 1e-6) && close(px.y_nm, 0.085_377_55, 1e-6));
    // Pixels from numpy at offset 1024 + 786432; DMIN and DMAX = 302 and 45804.
    assert_eq!(s.data[0], 2811.0);
    assert_eq!(s.data[1000 * 3710 + 2000], 3672.0);
    assert_eq!(s.data[3838 * 3710 - 1], 4146.0);
    let min = s.data.iter().copied().fold(f32::INFINITY, f32::min);
    let max = s.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (302.0, 45804.0));
    // The first FEI1 record (metadata version 0, 768 bytes): HT 300000 V, magnification
    // 165000, integration time 10 s, "TITAN52336320", "Fei EPU" 1.2.0.16.
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("TITAN52336320"));
    assert_eq!(m.voltage_kv, Some(300.0));
    assert_eq!(m.magnification, Some(165_000.0));
    assert_eq!(m.exposure_s, Some(10.0));
    assert_eq!(m.extra["application"], "Fei EPU 1.2.0.16");
    assert_eq!(m.extra["fei_metadata_version"], "0");
    assert_eq!(m.extra["extended_header"], "FEI1, 786432 bytes");
}
