//! The real TIA files of hyperspy 1.7.6's test suite, read through their EMI and through each
//! SER alone (with the EMI beside it, and with no companion at all).
//!
//! Where the expected values come from: the SER headers and data elements were decoded
//! independently with a few lines of Python `struct`/numpy (the layout in `src/ser/mod.rs`),
//! the EMI's `<ObjectInfo>` XML was read as text, and the shapes and types are those of
//! `/work/shared/reference/instrument-files.md`. Image data is compared after reversing the
//! rows (TIA stores the bottom row first).
#![allow(clippy::unwrap_used)]

mod common;

use common::{close, instrument_file, read_instrument};
use tessera_formats::{
    Acquisition, Axis, DType, FileFormat, FormatError, NoCompanions, ReadLimits, Signal,
    SignalKind, read,
};

const NEW: &str = "hyperspy/tests/io/FEI_new";
const OLD: &str = "hyperspy/tests/io/FEI_old";

fn axis(a: &Axis, name: &str, size: usize, scale: f64, offset: f64, unit: &str) {
    assert_eq!(a.name, name, "{a:?}");
    assert_eq!(a.size, size, "{a:?}");
    assert!(close(a.scale, scale, 1e-12), "{a:?}: scale {scale}");
    assert!(
        (a.offset - offset).abs() <= 1e-12 * offset.abs().max(1e-300),
        "{a:?}: offset {offset}"
    );
    assert_eq!(a.unit, unit, "{a:?}");
}

fn sum(s: &Signal) -> f64 {
    s.data.iter().map(|&v| f64::from(v)).sum()
}

/// A SER read on its own, with no EMI to be found.
fn read_alone(rel: &str) -> Acquisition {
    let p = instrument_file(rel);
    let bytes = std::fs::read(&p).unwrap();
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    read(&name, &bytes, &NoCompanions, &ReadLimits::default()).unwrap()
}

// FEI_new/128x128_TEM_acquire-sum1: one 2-D element, data type 6 (i32), 128 × 128,
// calibration offset -1.374676320733524e-06, delta 2.1479317511461325e-08, element 0 for
// both axes; version 0x0220. EMI: Mode "TEM uP SA Zoom Image", CameraNamePath BM-Ceta, data
// object "Acquire CCD ", High tension 200 kV, Magnification 5500 x, DwellTimePath 0.05,
// AcquireDate "Mon Feb 22 18:57:51 2016". numpy: sum 464056, the last stored row starts
// 64 -189 62 125.
fn check_tem(s: &Signal) {
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::I32);
    assert_eq!(s.shape(), [128, 128]);
    let (d, o) = (2.1479317511461325e-08, -1.374676320733524e-06);
    axis(&s.axes[0], "y", 128, d, o, "m");
    axis(&s.axes[1], "x", 128, d, o, "m");
    assert_eq!(sum(s), 464_056.0);
    assert_eq!(&s.data[..4], &[64.0, -189.0, 62.0, 125.0]);
    let px = s.pixel_size().unwrap();
    assert!(close(px.x_nm, 21.479317511461325, 1e-12));
}

#[test]
fn tem_image_through_its_emi() {
    let a = read_instrument(&format!("{NEW}/128x128_TEM_acquire-sum1.emi"));
    assert_eq!(a.format, FileFormat::Emi);
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    check_tem(s);
    assert_eq!(s.name, "CCD");
    assert_eq!(s.metadata["camera"], "BM-Ceta");
    assert_eq!(s.metadata["tia_name"], "Acquire CCD");
    let m = &a.metadata;
    assert_eq!(
        m.microscope.as_deref(),
        Some("TalosF200X 200 kV D6308 XTwin")
    );
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(5500.0));
    assert_eq!(m.exposure_s, Some(0.05));
    assert_eq!(m.acquired.as_deref(), Some("Mon Feb 22 18:57:51 2016"));
    assert_eq!(m.extra["operator"], "ERIC");
    assert_eq!(m.extra["tia_version"], "4.11.1907.0");
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn tem_image_through_its_ser() {
    let a = read_instrument(&format!("{NEW}/128x128_TEM_acquire-sum1_1.ser"));
    assert_eq!(a.format, FileFormat::Ser);
    check_tem(&a.signals[0]);
    assert_eq!(a.signals[0].name, "CCD");
    assert_eq!(a.metadata.voltage_kv, Some(200.0));

    // Alone: the SER's own calibration, the unit told by its size, the time from its tag
    // (1456167473 s after 1970, UTC), and a note that the EMI was missing.
    let a = read_alone(&format!("{NEW}/128x128_TEM_acquire-sum1_1.ser"));
    check_tem(&a.signals[0]);
    assert_eq!(a.signals[0].name, "128x128_TEM_acquire-sum1_1");
    assert_eq!(a.metadata.acquired.as_deref(), Some("2016-02-22T18:57:53Z"));
    assert_eq!(a.metadata.microscope, None);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("128x128_TEM_acquire-sum1.emi was not found")),
        "{:?}",
        a.notes
    );
}

// FEI_old/03_Scanning Preview: version 0x0210, 200 elements of which 5 valid, one dimension
// "Number" of 200 (offset 0, delta 1, no unit); 2-D elements of type 2 (u16), 128 × 128,
// offset -2.4598559200891207e-08, delta 3.843524875139251e-10. EMI: "Preview HAADF", Mode
// "STEM nP SA Zoom Diffraction" without a camera, Microscope "TitanCubed 300 kV D3128
// UltraTwin", High tension 200 kV, Magnification 1300000 x, DwellTimePath 0.000012,
// AcquireDate "Thu Apr 25 09:30:09 2019". numpy: frame sums 200241521 … 201058560; frame 0's
// last stored row starts 3514 1514 3840 3227.
fn check_scanning_preview(s: &Signal) {
    assert_eq!(s.kind, SignalKind::ImageStack);
    assert_eq!(s.dtype, DType::U16);
    assert_eq!(s.shape(), [5, 128, 128]);
    axis(&s.axes[0], "frame", 5, 1.0, 0.0, "");
    let (d, o) = (3.843524875139251e-10, -2.4598559200891207e-08);
    axis(&s.axes[1], "y", 128, d, o, "m");
    axis(&s.axes[2], "x", 128, d, o, "m");
    let frames: Vec<f64> = s
        .data
        .chunks_exact(128 * 128)
        .map(|f| f.iter().map(|&v| f64::from(v)).sum())
        .collect();
    assert_eq!(
        frames,
        [
            200241521.0,
            199981767.0,
            200345007.0,
            201027316.0,
            201058560.0
        ]
    );
    assert_eq!(&s.data[..4], &[3514.0, 1514.0, 3840.0, 3227.0]);
    assert_eq!(s.planes().unwrap().len(), 5);
}

#[test]
fn stem_preview_stack_through_its_emi_and_its_ser() {
    // The names hold a space.
    let a = read_instrument(&format!("{OLD}/03_Scanning Preview.emi"));
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    check_scanning_preview(s);
    assert_eq!(s.name, "HAADF");
    let m = &a.metadata;
    assert_eq!(
        m.microscope.as_deref(),
        Some("TitanCubed 300 kV D3128 UltraTwin")
    );
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(1_300_000.0));
    assert_eq!(m.exposure_s, Some(0.000012));
    assert_eq!(m.acquired.as_deref(), Some("Thu Apr 25 09:30:09 2019"));
    assert!(
        a.notes.iter().any(|n| n.contains("5 of 200")),
        "{:?}",
        a.notes
    );

    let a = read_instrument(&format!("{OLD}/03_Scanning Preview_1.ser"));
    check_scanning_preview(&a.signals[0]);
    assert_eq!(a.signals[0].name, "HAADF");
    assert_eq!(a.metadata.magnification, Some(1_300_000.0));

    let a = read_alone(&format!("{OLD}/03_Scanning Preview_1.ser"));
    check_scanning_preview(&a.signals[0]);
    // First tag: 1556209808 s, 16:30:08 UTC, the EMI's 09:30:09 local time in California.
    assert_eq!(a.metadata.acquired.as_deref(), Some("2019-04-25T16:30:08Z"));
}

// FEI_new/16x16-line_profile_horizontal_5x128x128_EDS: both SERs version 0x0220, one
// dimension "Position" in "meters" of 5 (offset 0, delta 3.6886364090376355e-09), tags with
// positions. _1.ser: 1-D elements, type 3 (u32), 4000 channels, offset 0, delta 5 (eV:
// 0–20 keV, TIA's unit); numpy: 6, 3, 1, 0 and 1 counts in the five spectra (too few for a
// peak to check against the energy scale). _2.ser: 2-D elements, type 6 (i32), 128 × 128,
// offset -11158619025.061317, delta 174353422.26657104 (1/m: Mode STEM with CameraNamePath
// BM-Ceta, i.e. diffraction); numpy: frame 0 sums -2348606. EMI: data objects "EDX Spectrum
// profile" and "CCD Spectrum profile", whose blocks follow the paths of _1.ser and _2.ser;
// the EDX block: IntegrationTime 0.05, AcquireDate "Mon Feb 22 19:18:16 2016"; Microscope
// "TalosF200X 200 kV D6308 XTwin", 200 kV, 115000 x.
fn check_eds(s: &Signal) {
    assert_eq!(s.kind, SignalKind::SpectrumImage);
    assert_eq!(s.dtype, DType::U32);
    assert_eq!(s.shape(), [5, 4000]);
    axis(&s.axes[0], "position", 5, 3.6886364090376355e-09, 0.0, "m");
    axis(&s.axes[1], "energy", 4000, 5.0, 0.0, "eV");
    let counts: Vec<f64> = s
        .data
        .chunks_exact(4000)
        .map(|c| c.iter().map(|&v| f64::from(v)).sum())
        .collect();
    assert_eq!(counts, [6.0, 3.0, 1.0, 0.0, 1.0]);
}

fn check_diffraction(s: &Signal) {
    assert_eq!(s.kind, SignalKind::ImageStack);
    assert_eq!(s.dtype, DType::I32);
    assert_eq!(s.shape(), [5, 128, 128]);
    axis(&s.axes[0], "position", 5, 3.6886364090376355e-09, 0.0, "m");
    let (d, o) = (174353422.26657104, -11158619025.061317);
    axis(&s.axes[1], "y", 128, d, o, "1/m");
    axis(&s.axes[2], "x", 128, d, o, "1/m");
    let f0: f64 = s.data[..128 * 128].iter().map(|&v| f64::from(v)).sum();
    assert_eq!(f0, -2_348_606.0);
    assert_eq!(
        s.pixel_size(),
        None,
        "reciprocal space has no pixel size in nm"
    );
}

#[test]
fn eds_line_profile_and_diffraction_through_their_emi() {
    let a = read_instrument(&format!(
        "{NEW}/16x16-line_profile_horizontal_5x128x128_EDS.emi"
    ));
    assert_eq!(a.signals.len(), 2);
    check_eds(&a.signals[0]);
    check_diffraction(&a.signals[1]);
    assert_eq!(a.signals[0].name, "EDX");
    assert_eq!(a.signals[0].metadata["integration_time_s"], "0.050000");
    assert_eq!(a.signals[1].name, "CCD");
    assert_eq!(a.signals[1].metadata["camera"], "BM-Ceta");
    assert_eq!(a.pick(None).unwrap().name, "CCD");
    let m = &a.metadata;
    assert_eq!(
        m.microscope.as_deref(),
        Some("TalosF200X 200 kV D6308 XTwin")
    );
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(115_000.0));
    assert_eq!(m.exposure_s, Some(0.05));
    assert_eq!(m.acquired.as_deref(), Some("Mon Feb 22 19:18:16 2016"));
}

#[test]
fn eds_line_profile_and_diffraction_through_each_ser() {
    let eds = format!("{NEW}/16x16-line_profile_horizontal_5x128x128_EDS_1.ser");
    let dif = format!("{NEW}/16x16-line_profile_horizontal_5x128x128_EDS_2.ser");
    let a = read_instrument(&eds);
    check_eds(&a.signals[0]);
    assert_eq!(a.signals[0].name, "EDX");
    let a = read_instrument(&dif);
    check_diffraction(&a.signals[0]);
    assert_eq!(a.signals[0].name, "CCD");

    check_eds(&read_alone(&eds).signals[0]);
    // Alone, 1/m is told from the step (1.7e8): no real-space step in metres is that big.
    let a = read_alone(&dif);
    check_diffraction(&a.signals[0]);
    assert_eq!(a.metadata.acquired.as_deref(), Some("2016-02-22T19:18:23Z"));
}

// FEI_old/16x16_STEM_BF_DF_acquire: two SERs, version 0x0210, one element each, type 2 (u16),
// 16 × 16, offset -1.7208035256262196e-07, delta 2.1510044070327746e-08. EMI: data objects
// "Acquire BF" and "Acquire DF4"; Microscope "Tecnai 200 kV D2267 SuperTwin", 200 kV,
// 10000 x, DwellTimePath 0.000048, AcquireDate "Sun Feb 21 17:53:06 2016", User ERIC.
// numpy: BF sums 131, its last stored row starts 0 1 0 0; DF sums 686169, 2722 2675 2646 2688.
fn check_bf_df(s: &Signal, total: f64, row0: [f32; 4]) {
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::U16);
    assert_eq!(s.shape(), [16, 16]);
    let (d, o) = (2.1510044070327746e-08, -1.7208035256262196e-07);
    axis(&s.axes[0], "y", 16, d, o, "m");
    axis(&s.axes[1], "x", 16, d, o, "m");
    assert_eq!(sum(s), total);
    assert_eq!(&s.data[..4], &row0);
}

#[test]
fn bf_and_df_through_their_emi_and_each_ser() {
    let a = read_instrument(&format!("{OLD}/16x16_STEM_BF_DF_acquire.emi"));
    assert_eq!(a.signals.len(), 2);
    check_bf_df(&a.signals[0], 131.0, [0.0, 1.0, 0.0, 0.0]);
    check_bf_df(&a.signals[1], 686_169.0, [2722.0, 2675.0, 2646.0, 2688.0]);
    assert_eq!(a.signals[0].name, "BF");
    assert_eq!(a.signals[1].name, "DF4");
    assert_eq!(a.pick(Some("df4")).unwrap().name, "DF4");
    let m = &a.metadata;
    assert_eq!(
        m.microscope.as_deref(),
        Some("Tecnai 200 kV D2267 SuperTwin")
    );
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(10_000.0));
    assert_eq!(m.exposure_s, Some(0.000048));
    assert_eq!(m.acquired.as_deref(), Some("Sun Feb 21 17:53:06 2016"));
    assert_eq!(m.extra["operator"], "ERIC");

    let a = read_instrument(&format!("{OLD}/16x16_STEM_BF_DF_acquire_2.ser"));
    check_bf_df(&a.signals[0], 686_169.0, [2722.0, 2675.0, 2646.0, 2688.0]);
    assert_eq!(a.signals[0].name, "DF4");
    let a = read_alone(&format!("{OLD}/16x16_STEM_BF_DF_acquire_1.ser"));
    check_bf_df(&a.signals[0], 131.0, [0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn an_emi_without_its_ser_files_is_refused_with_the_way_out() {
    let p = instrument_file(&format!("{OLD}/16x16_STEM_BF_DF_acquire.emi"));
    let bytes = std::fs::read(&p).unwrap();
    let e = read(
        "16x16_STEM_BF_DF_acquire.emi",
        &bytes,
        &NoCompanions,
        &ReadLimits::default(),
    )
    .unwrap_err();
    match &e {
        FormatError::MissingCompanion { missing, .. } => {
            assert_eq!(missing, "16x16_STEM_BF_DF_acquire_1.ser")
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("same folder"), "{e}");
}
