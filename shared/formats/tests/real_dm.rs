//! Real DM3/DM4 files written by Gatan's software (hyperspy 1.7.6's and temul-toolkit
//! 0.1.9's test data, provisioned into the cache).
//!
//! Where the expected values come from: each file's tag tree was dumped independently (a
//! throwaway Python walker of the tag format, and numpy reading the `Data` array at its
//! offset), and the values below are those tags: `Dimensions`, `DataType`,
//! `Calibrations.Dimension[i]` {Scale, Origin, Units} (offset = -Origin × Scale), and the
//! `ImageTags` named in each comment. The test-N files are described by RosettaSciIO's
//! `generate_dm_testing_files.py` and `test_dm3.py`: DataType N, values 1, 2, ... in order.
//! Sums and single values were computed by numpy from the raw `Data` bytes; hyperspy's own
//! test states the same HAADF sum for multi_signal.dm3 (949490255).
#![allow(clippy::unwrap_used)]

mod common;

use common::{close, read_instrument};
use tessera_formats::{Acquisition, DType, FileFormat, FormatError, SignalKind};

const IO: &str = "hyperspy/tests/io";

fn sum(a: &Acquisition, i: usize) -> f64 {
    a.signals[i].data.iter().map(|&v| f64::from(v)).sum()
}

#[test]
fn stem_image_dm3() {
    let a = read_instrument(&format!("{IO}/dm3_2D_data/test_STEM_image.dm3"));
    assert_eq!(a.format, FileFormat::Dm3);
    // ImageList: #0 the 128 × 128 RGB thumbnail (Thumbnails.ImageIndex 0), #1 the image.
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    assert_eq!(s.name, "test_STEM_image"); // ImageList.#1.Name
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::U32); // DataType 11
    assert_eq!(s.shape(), [68, 68]); // Dimensions 68, 68
    // Dimension #1 (y): Origin -171, Scale 0.24853801727294922 nm; #0 (x): Origin -207.
    let (y, x) = (&s.axes[0], &s.axes[1]);
    assert!(close(y.scale, 0.248_538_017_272_949_22, 1e-12));
    assert!(close(y.offset, 171.0 * 0.248_538_017_272_949_22, 1e-12));
    assert!(close(x.offset, 207.0 * 0.248_538_017_272_949_22, 1e-12));
    assert_eq!((y.unit.as_str(), x.unit.as_str()), ("nm", "nm"));
    let px = s.pixel_size().unwrap();
    assert!(close(px.x_nm, 0.248_538, 1e-6));
    // numpy: first values 33121 33489 33638, [1][0] = 32411, sum 150998555.
    assert_eq!(s.data[..3], [33121.0, 33489.0, 33638.0]);
    assert_eq!(s.data[68], 32411.0);
    assert_eq!(sum(&a, 0), 150_998_555.0);
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("FEI Titan")); // Session Info.Microscope
    assert_eq!(m.voltage_kv, Some(200.0)); // Microscope Info.Voltage 200000 V
    assert_eq!(m.magnification, Some(225_000.0)); // Indicated Magnification (STEM)
    assert!(close(m.exposure_s.unwrap(), 3.5e-6, 1e-12)); // DigiScan.Sample Time 3.5 µs
    assert_eq!(m.acquired.as_deref(), Some("8/8/2016 4:26:37 PM")); // DataBar
    assert_eq!(m.extra["detector"], "DigiScan"); // DataBar.Device Name
    assert_eq!(m.extra["camera_length"], "135"); // STEM Camera Length
}

#[test]
fn multi_signal_dm3_picks_the_haadf() {
    let a = read_instrument(&format!("{IO}/dm3_2D_data/multi_signal.dm3"));
    // ImageList: #0 thumbnail, #1 "HAADF" 512 × 512 DataType 10, #2 "Plot" 512 DataType 2.
    assert_eq!(a.signals.len(), 2);
    let h = &a.signals[0];
    assert_eq!(
        (h.name.as_str(), h.kind, h.dtype),
        ("HAADF", SignalKind::Image, DType::U16)
    );
    assert_eq!(h.shape(), [512, 512]);
    for ax in &h.axes {
        // Scale 0.017751578241586685 nm, Origin 0.
        assert!(close(ax.scale, 0.017_751_578_241_586_685, 1e-12));
        assert_eq!((ax.offset, ax.unit.as_str()), (0.0, "nm"));
    }
    assert_eq!(sum(&a, 0), 949_490_255.0);
    assert_eq!(h.data[..3], [195.0, 25.0, 106.0]);
    assert_eq!(h.data[512], 26.0);
    let p = &a.signals[1];
    assert_eq!(
        (p.name.as_str(), p.kind, p.dtype),
        ("Plot", SignalKind::Other, DType::F32)
    );
    assert_eq!(p.shape(), [512]);
    assert!(close(sum(&a, 1), 28.085_794, 1e-5));
    assert_eq!(a.pick(None).unwrap().name, "HAADF");
    assert_eq!(a.pick(Some("haadf")).unwrap().name, "HAADF");
    assert_eq!(a.pick(Some("Plot")).unwrap().kind, SignalKind::Other);
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("Example Microscope"));
    assert_eq!(m.voltage_kv, Some(300.0));
    assert_eq!(m.magnification, Some(10_000_000.0));
    assert!(close(
        m.exposure_s.unwrap(),
        32.400_001_525_878_906e-6,
        1e-9
    ));
    assert_eq!(m.acquired.as_deref(), Some("12/10/2019 3:32:41 PM"));
    assert_eq!(m.extra["operator"], "JohnDoe"); // Session Info.Operator
    assert_eq!(m.extra["specimen"], "PrecipitateA");
}

#[test]
fn eels_spectrum_dm3() {
    let a = read_instrument(&format!("{IO}/dm3_1D_data/test-EELS_spectrum.dm3"));
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    assert_eq!(s.name, "EELS Acquire");
    assert_eq!((s.kind, s.dtype), (SignalKind::Spectrum, DType::F32)); // DataType 2
    assert_eq!(s.shape(), [2048]);
    // Dimension #0: Origin 200, Scale 0.5 eV: the first channel is at -100 eV.
    let e = &s.axes[0];
    assert_eq!(
        (e.name.as_str(), e.scale, e.offset, e.unit.as_str()),
        ("energy", 0.5, -100.0, "eV")
    );
    assert_eq!(s.data[..3], [-20.679_565, -54.752_808, 204.568_6]);
    // Brightness: Scale 0.1285347044467926, Units "e-".
    assert_eq!(s.metadata["intensity_unit"], "e-");
    assert_eq!(s.metadata["signal_type"], "EELS"); // Meta Data.Signal
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("FEI Titan"));
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(640_000.0));
    assert_eq!(m.exposure_s, Some(7e-5)); // Acquisition.Parameters.High Level.Exposure (s)
    assert_eq!(m.extra["integration_time_s"], "0.0034999999999999996"); // EELS.Acquisition
    assert_eq!(m.extra["spectrometer"], "GIF Quantum ER");
    assert_eq!(m.extra["detector"], "US1000FTXP 1"); // Acquisition.Device.Name
    assert_eq!(m.acquired.as_deref(), Some("8/8/2016 7:35:17 PM")); // EELS.Acquisition
    // Nothing to segment: pick refuses with the signals it has.
    let e = a.pick(None).unwrap_err();
    assert!(matches!(e, FormatError::NoImage { .. }), "{e}");
}

#[test]
fn stack_builder_image_stack_dm3() {
    let a = read_instrument(&format!(
        "{IO}/dm_stackbuilder_plugin/test_stackbuilder_imagestack.dm3"
    ));
    let s = &a.signals[0];
    assert_eq!(s.name, "stackbuilder_test4_16x2");
    assert_eq!((s.kind, s.dtype), (SignalKind::ImageStack, DType::U32)); // DataType 11
    assert_eq!(s.shape(), [3, 2, 16]); // Dimensions 16, 2, 3
    // Only two calibrations are stored: 0.05998290330171585 µm on x and y; frames bare.
    assert_eq!(
        (
            s.axes[0].name.as_str(),
            s.axes[0].scale,
            s.axes[0].unit.as_str()
        ),
        ("frame", 1.0, "")
    );
    for ax in &s.axes[1..] {
        assert!(close(ax.scale, 0.059_982_903_301_715_85, 1e-12));
        assert_eq!((ax.offset, ax.unit.as_str()), (0.0, "µm"));
    }
    assert_eq!(s.planes().unwrap().len(), 3);
    assert_eq!(s.data[..3], [606_491.0, 615_402.0, 621_457.0]);
    assert_eq!(s.data[95], 601_887.0);
    assert_eq!(sum(&a, 0), 58_576_739.0);
    // The tags of the source image: ImageTags.source.Tags at creation.
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("JEM-ARM200F"));
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(200_000.0));
    assert_eq!(m.acquired.as_deref(), Some("5/17/2015 5:00:16 PM"));
    assert!(close(m.exposure_s.unwrap(), 30_000.050_781_25e-6, 1e-12));
    assert_eq!(m.extra["specimen"], "DWNC");
}

/// The test-N files: `NewImage("test", N, 2, 2)` with values 1, 2, 3, 4 (2-D) or 1..8 (3-D)
/// in DM's index order, so row-major in ours.
#[test]
fn known_value_files() {
    for (rel, format, dtype, shape) in [
        (
            "dm3_2D_data/test-10.dm3",
            FileFormat::Dm3,
            DType::U16,
            vec![2, 2],
        ),
        (
            "dm4_2D_data/test-10.dm4",
            FileFormat::Dm4,
            DType::U16,
            vec![2, 2],
        ),
        (
            "dm4_2D_data/test-2.dm4",
            FileFormat::Dm4,
            DType::F32,
            vec![2, 2],
        ),
        (
            "dm3_3D_data/test-10.dm3",
            FileFormat::Dm3,
            DType::U16,
            vec![2, 2, 2],
        ),
    ] {
        let a = read_instrument(&format!("{IO}/{rel}"));
        assert_eq!(a.format, format, "{rel}");
        assert_eq!(
            a.signals.len(),
            1,
            "{rel}: the 64 × 64 thumbnail is skipped"
        );
        let s = &a.signals[0];
        assert_eq!((s.name.as_str(), s.dtype), ("test", dtype), "{rel}");
        assert_eq!(s.shape(), shape, "{rel}");
        let n = shape.iter().product::<usize>();
        let want: Vec<f32> = (1..=n).map(|v| v as f32).collect();
        assert_eq!(s.data, want, "{rel}");
        let kind = if shape.len() == 2 {
            SignalKind::Image
        } else {
            SignalKind::ImageStack
        };
        assert_eq!(s.kind, kind, "{rel}");
        for ax in &s.axes {
            assert_eq!(
                (ax.scale, ax.offset, ax.unit.as_str()),
                (1.0, 0.0, ""),
                "{rel}"
            );
        }
        assert_eq!(a.metadata, Default::default(), "{rel}: no ImageTags");
    }
}

#[test]
fn eels_spectrum_image_dm4() {
    let a = read_instrument(&format!("{IO}/dm4_3D_data/EELS_SI.dm4"));
    assert_eq!(a.format, FileFormat::Dm4);
    let s = &a.signals[0];
    assert_eq!(s.name, "EELS_SI");
    assert_eq!((s.kind, s.dtype), (SignalKind::SpectrumImage, DType::F32));
    // Dimensions 2, 2, 2048; Meta Data.Format "Spectrum image"; eV on the third.
    assert_eq!(s.shape(), [2, 2, 2048]);
    for ax in &s.axes[..2] {
        assert!(close(ax.scale, 0.001_992_073_608_562_350_3, 1e-12));
        assert_eq!(ax.unit, "µm");
    }
    let e = &s.axes[2];
    // Origin -300, Scale 1 eV.
    assert_eq!(
        (e.name.as_str(), e.scale, e.offset, e.unit.as_str()),
        ("energy", 1.0, 300.0, "eV")
    );
    // numpy, file order [e][y][x]: y = 1, x = 0, e = 0..2 is 7_923.006, 7870.4023, 8046.6514;
    // y = 0, x = 1, e = 100 is 3784.9111.
    let at = |y: usize, x: usize, e: usize| s.data[(y * 2 + x) * 2048 + e];
    assert_eq!(
        [at(1, 0, 0), at(1, 0, 1), at(1, 0, 2)],
        [7_923.006, 7_870.402_3, 8_046.651_4]
    );
    assert_eq!(at(0, 1, 100), 3_784.911_1);
    assert!(close(sum(&a, 0), 7.169_069e6, 1e-6));
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("FEI Titan"));
    assert_eq!(m.voltage_kv, Some(200.0));
    assert_eq!(m.magnification, Some(225_000.0));
    assert!(close(
        m.exposure_s.unwrap(),
        0.020_010_000_676_847_994,
        1e-12
    ));
    assert_eq!(m.acquired.as_deref(), Some("14/05/2019 20:50:13")); // SI.Acquisition
    assert_eq!(s.metadata["signal_type"], "EELS");
    assert!(a.pick(None).is_err(), "a spectrum image is not segmented");
}

#[test]
fn cathodoluminescence_spectrum_image_dm4() {
    let a = read_instrument(&format!("{IO}/dm4_2D_data/test-MonarcCL_spectrum-SI.dm4"));
    let s = &a.signals[0];
    assert_eq!(s.name, "Monarc_SI_9pix");
    assert_eq!((s.kind, s.dtype), (SignalKind::SpectrumImage, DType::F32));
    assert_eq!(s.shape(), [3, 3, 670]); // Dimensions 3, 3, 670
    for ax in &s.axes[..2] {
        assert!(close(ax.scale, 0.015_058_605_000_376_701, 1e-12));
        assert_eq!((ax.offset, ax.unit.as_str()), (0.0, "µm"));
    }
    // Dimension #2: Origin -2153.49609375, Scale 0.1466745287179947 nm (wavelength).
    let w = &s.axes[2];
    assert_eq!((w.name.as_str(), w.unit.as_str()), ("wavelength", "nm"));
    assert!(close(w.scale, 0.146_674_528_717_994_7, 1e-12));
    assert!(close(
        w.offset,
        2_153.496_093_75 * 0.146_674_528_717_994_7,
        1e-12
    ));
    // numpy, file order [e][y][x]: y = 2, x = 1, e = 0..2; y = 0, x = 0, e = 669.
    let at = |y: usize, x: usize, e: usize| s.data[(y * 3 + x) * 670 + e];
    assert_eq!(
        [at(2, 1, 0), at(2, 1, 1), at(2, 1, 2)],
        [-40.392_83, 1.094_148_6, -0.575_130_46]
    );
    assert_eq!(at(0, 0, 669), 20.390_728);
    let m = &a.metadata;
    assert_eq!(m.microscope.as_deref(), Some("Zeiss SEM COM")); // Microscope Info.Name
    assert_eq!(m.voltage_kv, Some(5.0));
    assert!(close(m.magnification.unwrap(), 5_884.540_039_062_5, 1e-12));
    assert!(close(m.exposure_s.unwrap(), 0.05, 1e-7)); // DataBar.Exposure Time (s)
    assert_eq!(m.acquired.as_deref(), Some("9/16/2021 12:06:16 PM"));
    assert_eq!(m.extra["detector"], "PICam 1");
    assert_eq!(s.metadata["signal_type"], "CL");
}

#[test]
fn atomic_resolution_haadf_dm3() {
    let a = read_instrument("temul/example_data/experimental/example_Se_implanted_MoS2.dm3");
    assert_eq!(a.signals.len(), 1);
    let s = a.pick(None).unwrap();
    assert_eq!(s.name, "SI Survey Image (active)");
    assert_eq!((s.kind, s.dtype), (SignalKind::Image, DType::U32)); // DataType 11
    assert_eq!(s.shape(), [1024, 1024]);
    // Scale 0.0126953125 nm, Origin 0, on both axes.
    let px = s.pixel_size().unwrap();
    assert_eq!((px.x_nm, px.y_nm), (0.012_695_312_5, 0.012_695_312_5));
    assert_eq!(s.data[..3], [3_058_051.0, 3_077_498.0, 3_082_682.0]);
    assert_eq!(sum(&a, 0), 3_187_697_916_895.0);
    let m = &a.metadata;
    // Microscope Info.Name is "Unknown" and Session Info.Microscope empty: no microscope.
    assert_eq!(m.microscope, None);
    assert_eq!(m.voltage_kv, Some(60.0));
    assert_eq!(m.magnification, Some(1000.0));
    assert_eq!(m.acquired.as_deref(), Some("03-Jul-16 6:20:54 PM"));
    assert!(close(m.exposure_s.unwrap(), 32.4e-6, 1e-7));
}
