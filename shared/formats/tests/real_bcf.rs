//! The Bruker BCF files of HyperSpy 1.7.6's tests, read through `tessera_formats::read`.
//!
//! Every expected value was taken from the files themselves, not from this reader: the SFS
//! container was unpacked and the header XML (`EDSDatabase/HeaderData`, Windows-1252) read
//! with a separate Python script; image planes were base64-decoded there with numpy; the
//! spectrum images were decoded there by a separate implementation of the packing, whose
//! per-channel totals equal the sum spectrum Esprit stored in each header (`Channels`).
//! Element line energies come from the header's `TRTSpectrumRegion` list; the channel an
//! energy falls in is (E − CalibAbs) / CalibLin.
#![allow(clippy::unwrap_used)]

// `common`'s helpers are `pub` for every test file; not all of them are used in each.
mod common;

use common::{close, read_instrument};
use tessera_formats::{Acquisition, DType, Signal, SignalKind};

fn signal<'a>(a: &'a Acquisition, name: &str) -> &'a Signal {
    a.signals
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no signal {name}: {:?}", names(a)))
}

fn names(a: &Acquisition) -> Vec<&str> {
    a.signals.iter().map(|s| s.name.as_str()).collect()
}

fn total(s: &Signal) -> f64 {
    s.data.iter().map(|&v| f64::from(v)).sum()
}

/// The spectrum image summed over its pixels.
fn summed(s: &Signal) -> Vec<f64> {
    let c = s.axes.last().unwrap().size;
    let mut out = vec![0.0; c];
    for px in s.data.chunks_exact(c) {
        for (o, &v) in out.iter_mut().zip(px) {
            *o += f64::from(v);
        }
    }
    out
}

/// Checks the spatial axes `[y, x]` (the last two of an image, the first two of a map).
fn assert_spatial(
    axes: &[tessera_formats::Axis],
    ny: usize,
    nx: usize,
    dy: f64,
    dx: f64,
    unit: &str,
) {
    let (y, x) = (&axes[0], &axes[1]);
    assert_eq!(
        (y.name.as_str(), y.size, x.name.as_str(), x.size),
        ("y", ny, "x", nx)
    );
    assert!(
        close(y.scale, dy, 1e-12) && close(x.scale, dx, 1e-12),
        "{y:?} {x:?}"
    );
    assert_eq!((y.offset, x.offset), (0.0, 0.0));
    assert_eq!((y.unit.as_str(), x.unit.as_str()), (unit, unit));
}

/// Checks the energy axis and that the summed spectrum peaks at the channel an element
/// line of `kev` falls in (within one channel), well above the background 25 channels
/// either side.
fn assert_peak(eds: &Signal, sum: &[f64], kev: f64) {
    let e = eds.axes.last().unwrap();
    let expected = (kev - e.offset) / e.scale;
    let c = expected.round() as usize;
    let (lo, hi) = (c - 8, c + 8);
    let peak = (lo..=hi)
        .max_by(|&a, &b| sum[a].total_cmp(&sum[b]))
        .unwrap();
    assert!(
        (peak as f64 - expected).abs() <= 1.0,
        "{kev} keV: expected channel {expected:.2}, the peak is at {peak}"
    );
    let background = sum[c - 25].max(sum[c + 25]);
    assert!(
        sum[peak] > 3.0 * background,
        "{kev} keV: peak {} vs background {background}",
        sum[peak]
    );
}

#[test]
fn test_tem_haadf_and_eds_map() {
    let a = read_instrument("hyperspy/tests/io/bruker_data/test_TEM.bcf");
    // Planes BF, DF and DF4 of the TRTImageData hold only zeros (base64-decoded: sum 0);
    // HAADF (Plane3) is the recorded one.
    assert_eq!(names(&a), ["HAADF", "EDS", "EDS sum"]);
    // TRTSEMData: DX = DY = 0.000771004754204027 (µm), HV 200, Mag 225000;
    // Header: Date 9.8.2016, Time 14:48:10.
    let dx = 0.000771004754204027;
    let haadf = signal(&a, "HAADF");
    assert_eq!(haadf.kind, SignalKind::Image);
    assert_eq!(haadf.dtype, DType::U16); // ItemSize 2
    assert_spatial(&haadf.axes, 64, 64, dx, dx, "µm");
    assert_eq!(total(haadf), 141_288_352.0); // numpy sum of the decoded plane
    assert_eq!(a.metadata.voltage_kv, Some(200.0));
    assert_eq!(a.metadata.magnification, Some(225_000.0));
    assert_eq!(a.metadata.acquired.as_deref(), Some("2016-08-09T14:48:10"));
    assert_eq!(a.metadata.extra["eds_detector"], "SuperX"); // TRTDetectorHeader/Type

    // SpectrumData0: 64 × 64 pixels; TRTSpectrumHeader: ChannelCount 2048,
    // CalibAbs -4.7544754E-1, CalibLin 1.0001E-2.
    let eds = signal(&a, "EDS");
    assert_eq!(eds.kind, SignalKind::SpectrumImage);
    assert_eq!(eds.shape(), [64, 64, 2048]);
    assert_spatial(&eds.axes, 64, 64, dx, dx, "µm");
    let e = &eds.axes[2];
    assert_eq!((e.name.as_str(), e.unit.as_str()), ("energy", "keV"));
    assert!(close(e.scale, 1.0001e-2, 1e-12) && close(e.offset, -4.7544754e-1, 1e-12));
    let sum = summed(eds);
    // Total counts: the header's sum spectrum (`Channels`) adds up to 26005, and it equals
    // the decoded map channel by channel.
    assert_eq!(sum.iter().sum::<f64>(), 26_005.0);
    let stored = signal(&a, "EDS sum");
    assert_eq!(stored.kind, SignalKind::Spectrum);
    assert!(
        sum.iter()
            .zip(&stored.data)
            .all(|(&a, &b)| a == f64::from(b))
    );
    // Ti Kα, 4.510059792 keV in the header's region list: channel 498.5.
    assert_peak(eds, &sum, 4.510059792);
    // O Kα, 0.5249 keV: channel 100.0.
    assert_peak(eds, &sum, 0.5249);
}

#[test]
fn hitachi_sem_and_a_partly_mapped_eds_frame() {
    let a = read_instrument("hyperspy/tests/io/bruker_data/Hitachi_TM3030Plus.bcf");
    assert_eq!(names(&a), ["SEM", "EDS", "EDS sum"]);
    // TRTSEMData has HV 15, WD 8.6, Mag 600 and no DX/DY; the images' XCalibration is 0:
    // the file states no pixel size, so the axes are in pixels.
    let sem = signal(&a, "SEM");
    assert_eq!(sem.dtype, DType::U16);
    assert_spatial(&sem.axes, 240, 320, 1.0, 1.0, "");
    assert!(sem.pixel_size().is_none());
    assert_eq!(total(sem), 4_872_181_184.0);
    assert_eq!(a.metadata.voltage_kv, Some(15.0));
    assert_eq!(a.metadata.magnification, Some(600.0));
    assert_eq!(a.metadata.acquired.as_deref(), Some("2017-01-06T11:42:15"));
    assert_eq!(a.metadata.extra["working_distance_mm"], "8.6");
    assert_eq!(a.metadata.extra["sample"], "Cathode_161007_74");
    assert_eq!(a.metadata.extra["eds_detector"], "XFlash 430");

    // SpectrumData0: 240 × 320; ChannelCount 2048, CalibAbs -0.4746, CalibLin 0.01.
    let eds = signal(&a, "EDS");
    assert_eq!(eds.shape(), [240, 320, 2048]);
    assert_spatial(&eds.axes, 240, 320, 1.0, 1.0, "");
    let e = &eds.axes[2];
    assert!(close(e.scale, 0.01, 1e-12) && close(e.offset, -0.4746, 1e-12));
    assert_eq!(e.unit, "keV");
    // The overlay "MapRect" in the header is Left 84, Top 65, Right 230, Bottom 174: the
    // mapped sub-region. Pixels outside it hold no counts.
    assert_eq!(eds.metadata["mapped_region"], "x 84..=230, y 65..=174");
    for (i, px) in eds.data.chunks_exact(2048).enumerate() {
        let (y, x) = (i / 320, i % 320);
        if !(65..=174).contains(&y) || !(84..=230).contains(&x) {
            assert!(px.iter().all(|&v| v == 0.0), "counts at ({y}, {x})");
        }
    }
    assert!(a.notes.iter().any(|n| n.contains("only part of the frame")));
    let sum = summed(eds);
    assert_eq!(sum.iter().sum::<f64>(), 171_804.0); // the header's `Channels`
    let stored = signal(&a, "EDS sum");
    assert!(
        sum.iter()
            .zip(&stored.data)
            .all(|(&a, &b)| a == f64::from(b))
    );
    // Cu Kα 8.036486937 keV (channel 851.1) and Al K 1.48687394 keV (channel 196.1).
    assert_peak(eds, &sum, 8.036486937);
    assert_peak(eds, &sum, 1.48687394);
}

#[test]
fn p45_bse_se_and_eds_map() {
    let a = read_instrument("hyperspy/tests/io/bruker_data/P45_the_default_job.bcf");
    assert_eq!(names(&a), ["BSE", "SE", "EDS", "EDS sum"]);
    // TRTSEMData: DX 8.73678506197784, DY 8.73678506197786 (µm), HV 20, Mag 131.1433,
    // WD 7.69044; stage X 62409.2; Header: 1.4.2016 18:5:10.
    let (dx, dy) = (8.73678506197784, 8.73678506197786);
    for (name, sum) in [("BSE", 302_966_312.0), ("SE", 197_505_760.0)] {
        let s = signal(&a, name);
        assert_eq!((s.kind, s.dtype), (SignalKind::Image, DType::U16));
        assert_spatial(&s.axes, 75, 100, dy, dx, "µm");
        assert_eq!(total(s), sum, "{name}");
        let px = s.pixel_size().unwrap();
        assert!(close(px.x_nm, dx * 1e3, 1e-12));
    }
    assert_eq!(a.metadata.voltage_kv, Some(20.0));
    assert_eq!(a.metadata.magnification, Some(131.1433));
    assert_eq!(a.metadata.acquired.as_deref(), Some("2016-04-01T18:05:10"));
    assert_eq!(a.metadata.extra["stage_x"], "62409.2");
    assert_eq!(a.metadata.extra["eds_detector"], "XFlash 6|10");

    // SpectrumData0: 75 × 100; ChannelCount 2048, CalibAbs -4.72397235E-1, CalibLin
    // 1.0001E-2.
    let eds = signal(&a, "EDS");
    assert_eq!(eds.shape(), [75, 100, 2048]);
    assert_spatial(&eds.axes, 75, 100, dy, dx, "µm");
    let e = &eds.axes[2];
    assert!(close(e.scale, 1.0001e-2, 1e-12) && close(e.offset, -4.72397235e-1, 1e-12));
    let sum = summed(eds);
    assert_eq!(sum.iter().sum::<f64>(), 165_941.0); // the header's `Channels`
    let stored = signal(&a, "EDS sum");
    assert!(
        sum.iter()
            .zip(&stored.data)
            .all(|(&a, &b)| a == f64::from(b))
    );
    // The file lists no elements. Its strongest line above the zero peak lies where the
    // calibration puts Si Kα (1.7398 keV, channel 221.2; a known line, not from the file).
    let above_zero = ((0.1 - e.offset) / e.scale) as usize;
    let strongest = (above_zero..sum.len())
        .max_by(|&a, &b| sum[a].total_cmp(&sum[b]))
        .unwrap();
    assert!((strongest as f64 - (1.7398 - e.offset) / e.scale).abs() <= 1.0);
    assert_peak(eds, &sum, 1.7398);
}
