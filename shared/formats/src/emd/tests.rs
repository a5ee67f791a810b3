//! Synthetic HDF5 files written with hdf5-metno in a temporary folder, then read back from
//! their bytes: one valid file of each layout, and truncated, damaged, oversized and unsafe
//! ones.

use std::str::FromStr;

use hdf5_metno::types::VarLenUnicode;
use hdf5_metno::{File, Group, H5Type, Location};

use super::read;
use crate::{DType, FormatError, NoCompanions, ReadLimits, SignalKind};

/// Writes a file with `build` into a temporary folder and returns its bytes.
fn h5_bytes(build: impl FnOnce(&File)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.h5");
    {
        let f = File::create(&path).unwrap();
        build(&f);
    }
    std::fs::read(&path).unwrap()
}

fn text(s: &str) -> VarLenUnicode {
    VarLenUnicode::from_str(s).unwrap()
}

fn attr_str(loc: &Location, name: &str, value: &str) {
    loc.new_attr::<VarLenUnicode>()
        .create(name)
        .unwrap()
        .write_scalar(&text(value))
        .unwrap();
}

fn attr_num<T: H5Type>(loc: &Location, name: &str, value: T) {
    loc.new_attr::<T>()
        .create(name)
        .unwrap()
        .write_scalar(&value)
        .unwrap();
}

fn dataset<T: H5Type>(g: &Group, name: &str, shape: &[usize], data: &[T]) {
    g.new_dataset::<T>()
        .shape(shape.to_vec())
        .create(name)
        .unwrap()
        .write_raw(data)
        .unwrap();
}

fn string_dataset(g: &Group, name: &str, s: &str) {
    dataset(g, name, &[1], &[text(s)][..]);
}

/// Velox's per-frame metadata: JSON documents, NUL-padded, one per column.
fn metadata_columns(g: &Group, docs: &[&str]) {
    let rows = 2048;
    let mut m = vec![0u8; rows * docs.len()];
    for (c, d) in docs.iter().enumerate() {
        for (r, b) in d.bytes().enumerate() {
            m[r * docs.len() + c] = b;
        }
    }
    dataset(g, "Metadata", &[rows, docs.len()], &m);
}

const IMAGE_JSON: &str = r#"{"BinaryResult": {"Detector": "HAADF", "DetectorIndex": "3",
    "PixelSize": {"width": "2e-10", "height": "3e-10"}, "Offset": {"x": "-1e-9", "y": "-2e-9"},
    "PixelUnitX": "m", "PixelUnitY": "m"},
  "Detectors": {"Detector-3": {"DetectorName": "HAADF", "DetectorType": "ScanningDetector"},
                "Detector-4": {"DetectorName": "SuperXG21", "DetectorType": "AnalyticalDetector",
                               "Dispersion": "10", "OffsetEnergy": "-1000"}},
  "Instrument": {"InstrumentModel": "Talos F200X", "InstrumentClass": "Talos"},
  "Optics": {"AccelerationVoltage": "200000"},
  "Scan": {"DwellTime": "1e-6", "FrameTime": "0.5",
           "ScanSize": {"width": "20", "height": "16"},
           "ScanArea": {"left": "0", "top": "0", "right": "0.25", "bottom": "0.25"}},
  "CustomProperties": {"StemMagnification": {"type": "double", "value": "80000"}},
  "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1488794201"}}}"#;

/// A Velox file: a 2-frame 4 × 5 HAADF stack (value = 100·frame + 10·y + x) and a 4 × 5
/// spectrum stream of 8 channels.
fn velox_file(stream: &[u16]) -> Vec<u8> {
    h5_bytes(|f| {
        string_dataset(f, "Version", r#"{"version": "4", "format": "Velox"}"#);
        let data = f.create_group("Data").unwrap();
        let img = data
            .create_group("Image")
            .unwrap()
            .create_group("abc")
            .unwrap();
        let mut v = vec![0u16; 4 * 5 * 2];
        for y in 0..4 {
            for x in 0..5 {
                for fr in 0..2 {
                    v[(y * 5 + x) * 2 + fr] = (100 * fr + 10 * y + x) as u16;
                }
            }
        }
        dataset(&img, "Data", &[4, 5, 2], &v);
        metadata_columns(&img, &[IMAGE_JSON, IMAGE_JSON]);
        let st = data
            .create_group("SpectrumStream")
            .unwrap()
            .create_group("s1")
            .unwrap();
        string_dataset(
            &st,
            "AcquisitionSettings",
            r#"{"bincount": "8", "StreamEncoding": "uint16"}"#,
        );
        dataset(&st, "Data", &[stream.len(), 1], stream);
        let sj = IMAGE_JSON.replace(r#""Detector": "HAADF""#, r#""Detector": "SuperXG2""#);
        metadata_columns(&st, &[&sj]);
    })
}

fn read_bytes(bytes: &[u8], name: &str) -> Result<crate::Acquisition, FormatError> {
    read(bytes, name, &NoCompanions, &ReadLimits::default())
}

#[test]
fn velox_stack_and_spectrum_stream_read() {
    // Pixel 0 gets channel 3 twice; marker; pixel 1 channel 7; 19 markers close frame 0;
    // frame 1's pixel 0 gets channel 3 again.
    let mut s = vec![3u16, 3, 65535, 7];
    s.extend(std::iter::repeat_n(65535, 19));
    s.push(3);
    let a = read_bytes(&velox_file(&s), "v.emd").unwrap();
    let haadf = &a.signals[0];
    assert_eq!(haadf.name, "HAADF");
    assert_eq!(haadf.kind, SignalKind::ImageStack);
    assert_eq!(haadf.dtype, DType::U16);
    assert_eq!(haadf.shape(), [2, 4, 5]);
    // [frame, y, x]: frame 1, y 2, x 3.
    assert_eq!(haadf.data[20 + 2 * 5 + 3], 123.0);
    assert_eq!(
        (haadf.axes[0].scale, haadf.axes[0].unit.as_str()),
        (0.5, "s")
    );
    assert_eq!((haadf.axes[2].scale, haadf.axes[2].offset), (2e-10, -1e-9));
    assert_eq!(
        (haadf.axes[1].scale, haadf.axes[1].unit.as_str()),
        (3e-10, "m")
    );
    let px = haadf.pixel_size().unwrap();
    assert!((px.x_nm - 0.2).abs() < 1e-12 && (px.y_nm - 0.3).abs() < 1e-12);
    assert_eq!(a.metadata.microscope.as_deref(), Some("Talos F200X"));
    assert_eq!(a.metadata.voltage_kv, Some(200.0));
    assert_eq!(a.metadata.magnification, Some(80000.0));
    assert_eq!(a.metadata.exposure_s, Some(1e-6));
    assert_eq!(a.metadata.acquired.as_deref(), Some("2017-03-06T09:56:41Z"));

    let eds = &a.signals[1];
    assert_eq!(eds.kind, SignalKind::SpectrumImage);
    // The scan area (a quarter of 16 × 20) gives the map's size.
    assert_eq!(eds.shape(), [4, 5, 8]);
    assert_eq!(eds.axes[2].unit, "eV");
    assert_eq!((eds.axes[2].scale, eds.axes[2].offset), (10.0, -1000.0));
    assert_eq!(eds.data[3], 3.0); // pixel 0, channel 3: two in frame 0, one in frame 1
    assert_eq!(eds.data[8 + 7], 1.0); // pixel 1, channel 7
    assert_eq!(eds.data.iter().sum::<f32>(), 4.0);
    assert_eq!(eds.metadata["frames_summed"], "2");
}

#[test]
fn velox_stream_with_a_channel_beyond_the_spectrum_is_corrupt() {
    let e = read_bytes(&velox_file(&[1, 65535, 9]), "v.emd").unwrap_err();
    assert!(matches!(e, FormatError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("value 9"), "{e}");
}

#[test]
fn berkeley_data_is_transposed_and_calibrated_from_its_dims() {
    let b = h5_bytes(|f| {
        attr_num(f, "version_major", 0i32);
        attr_num(f, "version_minor", 2i32);
        let g = f
            .create_group("signals")
            .unwrap()
            .create_group("probe")
            .unwrap();
        attr_num(&g, "emd_group_type", 1i32);
        // Stored [x = 3, y = 2] (Fortran order): sample (x, y) = 10·x + y.
        let v: Vec<i32> = (0..3)
            .flat_map(|x| (0..2).map(move |y| 10 * x + y))
            .collect();
        dataset(&g, "data", &[3, 2], &v);
        dataset(&g, "dim1", &[3], &[0.5f64, 0.75, 1.0]);
        attr_str(&g.dataset("dim1").unwrap(), "name", "x");
        attr_str(&g.dataset("dim1").unwrap(), "units", "[n_m]");
        dataset(&g, "dim2", &[2], &[0.0f64, 2.0]);
        attr_str(&g.dataset("dim2").unwrap(), "units", "[1_/_n_m]");
    });
    let a = read_bytes(&b, "b.emd").unwrap();
    let s = &a.signals[0];
    assert_eq!(s.name, "probe");
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.dtype, DType::I32);
    assert_eq!(s.shape(), [2, 3]);
    assert_eq!(s.data, [0., 10., 20., 1., 11., 21.]);
    assert_eq!(
        (
            s.axes[1].name.as_str(),
            s.axes[1].scale,
            s.axes[1].offset,
            s.axes[1].unit.as_str()
        ),
        ("x", 0.25, 0.5, "nm")
    );
    assert_eq!(
        (s.axes[0].name.as_str(), s.axes[0].unit.as_str()),
        ("y", "1/nm")
    );
    assert_eq!(a.metadata.extra["emd_version"], "0.2");
}

#[test]
fn hyperspy_signal_reads_with_its_axes() {
    let b = h5_bytes(|f| {
        attr_str(f, "file_format", "HyperSpy");
        attr_str(f, "file_format_version", "3.1");
        let g = f
            .create_group("Experiments")
            .unwrap()
            .create_group("__unnamed__")
            .unwrap();
        let v: Vec<f32> = (0..12).map(|i| i as f32).collect();
        dataset(&g, "data", &[3, 4], &v);
        for (i, (size, scale, unit)) in [(3i64, 0.5f64, "nm"), (4, 0.25, "nm")]
            .into_iter()
            .enumerate()
        {
            let a = g.create_group(&format!("axis-{i}")).unwrap();
            attr_num(&a, "size", size);
            attr_num(&a, "scale", scale);
            attr_num(&a, "offset", 1.0f64);
            attr_str(&a, "units", unit);
            attr_num(&a, "navigate", false);
        }
        let m = g.create_group("metadata").unwrap();
        let ti = m.create_group("TEM_dummy").unwrap();
        drop(ti);
        let ins = m
            .create_group("Acquisition_instrument")
            .unwrap()
            .create_group("TEM")
            .unwrap();
        attr_num(&ins, "beam_energy", 300.0f64);
        attr_str(&ins, "microscope", "Titan");
    });
    let a = read_bytes(&b, "scan.hspy").unwrap();
    let s = &a.signals[0];
    assert_eq!(s.name, "scan");
    assert_eq!(s.kind, SignalKind::Image);
    assert_eq!(s.shape(), [3, 4]);
    assert_eq!(s.data[5], 5.0);
    assert_eq!(
        (
            s.axes[0].name.as_str(),
            s.axes[0].scale,
            s.axes[0].offset,
            s.axes[0].unit.as_str()
        ),
        ("y", 0.5, 1.0, "nm")
    );
    assert_eq!(s.axes[1].scale, 0.25);
    assert_eq!(a.metadata.voltage_kv, Some(300.0));
    assert_eq!(a.metadata.microscope.as_deref(), Some("Titan"));
}

#[test]
fn an_hdf5_file_of_another_layout_is_refused_with_what_was_looked_for() {
    let b = h5_bytes(|f| dataset(f, "temperature", &[3], &[1.0f32, 2.0, 3.0]));
    let e = read_bytes(&b, "x.h5").unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, FormatError::Unsupported { .. }), "{msg}");
    for wanted in ["temperature", "Velox", "emd_group_type", "HyperSpy"] {
        assert!(msg.contains(wanted), "{msg}");
    }
}

#[test]
fn truncated_and_damaged_files_are_refused_without_panicking() {
    let good = velox_file(&[1, 65535, 2]);
    for cut in [8, 100, 1000, good.len() / 2, good.len() - 1] {
        let e = read_bytes(&good[..cut], "v.emd").unwrap_err();
        assert!(
            matches!(
                e,
                FormatError::Truncated { .. } | FormatError::Corrupt { .. }
            ),
            "cut at {cut}: {e}"
        );
    }
    // Overwrite stretches of the file with junk: every result is an error or a reading,
    // never a panic.
    for start in (0..good.len()).step_by(good.len() / 40 + 1) {
        let mut bad = good.clone();
        for b in bad.iter_mut().skip(start).take(64) {
            *b ^= 0xA5;
        }
        let _ = read_bytes(&bad, "v.emd");
    }
}

#[test]
fn an_oversized_shape_is_refused_before_reading() {
    let b = h5_bytes(|f| {
        string_dataset(f, "Version", r#"{"version": "4", "format": "Velox"}"#);
        let img = f
            .create_group("Data")
            .unwrap()
            .create_group("Image")
            .unwrap()
            .create_group("big")
            .unwrap();
        // 200 000 × 200 000 × 1, chunked and never written: a tiny file.
        img.new_dataset::<u16>()
            .shape([200_000, 200_000, 1])
            .chunk([256, 256, 1])
            .create("Data")
            .unwrap();
    });
    assert!(b.len() < 100_000);
    let e = read_bytes(&b, "v.emd").unwrap_err();
    assert!(matches!(e, FormatError::TooLarge { .. }), "{e}");
}

#[test]
fn samples_stored_outside_the_file_are_refused() {
    let b = h5_bytes(|f| {
        string_dataset(f, "Version", r#"{"version": "4", "format": "Velox"}"#);
        let img = f
            .create_group("Data")
            .unwrap()
            .create_group("Image")
            .unwrap()
            .create_group("ext")
            .unwrap();
        img.new_dataset::<u8>()
            .shape([2, 2, 1])
            .external("/etc/hostname", 0, 4)
            .create("Data")
            .unwrap();
    });
    let e = read_bytes(&b, "v.emd").unwrap_err();
    assert!(matches!(e, FormatError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("external"), "{e}");
}

#[test]
fn external_links_are_not_followed() {
    let b = h5_bytes(|f| {
        string_dataset(f, "Version", r#"{"version": "4", "format": "Velox"}"#);
        let images = f
            .create_group("Data")
            .unwrap()
            .create_group("Image")
            .unwrap();
        images
            .link_external("/somewhere/else.h5", "/Data/Image/x", "x")
            .unwrap();
    });
    // Nothing readable is left: refused, and nothing outside the bytes was opened.
    let e = read_bytes(&b, "v.emd").unwrap_err();
    assert!(matches!(e, FormatError::Unsupported { .. }), "{e}");
}

#[test]
fn signal_names_fall_back_to_the_file_stem() {
    assert_eq!(super::signal_name("__unnamed__", "dir/ADF.hdf5"), "ADF");
    assert_eq!(super::signal_name("HAADF", "x.emd"), "HAADF");
    assert_eq!(super::signal_name("", ""), "signal");
}
