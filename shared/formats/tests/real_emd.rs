//! Real HDF5 files (Velox EMD, Berkeley EMD, HyperSpy) from `instrument-files.md`, read and
//! checked against what the files themselves state. Every expected value was taken by
//! inspecting the file with h5py (`~/.cache/tessera/venv/bin/python`): the dataset shapes and
//! dtypes, a few samples, and for Velox the JSON in `Metadata[:, 0]`; the EDS counts from
//! counting the spectrum stream's values with numpy. Where a value comes from elsewhere the
//! comment says so.
// Expected values are written with the digits the files store them with.
#![allow(clippy::unwrap_used, clippy::excessive_precision, missing_docs)]

// The shared helpers are `pub` for every test crate; here some go unused outside.
mod common;

use common::{close, read_instrument};
use tessera_formats::{DType, SignalKind};

const FEI_ZIP: &str = "hyperspy/tests/io/emd_files/fei_emd_files.zip";

#[test]
fn velox_haadf_image_from_a_talos() {
    let a = read_instrument(&format!("{FEI_ZIP}/fei_emd_image.emd"));
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    // Data (512, 512, 1) uint16; BinaryResult.Detector "HAADF".
    assert_eq!(s.name, "HAADF");
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::U16);
    assert_eq!(s.shape(), [512, 512]);
    // Data[0, 0, 0], Data[1, 2, 0], Data[511, 511, 0].
    assert_eq!(s.data[0], 9240.0);
    assert_eq!(s.data[512 + 2], 9203.0);
    assert_eq!(s.data[512 * 512 - 1], 9216.0);
    // BinaryResult.PixelSize {width, height} = 5.3024148379916015e-009, PixelUnitX/Y "m",
    // Offset {x, y} = -1.35741819852585e-006.
    for ax in &s.axes {
        assert_eq!(ax.unit, "m");
        assert!(close(ax.scale, 5.302_414_837_991_601_5e-9, 1e-12));
        assert!(close(ax.offset, -1.357_418_198_525_85e-6, 1e-12));
    }
    assert_eq!(
        (s.axes[0].name.as_str(), s.axes[1].name.as_str()),
        ("y", "x")
    );
    let px = s.pixel_size().unwrap();
    assert!(close(px.x_nm, 5.302_414_837_991_601_5, 1e-12));
    // Instrument.InstrumentClass "Talos" (no InstrumentModel in this file),
    // Optics.AccelerationVoltage "200000", CustomProperties.StemMagnification "40000",
    // Scan.DwellTime "2.0000000000000002e-005",
    // Acquisition.AcquisitionStartDatetime.DateTime "1488794201" (RosettaSciIO's test gives
    // 2017-03-06 09:56:41 British time, i.e. UTC in March).
    let md = &a.metadata;
    assert_eq!(md.microscope.as_deref(), Some("Talos"));
    assert_eq!(md.voltage_kv, Some(200.0));
    assert_eq!(md.magnification, Some(40000.0));
    assert!(close(md.exposure_s.unwrap(), 2e-5, 1e-9));
    assert_eq!(md.acquired.as_deref(), Some("2017-03-06T09:56:41Z"));
    assert_eq!(md.extra["detector"], "HAADF");
    assert_eq!(md.extra["manufacturer"], "FEI Company");
    // /Version: {"version": "4", "format": "Velox"}.
    assert_eq!(md.extra["velox_file_version"], "4");
}

#[test]
fn velox_spectrum_image_stack_and_eds_stream() {
    let a = read_instrument(&format!("{FEI_ZIP}/fei_emd_si.emd"));
    let haadf = a.signals.iter().find(|s| s.name == "HAADF").unwrap();
    // Data/Image/…/Data (16, 16, 5) uint16, one Metadata column per frame.
    assert_eq!(haadf.kind, SignalKind::ImageStack);
    assert_eq!(haadf.dtype, DType::U16);
    assert_eq!(haadf.shape(), [5, 16, 16]);
    // Data[0, 0, :] = 9272 9283 9270 9288 9248, Data[1, 2, :] = 9249 9277 9268 9284 9266.
    let at = |f: usize, y: usize, x: usize| haadf.data[f * 256 + y * 16 + x];
    assert_eq!(
        [at(0, 0, 0), at(1, 0, 0), at(4, 0, 0)],
        [9272.0, 9283.0, 9248.0]
    );
    assert_eq!([at(0, 1, 2), at(3, 1, 2)], [9249.0, 9284.0]);
    // Scan.FrameTime "0.041600000000000005" s per frame.
    assert_eq!(haadf.axes[0].name, "frame");
    assert!(close(haadf.axes[0].scale, 0.0416, 1e-9));
    assert_eq!(haadf.axes[0].unit, "s");
    // BinaryResult.Offset {x: -4.7721733541924413e-008, y: -1.0604829675983203e-008}.
    assert!(close(
        haadf.axes[2].offset,
        -4.772_173_354_192_441_3e-8,
        1e-12
    ));
    assert!(close(
        haadf.axes[1].offset,
        -1.060_482_967_598_320_3e-8,
        1e-12
    ));

    let eds = a.signals.iter().find(|s| s.name == "EDS").unwrap();
    assert_eq!(eds.kind, SignalKind::SpectrumImage);
    // 16 × 16 scan positions (Scan.ScanArea 0.482421875..0.513671875 of a 512 scan, as the
    // HAADF stack), AcquisitionSettings.bincount "4096", StreamEncoding "uint16".
    assert_eq!(eds.shape(), [16, 16, 4096]);
    assert_eq!(eds.dtype, DType::U16);
    // The stream's detector is "SuperXG2"; Detectors.SuperXG21 has Dispersion "10" (eV per
    // channel) and OffsetEnergy "-1000" (eV).
    let e = &eds.axes[2];
    assert_eq!((e.scale, e.offset, e.unit.as_str()), (10.0, -1000.0, "eV"));
    // Total counts: the stream holds 7837 values, 1273 of them the 65535 pixel marker.
    let total: f64 = eds.data.iter().map(|&v| f64::from(v)).sum();
    assert_eq!(total, 6564.0);
    assert_eq!(eds.metadata["frames_summed"], "5");
    // Counts of the first five pixels of row 0 (stream decoded with numpy: each 65535 moves
    // on one pixel, 256 pixels a frame, frames summed).
    let pixel_sum = |p: usize| -> f32 { eds.data[p * 4096..(p + 1) * 4096].iter().sum() };
    assert_eq!(
        (0..5).map(pixel_sum).collect::<Vec<_>>(),
        [18.0, 26.0, 28.0, 21.0, 19.0]
    );
    // The summed spectrum.
    let mut spectrum = vec![0f64; 4096];
    for (i, &v) in eds.data.iter().enumerate() {
        spectrum[i % 4096] += f64::from(v);
    }
    let channel_of = |ev: f64| ((ev - e.offset) / e.scale).round() as usize;
    let window = |ev: f64| -> f64 {
        let c = channel_of(ev);
        spectrum[c - 10..=c + 10].iter().sum()
    };
    // Its peak is the detector's zero-energy (noise) peak, in the channel the calibration
    // gives for 0 eV: channel 100.
    let peak = (0..4096)
        .max_by(|&a, &b| spectrum[a].total_cmp(&spectrum[b]))
        .unwrap();
    assert_eq!(peak, channel_of(0.0));
    assert_eq!(peak, 100);
    // Above it the counts are few; copper (Cu Kα 8048 eV, from the grid) stands out where the
    // calibration puts it: 17 counts within ±100 eV, none in the same windows at 6.5 and
    // 7.3 keV.
    assert_eq!(window(8048.0), 17.0);
    assert_eq!(window(6500.0), 0.0);
    assert_eq!(window(7300.0), 0.0);
    assert!(
        a.notes.iter().any(|n| n.contains("summed over 5 frame")),
        "{:?}",
        a.notes
    );
}

#[test]
fn velox_ceta_tem_stack() {
    let a = read_instrument("hyperspy/tests/io/emd_files/fei_example_tem_stack.emd");
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    // Data (3, 3, 2) int16 = [y, x, frame]. The image is named as its
    // /Operations/CameraInputOperation names the camera ("Ceta", HyperSpy's title too);
    // BinaryResult.Detector "BM-Ceta" stays the detector.
    assert_eq!(s.name, "Ceta");
    assert_eq!(s.metadata["detector"], "BM-Ceta");
    assert_eq!(s.kind, SignalKind::ImageStack);
    assert_eq!(s.dtype, DType::I16);
    assert_eq!(s.shape(), [2, 3, 3]);
    // Data[:, :, 0] = 0 2 4 / 6 8 10 / 12 14 16, Data[:, :, 1] = 1 3 5 / …
    assert_eq!(
        s.data,
        [
            0., 2., 4., 6., 8., 10., 12., 14., 16., 1., 3., 5., 7., 9., 11., 13., 15., 17.
        ]
    );
    // No Scan.FrameTime: the Ceta's Detectors.Detector-0.ExposureTime "0.8" s per frame
    // (RosettaSciIO's test_fei_no_frametime expects a Time scale of 0.8 too).
    assert_eq!((s.axes[0].scale, s.axes[0].unit.as_str()), (0.8, "s"));
    // PixelSize 8.1728831922978511e-12 m.
    assert!(close(s.axes[2].scale, 8.172_883_192_297_851e-12, 1e-12));
    assert_eq!(s.axes[2].unit, "m");
    let md = &a.metadata;
    // Instrument.InstrumentModel "Titan", AccelerationVoltage "300000",
    // Optics.NominalMagnification "1271519.155" (a TEM image), ExposureTime "0.8",
    // AcquisitionStartDatetime 1575540224.
    assert_eq!(md.microscope.as_deref(), Some("Titan"));
    assert_eq!(md.voltage_kv, Some(300.0));
    assert_eq!(md.magnification, Some(1_271_519.155));
    assert_eq!(md.exposure_s, Some(0.8));
    assert_eq!(md.acquired.as_deref(), Some("2019-12-05T10:03:44Z"));
}

#[test]
fn velox_au_nanoparticle_2048() {
    let a = read_instrument("temul/example_data/experimental/example_Au_nanoparticle.emd");
    let s = &a.signals[0];
    // Data (2048, 2048, 1) uint16, BinaryResult.Detector "HAADF".
    assert_eq!(s.name, "HAADF");
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::U16);
    assert_eq!(s.shape(), [2048, 2048]);
    // Data[0, 0] = 17532, Data[1, 2] = 17679, Data[2047, 2047] = 16674; sum 68233769830.
    assert_eq!(
        [s.data[0], s.data[2048 + 2], s.data[2048 * 2048 - 1]],
        [17532.0, 17679.0, 16674.0]
    );
    let sum: f64 = s.data.iter().map(|&v| f64::from(v)).sum();
    assert_eq!(sum, 68_233_769_830.0);
    // BinaryResult.PixelSize 7.4984014901309918e-012 m: 7.5 pm, a 15.4 nm field of view.
    let px = s.pixel_size().unwrap();
    assert!(close(px.x_nm, 7.498_401_490_130_992e-3, 1e-12));
    assert!(close(px.y_nm, 7.498_401_490_130_992e-3, 1e-12));
    // InstrumentClass "Titan", 300 kV, StemMagnification 5.1e+006, DwellTime 2.5e-006.
    let md = &a.metadata;
    assert_eq!(md.microscope.as_deref(), Some("Titan"));
    assert_eq!(md.voltage_kv, Some(300.0));
    assert_eq!(md.magnification, Some(5.1e6));
    assert!(close(md.exposure_s.unwrap(), 2.5e-6, 1e-9));
}

#[test]
fn berkeley_simulated_virtual_detector_stack() {
    let a = read_instrument("hyperspy/tests/io/emd_files/Si100_3D.emd");
    assert_eq!(a.signals.len(), 1);
    let s = &a.signals[0];
    // The emd_group_type = 1 group virtual_detector_depth0000 holds realslice (22, 22, 37)
    // float32 with dim1 R_x, dim2 R_y, dim3 bin_outer_angle: read transposed, as
    // RosettaSciIO does, to [bin_outer_angle, R_y, R_x].
    assert_eq!(s.name, "virtual_detector_depth0000");
    assert_eq!(s.dtype, DType::F32);
    assert_eq!(s.kind, SignalKind::ImageStack);
    assert_eq!(s.shape(), [37, 22, 22]);
    let names: Vec<&str> = s.axes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["bin_outer_angle", "R_y", "R_x"]);
    // realslice[3, 5, 20] (x = 3, y = 5, angle 20) = 0.070412606.
    assert_eq!(s.data[20 * 484 + 5 * 22 + 3], 0.070_412_606);
    // dim1 = dim2 = 0, 0.25, … with units "[n_m]"; dim3 = 0.0005, 0.0015, … "[mrad]".
    for ax in &s.axes[1..] {
        assert_eq!((ax.scale, ax.offset, ax.unit.as_str()), (0.25, 0.0, "nm"));
    }
    assert!(close(s.axes[0].scale, 0.001, 1e-6));
    assert!(close(s.axes[0].offset, 0.0005, 1e-6));
    assert_eq!(s.axes[0].unit, "mrad");
    assert!(a.notes.iter().any(|n| n.contains("simulator")));
}

#[test]
fn berkeley_example_signal_written_by_hyperspy() {
    let a = read_instrument("hyperspy/tests/io/emd_files/example_signal.emd");
    let s = &a.signals[0];
    // signals/__unnamed__/data (3, 3, 3) int32 holding 0..26; RosettaSciIO's test expects
    // np.arange(27).reshape((3, 3, 3)).T after its transpose.
    assert_eq!(s.name, "example_signal");
    assert_eq!(s.dtype, DType::I32);
    assert_eq!(s.shape(), [3, 3, 3]);
    for i in 0..3 {
        for j in 0..3 {
            for k in 0..3 {
                assert_eq!(s.data[i * 9 + j * 3 + k], (k * 9 + j * 3 + i) as f32);
            }
        }
    }
    // dim1..dim3 = [0, 1], name "", units "[]": uncalibrated steps of 1.
    for ax in &s.axes {
        assert_eq!((ax.scale, ax.offset, ax.unit.as_str()), (1.0, 0.0, ""));
    }
    // Root attributes version_major "0", version_minor "2".
    assert_eq!(a.metadata.extra["emd_version"], "0.2");
}

#[test]
fn hyperspy_adf_and_abf_from_atomap() {
    for (file, first, at_1_2, sum) in [
        ("test_ADF_cropped", 2538.0, 2154.0, 258_173_515.0),
        ("test_ABF_cropped", 2368.0, 2618.0, 517_962_284.0),
    ] {
        let a = read_instrument(&format!("atomap/tests/datasets/{file}.hdf5"));
        assert_eq!(a.signals.len(), 1);
        let s = &a.signals[0];
        // /Experiments/__unnamed__/data (400, 380) float16 (gzip), title "": named after
        // the file.
        assert_eq!(s.name, file);
        assert_eq!(s.kind, SignalKind::Image);
        assert_eq!(s.dtype, DType::F16);
        assert_eq!(s.shape(), [400, 380]);
        assert_eq!([s.data[0], s.data[380 + 2]], [first, at_1_2]);
        let total: f64 = s.data.iter().map(|&v| f64::from(v)).sum();
        assert_eq!(total, sum);
        // axis-0 and axis-1: scale 0.009326270238006416, offset 0, navigate False, no units
        // and no name: the pixel size has no length unit.
        for ax in &s.axes {
            assert_eq!(ax.scale, 0.009_326_270_238_006_416);
            assert_eq!((ax.offset, ax.unit.as_str()), (0.0, ""));
        }
        assert!(s.pixel_size().is_none());
        // Root file_format_version "3.1", Experiments/__unnamed__ package_version "1.7.5".
        assert_eq!(a.metadata.extra["hyperspy_file_version"], "3.1");
        assert_eq!(a.metadata.extra["hyperspy_version"], "1.7.5");
    }
}
