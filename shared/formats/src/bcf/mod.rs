//! Bruker Composite File (BCF), written by Bruker's Esprit EDS software: the images recorded
//! with an EDS map (SEM, BSE, SE, HAADF...), and the EDS spectrum image itself.
//!
//! A BCF is an SFS container (`sfs.rs`) holding `EDSDatabase/HeaderData`, an XML document
//! with the images, the microscope settings and the energy calibration (`header.rs`), and
//! `EDSDatabase/SpectrumData0` (more in version 2 stacks), the packed spectrum image
//! (`spectrum_image.rs`). `planes.rs` takes the images' base64 planes out of the header;
//! `text.rs` decodes its Windows-1252, base64 and numbers.
//! The layout facts come from RosettaSciIO's Bruker reader (`rsciio/bruker/_api.py` and
//! `unbcf_fast.pyx`), and were checked against the three Bruker files of HyperSpy's tests:
//! each map decodes to exactly the sum spectrum Esprit stored in its header.
//!
//! Signals: every recorded image plane (`Image`, `[y, x]`, u8/u16/u32 as stored; planes
//! that hold only zeros were not recorded and are skipped), then per map the spectrum image
//! (`SpectrumImage`, `[y, x, energy]`, counts; dtype u16 or u32 by the largest count) and
//! the sum spectrum Esprit stored (`Spectrum`, `[energy]`). Spatial axes are in µm from
//! the image's own `XCalibration` or else `TRTSEMData`'s `DX`/`DY`; uncalibrated (pixels)
//! when the file states neither. The energy axis: offset `CalibAbs`, scale `CalibLin`, keV.

mod header;
mod planes;
mod sfs;
mod spectrum_image;
mod text;

use std::collections::BTreeMap;

use header::{Header, Image, SpectrumHeader};
use spectrum_image::Hypermap;

use crate::{
    Acquisition, Axis, Companions, DType, FileFormat, FormatError, Metadata, ReadLimits, Signal,
    SignalKind, max_values,
};

const HEADER_PATH: &str = "EDSDatabase/HeaderData";
const MAP_PREFIX: &str = "EDSDatabase/SpectrumData";

/// Reads a BCF: its images and its EDS spectrum image(s).
pub(crate) fn read(
    bytes: &[u8],
    _file_name: &str,
    _companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let sfs = sfs::Sfs::open(bytes)?;
    // Decompressed files may not exceed what the largest signal could need, in bytes.
    let cap = max_values(limits).saturating_mul(8);
    let Some(entry) = sfs.find(HEADER_PATH) else {
        if sfs.files().any(|e| e.path.starts_with("EBSDData/")) {
            return Err(FormatError::unsupported(
                "BCF",
                "file with EBSD data only (no EDSDatabase)",
                "Tessera reads the images and EDS maps of BCF files; export the EBSD maps \
                 from Esprit as TIFF",
            ));
        }
        return Err(FormatError::corrupt(
            "BCF",
            format!("the container has no {HEADER_PATH}"),
        ));
    };
    let mut header = header::parse(sfs.read(entry, cap)?, limits)?;
    let mut notes = std::mem::take(&mut header.notes);
    let mut signals = Vec::new();
    for img in std::mem::take(&mut header.images) {
        signals.push(image_signal(img, &header, &mut notes));
    }
    let mut maps_read = Vec::new();
    for spec in &header.spectra {
        let path = format!("{MAP_PREFIX}{}", spec.index);
        let Some(entry) = sfs.find(&path) else {
            notes.push(format!(
                "the header describes map {} but {path} is missing",
                spec.index
            ));
            continue;
        };
        let name = if header.spectra.len() == 1 {
            "EDS".to_string()
        } else {
            format!("EDS {}", spec.index)
        };
        let packed = sfs.read(entry, cap)?;
        let map = spectrum_image::decode(&packed, spec.channels, &name, limits)?;
        drop(packed);
        signals.push(map_signal(map, &name, spec, &header, &mut notes));
        if !spec.sum.is_empty() {
            signals.push(sum_signal(&name, spec));
        }
        maps_read.push(path);
    }
    let others: Vec<&str> = sfs
        .files()
        .map(|e| e.path.as_str())
        .filter(|p| *p != HEADER_PATH && !maps_read.iter().any(|m| m == p))
        .collect();
    if !others.is_empty() {
        notes.push(format!("container files not read: {}", others.join(", ")));
    }
    unique_names(&mut signals);
    Ok(Acquisition {
        format: FileFormat::Bcf,
        signals,
        metadata: metadata(&header, sfs.version.as_str()),
        notes,
    })
}

/// The spatial axes `[y, x]` of a `width` × `height` raster: from `own` (the image's
/// calibration), else the header's DX/DY, else in pixels.
fn spatial_axes(
    height: usize,
    width: usize,
    own: Option<(f64, f64)>,
    header: &Header,
    notes: &mut Vec<String>,
) -> [Axis; 2] {
    let mut note = |n: String| {
        if !notes.contains(&n) {
            notes.push(n);
        }
    };
    match own.or(header.pixel_um) {
        Some((dx, dy)) => {
            if let Some((rw, rh)) = header.dsp_raster {
                if own.is_none() && (rw != width as u64 || rh != height as u64) {
                    note(format!(
                        "the images and maps are {width} × {height} while the DSP raster is \
                         {rw} × {rh}; their pixel size is DX/DY as the file states it ({dx} × \
                         {dy} µm), which may refer to the DSP raster instead"
                    ));
                }
            }
            [
                Axis::calibrated("y", height, dy, 0.0, "µm"),
                Axis::calibrated("x", width, dx, 0.0, "µm"),
            ]
        }
        None => {
            note(
                "the file states no pixel size (no DX/DY in TRTSEMData, no XCalibration \
                 on the images), so spatial axes are in pixels"
                    .to_string(),
            );
            [Axis::pixels("y", height), Axis::pixels("x", width)]
        }
    }
}

fn image_signal(img: Image, header: &Header, notes: &mut Vec<String>) -> Signal {
    let axes = spatial_axes(img.height, img.width, img.calib_um, header, notes);
    let mut metadata = BTreeMap::new();
    metadata.insert("detector".to_string(), img.name.clone());
    if img.overview {
        metadata.insert("role".to_string(), "overview image".to_string());
    }
    Signal {
        name: img.name,
        kind: SignalKind::Image,
        dtype: img.dtype,
        axes: axes.to_vec(),
        data: img.data,
        metadata,
    }
}

fn energy_axis(channels: usize, spec: &SpectrumHeader) -> Axis {
    Axis::calibrated("energy", channels, spec.calib_lin, spec.calib_abs, "keV")
}

fn map_signal(
    map: Hypermap,
    name: &str,
    spec: &SpectrumHeader,
    header: &Header,
    notes: &mut Vec<String>,
) -> Signal {
    let what = format!("spectrum image '{name}'");
    let [y, x] = spatial_axes(map.height, map.width, None, header, notes);
    let mut metadata = spectrum_metadata(spec, header);
    let all = map.height * map.width;
    metadata.insert(
        "pixels_with_spectra".into(),
        format!("{} of {all}", map.pixels_stored),
    );
    if let Some(((x0, x1), (y0, y1))) = map.region {
        metadata.insert(
            "mapped_region".into(),
            format!("x {x0}..={x1}, y {y0}..={y1}"),
        );
        let part = (x1 - x0) as usize + 1 < map.width || (y1 - y0) as usize + 1 < map.height;
        if part {
            notes.push(format!(
                "{what}: only part of the frame was mapped (x {x0}..={x1}, y {y0}..={y1}, {} \
                 of {all} pixels); the other pixels hold no counts",
                map.pixels_stored
            ));
        }
    }
    if map.dropped > 0.0 {
        notes.push(format!(
            "{what}: {} counts in channels past the header's {} were left out",
            map.dropped, map.channels
        ));
    }
    let dtype = if map.max_count <= f64::from(u16::MAX) {
        DType::U16
    } else {
        DType::U32
    };
    Signal {
        name: name.to_string(),
        kind: SignalKind::SpectrumImage,
        dtype,
        axes: vec![y, x, energy_axis(map.channels, spec)],
        data: map.data,
        metadata,
    }
}

fn sum_signal(name: &str, spec: &SpectrumHeader) -> Signal {
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "role".into(),
        format!("sum spectrum of '{name}' stored by Esprit"),
    );
    Signal {
        name: format!("{name} sum"),
        kind: SignalKind::Spectrum,
        dtype: DType::U64,
        axes: vec![energy_axis(spec.sum.len(), spec)],
        data: spec.sum.clone(),
        metadata,
    }
}

fn spectrum_metadata(spec: &SpectrumHeader, header: &Header) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(d) = &spec.detector {
        m.insert("detector".into(), d.clone());
    }
    let opt = [
        ("elevation_angle_deg", spec.elevation_deg),
        ("azimuth_angle_deg", spec.azimuth_deg),
        ("real_time_ms", spec.real_time_ms),
        ("live_time_ms", spec.live_time_ms),
        ("beam_energy_kv", spec.primary_energy_kv),
    ];
    for (k, v) in opt {
        if let Some(v) = v {
            m.insert(k.into(), v.to_string());
        }
    }
    if !header.elements.is_empty() {
        m.insert("elements".into(), elements(header));
    }
    m
}

fn elements(header: &Header) -> String {
    header
        .elements
        .iter()
        .map(|e| match e.energy_kev {
            Some(kev) => format!("{} {} ({kev} keV)", e.name, e.line),
            None => format!("{} {}", e.name, e.line),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn metadata(header: &Header, sfs_version: &str) -> Metadata {
    let mut extra = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            extra.insert(k.to_string(), v);
        }
    };
    put("sample", header.name.clone());
    put("working_distance_mm", header.wd_mm.map(|v| v.to_string()));
    put(
        "eds_detector",
        header.spectra.first().and_then(|s| s.detector.clone()),
    );
    put(
        "elements",
        (!header.elements.is_empty()).then(|| elements(header)),
    );
    put(
        "dsp_raster",
        header.dsp_raster.map(|(w, h)| format!("{w} × {h}")),
    );
    put("bcf_version", header.file_version.clone());
    put("sfs_version", Some(sfs_version.to_string()));
    for (k, v) in &header.stage {
        put(&format!("stage_{k}"), Some(v.to_string()));
    }
    Metadata {
        microscope: None,
        voltage_kv: header
            .hv_kv
            .or_else(|| header.spectra.first().and_then(|s| s.primary_energy_kv)),
        magnification: header.magnification,
        exposure_s: None,
        acquired: header.acquired.clone(),
        extra,
    }
}

/// Makes signal names unique ("BSE", "BSE 2") so that each can be picked by name.
fn unique_names(signals: &mut [Signal]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in signals.iter_mut() {
        let n = seen.entry(s.name.to_ascii_lowercase()).or_insert(0);
        *n += 1;
        if *n > 1 {
            s.name = format!("{} {}", s.name, n);
        }
    }
}

#[cfg(test)]
mod tests;
