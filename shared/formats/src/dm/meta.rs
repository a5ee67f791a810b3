//! The instrument metadata DigitalMicrograph keeps in an image's `ImageTags`, and the tags
//! that say what kind of signal an image is.

use crate::Metadata;

use super::tags::{Group, Tree};

/// A text tag at `path` under `g`, trimmed; `None` when absent or empty.
pub(super) fn text_at(tree: &Tree<'_>, g: &Group, path: &[&str]) -> Option<String> {
    let s = tree.text(g.value_at(path)?)?;
    let s = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{2028}' || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// A finite number at `path` under `g`.
pub(super) fn num_at(tree: &Tree<'_>, g: &Group, path: &[&str]) -> Option<f64> {
    tree.num(g.value_at(path)?).filter(|v| v.is_finite())
}

/// What `ImageTags` says about the kind of signal.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Flags {
    /// `Meta Data.Format`: "Spectrum", "Spectrum image", "Image", ...
    pub(super) format: Option<String>,
    /// `Meta Data.Signal`: "EELS", "X-ray", "CL", ...
    pub(super) signal: Option<String>,
    /// An Orsay `spim` group (their spectrum images).
    spim: bool,
    /// A Gatan Monarc cathodoluminescence spectrometer group.
    monarc: bool,
}

impl Flags {
    /// Reads the flags from an image's `ImageTags`.
    pub(super) fn of(tree: &Tree<'_>, tags: &Group) -> Flags {
        Flags {
            format: text_at(tree, tags, &["Meta Data", "Format"]),
            signal: text_at(tree, tags, &["Meta Data", "Signal"]),
            spim: tags.group("spim").is_some(),
            monarc: tags
                .group_at(&["Acquisition", "Monarc Spectrometer"])
                .is_some(),
        }
    }

    /// `Meta Data.Format` is "Spectrum" or "Spectrum image", or the image is Orsay's.
    pub(super) fn says_spectrum(&self) -> bool {
        self.spim
            || self.format.as_deref().is_some_and(|f| {
                f.eq_ignore_ascii_case("spectrum") || f.eq_ignore_ascii_case("spectrum image")
            })
    }

    /// `Meta Data.Format` is "Spectrum image", or the image is Orsay's.
    pub(super) fn says_spectrum_image(&self) -> bool {
        self.spim
            || self
                .format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("spectrum image"))
    }

    /// `Meta Data.Signal` names a spectroscopy (EELS, EDS/X-ray, CL).
    pub(super) fn is_spectroscopy(&self) -> bool {
        self.is_cl()
            || self.signal.as_deref().is_some_and(|s| {
                ["EELS", "X-ray", "EDS", "EDX"]
                    .iter()
                    .any(|k| s.eq_ignore_ascii_case(k))
            })
    }

    /// A cathodoluminescence signal (its spectra are in wavelength, nm).
    pub(super) fn is_cl(&self) -> bool {
        self.monarc || self.signal.as_deref() == Some("CL")
    }
}

/// The instrument metadata of one image, from its `ImageTags` (for a stack built by Gatan's
/// Stack Builder, from `ImageTags.source.Tags at creation` first). Only what the file states;
/// placeholders ("Unknown", empty strings, zeros) are left out.
pub(super) fn metadata(tree: &Tree<'_>, image_tags: &Group) -> Metadata {
    let base = image_tags
        .group_at(&["source", "Tags at creation"])
        .unwrap_or(image_tags);
    let text = |path: &[&str]| {
        text_at(tree, base, path)
            .or_else(|| text_at(tree, image_tags, path))
            .filter(|s| !s.eq_ignore_ascii_case("unknown"))
    };
    let num = |path: &[&str]| num_at(tree, base, path).or_else(|| num_at(tree, image_tags, path));
    let positive = |path: &[&str]| num(path).filter(|&v| v > 0.0);

    let mut m = Metadata {
        microscope: text(&["Session Info", "Microscope"])
            .or_else(|| text(&["Microscope Info", "Microscope"]))
            .or_else(|| text(&["Microscope Info", "Name"])),
        voltage_kv: positive(&["Microscope Info", "Voltage"]).map(|v| v / 1e3),
        ..Metadata::default()
    };

    // In TEM diffraction, DM's "Indicated Magnification" holds the camera length
    // (RosettaSciIO's reading); in imaging and in STEM it is the magnification.
    let illumination = text(&["Microscope Info", "Illumination Mode"]);
    let imaging = text(&["Microscope Info", "Imaging Mode"]);
    let tem_diffraction =
        illumination.as_deref() == Some("TEM") && imaging.as_deref() == Some("DIFFRACTION");
    let indicated = positive(&["Microscope Info", "Indicated Magnification"]);
    let mut camera_length = positive(&["Microscope Info", "STEM Camera Length"]);
    if tem_diffraction {
        camera_length = indicated;
    } else {
        m.magnification = indicated;
    }

    // Exposure per frame: the DataBar's, else the camera's acquisition parameters; for a
    // scanned image, the DigiScan dwell time per pixel ("Sample Time", µs).
    let dwell_s = positive(&["DigiScan", "Sample Time"]).map(|us| us * 1e-6);
    m.exposure_s = positive(&["DataBar", "Exposure Time (s)"])
        .or_else(|| positive(&["Acquisition", "Parameters", "High Level", "Exposure (s)"]))
        .or_else(|| positive(&["Acquisition", "Parameters", "Detector", "exposure (s)"]))
        .or_else(|| positive(&["Acquisition", "Parameters", "Detector", "Exposure (s)"]))
        .or(dwell_s);

    let when = |date: &[&str], time: &[&str]| match (text(date), text(time)) {
        (Some(d), Some(t)) => Some(format!("{d} {t}")),
        (d, _) => d,
    };
    m.acquired = when(
        &["DataBar", "Acquisition Date"],
        &["DataBar", "Acquisition Time"],
    )
    .or_else(|| {
        when(
            &["SI", "Acquisition", "Date"],
            &["SI", "Acquisition", "Start time"],
        )
    })
    .or_else(|| {
        when(
            &["EELS", "Acquisition", "Date"],
            &["EELS", "Acquisition", "Start time"],
        )
    })
    .or_else(|| {
        when(
            &["CL", "Acquisition", "Date"],
            &["CL", "Acquisition", "Start time"],
        )
    });

    let mut extra = |key: &str, v: Option<String>| {
        if let Some(v) = v {
            m.extra.insert(key.to_string(), v);
        }
    };
    extra(
        "detector",
        text(&["Acquisition", "Device", "Name"])
            .or_else(|| text(&["DataBar", "Device Name"]))
            .or_else(|| text(&["Session Info", "Detector"])),
    );
    extra("operator", text(&["Session Info", "Operator"]));
    extra("specimen", text(&["Session Info", "Specimen"]));
    extra("illumination_mode", illumination);
    extra("imaging_mode", imaging);
    extra(
        "operation_mode",
        text(&["Microscope Info", "Operation Mode"]),
    );
    extra("camera_length", camera_length.map(|v| v.to_string()));
    extra("dwell_time_s", dwell_s.map(|v| v.to_string()));
    extra("signal_type", text(&["Meta Data", "Signal"]));
    extra(
        "spectrometer",
        text(&["EELS Spectrometer", "Instrument name"]),
    );
    extra(
        "integration_time_s",
        positive(&["EELS", "Acquisition", "Integration time (s)"])
            .or_else(|| positive(&["CL", "Acquisition", "Integration time (s)"]))
            .map(|v| v.to_string()),
    );
    extra("gms_version", text(&["GMS Version", "Created"]));
    m
}
