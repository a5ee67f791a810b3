//! `EDSDatabase/HeaderData`: the XML that describes a BCF's acquisition, carries its
//! images (base64 in the XML) and the calibration of its EDS spectrum image.
//!
//! Where things are (element paths below the root `TRTSpectrumDatabase`, then
//! `ClassInstance Type="TRTSpectrumDatabase"`; facts from RosettaSciIO's `HyperHeader` and
//! `EDXSpectrum` in `rsciio/bruker/_api.py`, checked against the three Bruker test files):
//! - `Header/Date` ("9.8.2016", day first), `Header/Time`, `Header/FileVersion`.
//! - `ClassInstance[TRTSEMData]`: `HV` (kV), `Mag`, `WD` (mm), `DX`/`DY` (µm per pixel;
//!   absent when Esprit had no link to the microscope).
//! - `ClassInstance[TRTSEMStageData]`: `X`, `Y`, `Z`, `Rotation`, `Tilt`.
//! - `ClassInstance[TRTDSPConfiguration]`: `ImageWidth`/`ImageHeight` (the scan raster).
//! - `ClassInstance[TRTImageData]` without a `Name`: the images recorded with the map:
//!   `ItemSize` (bytes per pixel), `Width`, `Height`, `XCalibration`/`YCalibration` (µm per
//!   pixel, 0 when unset), and `Plane0`, `Plane1`, ... each with a `Description` (the
//!   detector) and `Data` (base64, little-endian). Named ones ("Counter", "PixelTimes") are
//!   auxiliary. Version 2 files keep overview images under
//!   `ClassInstance[TRTContainerClass]/ChildClassInstances/ClassInstance[@Name="OverviewImages"]/
//!   ChildClassInstances/ClassInstance[TRTImageData]`.
//! - the selected elements: `.../ClassInstance[TRTElementInformationList]/
//!   ClassInstance[TRTSpectrumRegionList]/ChildClassInstances/ClassInstance[TRTSpectrumRegion]`
//!   (`Name`, `Line`, `Energy` in keV).
//! - `SpectrumData<i>/ClassInstance[TRTSpectrum]`: the sum spectrum of map `i`:
//!   `ClassInstance[TRTSpectrumHeader]` with `ChannelCount`, `CalibAbs`, `CalibLin` (keV:
//!   energy = CalibAbs + CalibLin × channel), `Channels` (the counts, comma-separated), and
//!   under `TRTHeaderedClass` the detector (`TRTDetectorHeader/Type`), the beam energy
//!   (`TRTESMAHeader/PrimaryEnergy`, kV) and times (`TRTSpectrumHardwareHeader`, ms).

use roxmltree::{Document, Node, ParsingOptions};

use super::planes::{cut_payloads, plane_samples};
use super::text::{decode_xml, iso_date_time, number, whole};
use crate::{DType, FormatError, ReadLimits, check_shape};

/// Far more XML nodes than any header holds (the test files have under 3000).
const NODES_LIMIT: u32 = 1 << 20;

/// What the header says.
#[derive(Debug, Default)]
pub(super) struct Header {
    /// The job or sample name (`Name` of the database).
    pub name: Option<String>,
    /// Date and time, ISO 8601.
    pub acquired: Option<String>,
    /// BCF version (`FileVersion`).
    pub file_version: Option<String>,
    /// Beam voltage, kV.
    pub hv_kv: Option<f64>,
    /// Magnification.
    pub magnification: Option<f64>,
    /// Working distance, mm.
    pub wd_mm: Option<f64>,
    /// Pixel size (x, y) in µm from `TRTSEMData`.
    pub pixel_um: Option<(f64, f64)>,
    /// Stage position ("x", "y", "z" as written, in the stage's units; "rotation" and
    /// "tilt" in degrees).
    pub stage: Vec<(String, f64)>,
    /// The scan raster (width, height) of the DSP configuration.
    pub dsp_raster: Option<(u64, u64)>,
    /// Image planes, main ones first, then overviews.
    pub images: Vec<Image>,
    /// Selected elements.
    pub elements: Vec<Element>,
    /// Per map index, its sum spectrum and calibration.
    pub spectra: Vec<SpectrumHeader>,
    /// What was skipped.
    pub notes: Vec<String>,
}

/// One image plane.
#[derive(Debug)]
pub(super) struct Image {
    pub name: String,
    pub dtype: DType,
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
    /// The image's own pixel size (x, y) in µm, where set.
    pub calib_um: Option<(f64, f64)>,
    pub overview: bool,
}

/// One selected element line.
#[derive(Debug)]
pub(super) struct Element {
    pub name: String,
    pub line: String,
    pub energy_kev: Option<f64>,
}

/// The header part of one map (`SpectrumData<i>`).
#[derive(Debug)]
pub(super) struct SpectrumHeader {
    pub index: u32,
    pub channels: usize,
    pub calib_abs: f64,
    pub calib_lin: f64,
    /// The sum spectrum Esprit stored (counts per channel).
    pub sum: Vec<f32>,
    pub detector: Option<String>,
    pub primary_energy_kv: Option<f64>,
    pub elevation_deg: Option<f64>,
    pub azimuth_deg: Option<f64>,
    pub real_time_ms: Option<f64>,
    pub live_time_ms: Option<f64>,
}

/// Parses the header's bytes.
pub(super) fn parse(bytes: Vec<u8>, limits: &ReadLimits) -> Result<Header, FormatError> {
    let (rest, payloads) = cut_payloads(&bytes);
    let text = decode_xml(rest)?;
    let payloads: Vec<&[u8]> = payloads
        .into_iter()
        .map(|r| bytes.get(r).unwrap_or(&[]))
        .collect();
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(&text, options)
        .map_err(|e| FormatError::corrupt("BCF", format!("the header XML does not parse: {e}")))?;
    let db = instance(doc.root_element(), "TRTSpectrumDatabase").ok_or_else(|| {
        FormatError::corrupt(
            "BCF",
            "the header has no ClassInstance of type TRTSpectrumDatabase",
        )
    })?;
    let mut h = Header {
        name: db
            .attribute("Name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        ..Header::default()
    };
    if let Some(hd) = child(db, "Header") {
        h.acquired = match (text_of(hd, "Date"), text_of(hd, "Time")) {
            (Some(d), Some(t)) => iso_date_time(d, t).or_else(|| Some(format!("{d} {t}"))),
            _ => None,
        };
        h.file_version = text_of(hd, "FileVersion").map(str::to_string);
    }
    if let Some(sem) = instance(db, "TRTSEMData") {
        h.hv_kv = num_of(sem, "HV").filter(|v| *v > 0.0);
        h.magnification = num_of(sem, "Mag").filter(|v| *v > 0.0);
        h.wd_mm = num_of(sem, "WD").filter(|v| *v > 0.0);
        h.pixel_um = match (num_of(sem, "DX"), num_of(sem, "DY")) {
            (Some(x), Some(y)) if x > 0.0 && y > 0.0 => Some((x, y)),
            _ => None,
        };
    }
    if let Some(stage) = instance(db, "TRTSEMStageData") {
        for tag in ["X", "Y", "Z", "Rotation", "Tilt"] {
            if let Some(v) = text_of(stage, tag).and_then(number) {
                h.stage.push((tag.to_ascii_lowercase(), v));
            }
        }
    }
    if let Some(dsp) = instance(db, "TRTDSPConfiguration") {
        if let (Some(w), Some(hh)) = (text_of(dsp, "ImageWidth"), text_of(dsp, "ImageHeight")) {
            h.dsp_raster = whole(w).zip(whole(hh));
        }
    }
    for node in instances(db, "TRTImageData") {
        match node.attribute("Name") {
            None => read_image(node, false, &payloads, limits, &mut h)?,
            Some(n) => h.notes.push(format!("auxiliary image data '{n}' not read")),
        }
    }
    for container in instances(db, "TRTContainerClass") {
        let Some(kids) = child(container, "ChildClassInstances") else {
            continue;
        };
        for node in kids.children().filter(|n| is_instance(*n, None)) {
            if node.attribute("Name") == Some("OverviewImages") {
                if let Some(list) = child(node, "ChildClassInstances") {
                    for img in list
                        .children()
                        .filter(|n| is_instance(*n, Some("TRTImageData")))
                    {
                        read_image(img, true, &payloads, limits, &mut h)?;
                    }
                }
            } else if is_instance(node, Some("TRTElementInformationList")) && h.elements.is_empty()
            {
                h.elements = elements(node);
            }
        }
    }
    for node in db.children().filter(Node::is_element) {
        let tag = node.tag_name().name();
        let Some(index) = tag
            .strip_prefix("SpectrumData")
            .and_then(|i| i.parse().ok())
        else {
            continue;
        };
        h.spectra.push(spectrum(node, index, limits)?);
    }
    Ok(h)
}

fn read_image(
    node: Node<'_, '_>,
    overview: bool,
    payloads: &[&[u8]],
    limits: &ReadLimits,
    h: &mut Header,
) -> Result<(), FormatError> {
    let dims = (
        text_of(node, "ItemSize").and_then(whole),
        text_of(node, "Width").and_then(whole),
        text_of(node, "Height").and_then(whole),
    );
    let (Some(item), Some(w), Some(ht)) = dims else {
        h.notes
            .push("an image without ItemSize, Width or Height was skipped".to_string());
        return Ok(());
    };
    let dtype = match item {
        1 => DType::U8,
        2 => DType::U16,
        4 => DType::U32,
        other => {
            h.notes
                .push(format!("an image of {other} bytes per pixel was skipped"));
            return Ok(());
        }
    };
    let (w, ht) = (to_usize(w)?, to_usize(ht)?);
    let calib_um = match (num_of(node, "XCalibration"), num_of(node, "YCalibration")) {
        (Some(x), Some(y)) if x > 0.0 && y > 0.0 => Some((x, y)),
        _ => None,
    };
    let planes = node.children().filter(|n| {
        n.is_element()
            && n.tag_name()
                .name()
                .strip_prefix("Plane")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    });
    let mut empty = Vec::new();
    for (i, plane) in planes.enumerate() {
        let desc = text_of(plane, "Description").map(str::trim).unwrap_or("");
        let base = if desc.is_empty() {
            format!("image {i}")
        } else {
            desc.to_string()
        };
        let name = if overview {
            format!("overview {base}")
        } else {
            base
        };
        let Some(data) = text_of(plane, "Data") else {
            continue;
        };
        let data = data
            .strip_prefix('#')
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| payloads.get(i).copied())
            .unwrap_or(data.as_bytes());
        let what = format!("image '{name}'");
        let n = check_shape("BCF", &what, &[ht, w], true, limits)?;
        let data = plane_samples(data, dtype, n, &what)?;
        if data.iter().all(|&v| v == 0.0) {
            empty.push(name);
            continue;
        }
        h.images.push(Image {
            name,
            dtype,
            width: w,
            height: ht,
            data,
            calib_um,
            overview,
        });
    }
    if !empty.is_empty() {
        h.notes.push(format!(
            "image planes {} hold only zeros (not recorded) and were skipped",
            empty.join(", ")
        ));
    }
    Ok(())
}

fn elements(list: Node<'_, '_>) -> Vec<Element> {
    let Some(regions) =
        instance(list, "TRTSpectrumRegionList").and_then(|r| child(r, "ChildClassInstances"))
    else {
        return Vec::new();
    };
    regions
        .children()
        .filter(|n| is_instance(*n, Some("TRTSpectrumRegion")))
        .map(|r| Element {
            name: r.attribute("Name").unwrap_or("").to_string(),
            line: text_of(r, "Line").unwrap_or("").to_string(),
            energy_kev: num_of(r, "Energy"),
        })
        .collect()
}

fn spectrum(
    node: Node<'_, '_>,
    index: u32,
    limits: &ReadLimits,
) -> Result<SpectrumHeader, FormatError> {
    let what = format!("SpectrumData{index}");
    let sp = instance(node, "TRTSpectrum")
        .ok_or_else(|| FormatError::corrupt("BCF", format!("{what} has no TRTSpectrum")))?;
    let head = instance(sp, "TRTSpectrumHeader")
        .ok_or_else(|| FormatError::corrupt("BCF", format!("{what} has no TRTSpectrumHeader")))?;
    let calib = (num_of(head, "CalibAbs"), num_of(head, "CalibLin"));
    let (Some(calib_abs), Some(calib_lin)) = calib else {
        return Err(FormatError::corrupt(
            "BCF",
            format!("{what} has no energy calibration (CalibAbs, CalibLin)"),
        ));
    };
    let counts = text_of(sp, "Channels").unwrap_or("");
    let n_values = counts.split(',').filter(|v| !v.trim().is_empty()).count();
    check_shape(
        "BCF",
        &format!("{what} sum spectrum"),
        &[n_values],
        false,
        limits,
    )?;
    let sum = counts
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u64>().map(|c| c as f32).map_err(|_| {
                FormatError::corrupt(
                    "BCF",
                    format!("{what} sum spectrum holds '{v}', not a count"),
                )
            })
        })
        .collect::<Result<Vec<f32>, _>>()?;
    let channels = match text_of(head, "ChannelCount").and_then(whole) {
        Some(c) => to_usize(c)?,
        None => sum.len(),
    };
    let headered = child(sp, "TRTHeaderedClass");
    let sub = |ty: &str| headered.and_then(|hc| instance(hc, ty));
    let hw = sub("TRTSpectrumHardwareHeader");
    let esma = sub("TRTESMAHeader");
    Ok(SpectrumHeader {
        index,
        channels,
        calib_abs,
        calib_lin,
        sum,
        detector: sub("TRTDetectorHeader")
            .and_then(|d| text_of(d, "Type"))
            .map(str::to_string),
        primary_energy_kv: esma.and_then(|e| num_of(e, "PrimaryEnergy")),
        elevation_deg: esma.and_then(|e| num_of(e, "ElevationAngle")),
        azimuth_deg: esma.and_then(|e| num_of(e, "AzimutAngle")),
        real_time_ms: hw.and_then(|e| num_of(e, "RealTime")),
        live_time_ms: hw.and_then(|e| num_of(e, "LifeTime")),
    })
}

fn to_usize(v: u64) -> Result<usize, FormatError> {
    usize::try_from(v).map_err(|_| FormatError::TooLarge {
        format: "BCF",
        what: "a size in the header".into(),
        found: v,
        limit: usize::MAX as u64,
    })
}

/// Whether `n` is a `ClassInstance` (of `ty`, if given).
fn is_instance(n: Node<'_, '_>, ty: Option<&str>) -> bool {
    n.has_tag_name("ClassInstance") && ty.is_none_or(|t| n.attribute("Type") == Some(t))
}

/// The first child `ClassInstance` of type `ty`.
fn instance<'a, 'i>(n: Node<'a, 'i>, ty: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| is_instance(*c, Some(ty)))
}

/// Every child `ClassInstance` of type `ty`.
fn instances<'a, 'i: 'a>(n: Node<'a, 'i>, ty: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(move |c| is_instance(*c, Some(ty)))
}

/// The first child element called `tag`.
fn child<'a, 'i>(n: Node<'a, 'i>, tag: &str) -> Option<Node<'a, 'i>> {
    n.children().find(|c| c.has_tag_name(tag))
}

/// The text of the first child element called `tag`.
fn text_of<'a>(n: Node<'a, '_>, tag: &str) -> Option<&'a str> {
    child(n, tag).and_then(|c| c.text())
}

/// The number in the first child element called `tag`.
fn num_of(n: Node<'_, '_>, tag: &str) -> Option<f64> {
    text_of(n, tag).and_then(number)
}
