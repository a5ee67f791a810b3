//! The EMI file: TIA's binary document, of which Tessera reads only the `<ObjectInfo>` XML
//! blocks (the instrument's metadata), which SER file each block belongs to, and the name
//! TIA gives each data object ("Acquire BF", "Preview HAADF", "EDX Spectrum profile").
//!
//! The binary layout is unpublished. What is relied on, from the files in hyperspy's test
//! suite: strings are stored as `60 00`, a 2-byte tag, a little-endian `u32` length and the
//! characters; tag `00 01` holds names (the document's title first, then display and data
//! object names), `12 07` TIA's version, `40 04` the path of a SER file and `19 04` an
//! `<ObjectInfo>` block. Each SER file's path is followed within a few bytes by the
//! `<ObjectInfo>` block of its data, and preceded by the name of its data object.

use std::collections::BTreeMap;

use crate::Metadata;

/// How far past a SER path its `<ObjectInfo>` block may start.
const PATH_TO_BLOCK: usize = 32;
/// Longest name read.
const MAX_NAME: usize = 256;

/// What an EMI tells.
#[derive(Debug, Default)]
pub(super) struct Emi {
    /// Every `<ObjectInfo>` block, in file order.
    pub(super) objects: Vec<Object>,
    /// The document's title.
    pub(super) title: Option<String>,
    /// TIA's version.
    pub(super) version: Option<String>,
}

/// One `<ObjectInfo>` block.
#[derive(Debug)]
pub(super) struct Object {
    /// The number `n` of the `<stem>_n.ser` file it describes, where the EMI says.
    pub(super) ser: Option<u32>,
    /// TIA's name for the data object ("Acquire BF").
    pub(super) name: Option<String>,
    /// The XML text.
    pub(super) xml: String,
}

impl Emi {
    /// Reads what it can; never fails (an EMI without blocks tells nothing).
    pub(super) fn parse(bytes: &[u8]) -> Emi {
        let head = bytes.get(..bytes.len().min(256)).unwrap_or_default();
        let mut emi = Emi {
            title: tagged_strings(head, [0x00, 0x01]).next().map(|(_, s)| s),
            version: tagged_strings(head, [0x12, 0x07]).next().map(|(_, s)| s),
            objects: Vec::new(),
        };
        let mut from = 0;
        let mut names_from = 0;
        while let Some(start) = find(bytes, b"<ObjectInfo>", from) {
            let Some(end) = find(bytes, b"</ObjectInfo>", start) else {
                break;
            };
            let end = end + b"</ObjectInfo>".len();
            let (ser, name) = match ser_before(bytes, from, start) {
                Some((n, path_at)) => {
                    let region = bytes.get(names_from..path_at).unwrap_or_default();
                    (
                        Some(n),
                        tagged_strings(region, [0x00, 0x01]).last().map(|(_, s)| s),
                    )
                }
                None => (None, None),
            };
            let xml = String::from_utf8_lossy(bytes.get(start..end).unwrap_or_default());
            emi.objects.push(Object {
                ser,
                name,
                xml: xml.into_owned(),
            });
            from = end;
            names_from = end;
        }
        emi
    }

    /// The block describing `<stem>_n.ser`.
    pub(super) fn object_for(&self, n: u32) -> Option<&Object> {
        self.objects.iter().find(|o| o.ser == Some(n))
    }
}

/// The number `n` of a `..._n.ser` path that ends within [`PATH_TO_BLOCK`] bytes before
/// `block`, searched from `from`, and where the path's `.ser` is.
fn ser_before(bytes: &[u8], from: usize, block: usize) -> Option<(u32, usize)> {
    let lo = block.saturating_sub(PATH_TO_BLOCK + 4).max(from);
    let window = bytes.get(lo..block)?;
    let dot = window
        .windows(4)
        .rposition(|w| w.eq_ignore_ascii_case(b".ser"))?;
    let at = lo + dot;
    let before = bytes.get(from..at)?;
    let digits = before
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 9 || before.len() <= digits {
        return None;
    }
    let num_at = before.len() - digits;
    if before.get(num_at - 1) != Some(&b'_') {
        return None;
    }
    let n = std::str::from_utf8(before.get(num_at..)?)
        .ok()?
        .parse()
        .ok()?;
    Some((n, from + num_at))
}

/// The strings stored as `60 00 <tag> <u32 length> <printable characters>` in `bytes`, with
/// their offsets.
fn tagged_strings(bytes: &[u8], tag: [u8; 2]) -> impl Iterator<Item = (usize, String)> + '_ {
    let marker = [0x60, 0x00, tag[0], tag[1]];
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(at) = find(bytes, &marker, pos) {
            pos = at + 1;
            let len = bytes.get(at + 4..at + 8)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len == 0 || len > MAX_NAME {
                continue;
            }
            let Some(text) = bytes.get(at + 8..at + 8 + len) else {
                continue;
            };
            if text.iter().all(|&b| (0x20..0x7f).contains(&b)) {
                pos = at + 8 + len;
                let s = String::from_utf8_lossy(text).trim().to_string();
                if !s.is_empty() {
                    return Some((at, s));
                }
            }
        }
        None
    })
}

/// The offset of the first `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while let Some(rest) = hay.get(i..) {
        let k = rest.iter().position(|&b| b == first)?;
        let at = i + k;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The detector in TIA's name of a data object: the first word after the acquisition mode
/// ("Acquire BF" → "BF", "Preview HAADF" → "HAADF", "EDX Spectrum profile" → "EDX").
pub(super) fn detector(tia_name: &str) -> Option<String> {
    let mut words = tia_name.split_whitespace();
    let first = words.next()?;
    let word = if matches!(first, "Acquire" | "Preview" | "Search" | "Live") {
        words.next()?
    } else {
        first
    };
    Some(word.to_string())
}

impl Object {
    /// The text of the first element `<path[0]>` … nested down to `<path[last]>`, unescaped,
    /// trimmed, if not empty.
    pub(super) fn field(&self, path: &[&str]) -> Option<String> {
        let mut s = self.xml.as_str();
        for tag in path {
            s = element(s, tag)?;
        }
        let v = unescape(s.trim());
        (!v.is_empty()).then_some(v)
    }

    /// The value and unit of the `<ExperimentalDescription>` entry labelled `label`.
    pub(super) fn described(&self, label: &str) -> Option<(String, String)> {
        let mut rest = element(&self.xml, "ExperimentalDescription")?;
        while let Some(data) = element(rest, "Data") {
            if element(data, "Label")
                .map(|l| unescape(l.trim()))
                .as_deref()
                == Some(label)
            {
                let value = unescape(element(data, "Value").unwrap_or_default().trim());
                let unit = unescape(element(data, "Unit").unwrap_or_default().trim());
                return (!value.is_empty()).then_some((value, unit));
            }
            let skip = rest.find("</Data>")? + "</Data>".len();
            rest = rest.get(skip..)?;
        }
        None
    }

    /// The numeric value of a described entry, if its unit is `unit`.
    fn described_number(&self, label: &str, unit: &str) -> Option<f64> {
        let (v, u) = self.described(label)?;
        if !u.eq_ignore_ascii_case(unit) {
            return None;
        }
        finite(&v)
    }

    /// Whether it holds the instrument's description.
    pub(super) fn has_description(&self) -> bool {
        self.xml.contains("<ExperimentalDescription>")
    }

    /// The unit of the images' axes this block implies: `1/m` for diffraction patterns (a
    /// camera in STEM mode, or TEM diffraction), else `m` (hyperspy's rule).
    pub(super) fn image_unit(&self) -> Option<&'static str> {
        let (mode, _) = self.described("Mode")?;
        let camera = self.field(&["AcquireInfo", "CameraNamePath"]).is_some();
        Some(if mode.contains("STEM") {
            if camera { "1/m" } else { "m" }
        } else if mode.contains("Diffraction") {
            "1/m"
        } else {
            "m"
        })
    }

    /// Fills what `md` lacks from this block.
    pub(super) fn fill(&self, md: &mut Metadata) {
        if md.microscope.is_none() {
            md.microscope = self.described("Microscope").map(|(v, _)| {
                v.strip_prefix("Microscope ")
                    .map_or(v.clone(), |s| s.trim().to_string())
            });
        }
        if md.voltage_kv.is_none() {
            md.voltage_kv = self.described_number("High tension", "kV").or_else(|| {
                self.field(&["MicroscopeConditions", "AcceleratingVoltage"])
                    .and_then(|v| finite(&v))
                    .map(|v| v / 1000.0)
            });
        }
        if md.magnification.is_none() {
            md.magnification = self
                .described_number("Magnification", "x")
                .or_else(|| self.acquire_magnification());
        }
        if md.exposure_s.is_none() {
            md.exposure_s = self.exposure_s();
        }
        if md.acquired.is_none() {
            md.acquired = self.field(&["AcquireDate"]);
        }
        let extra = [
            ("operator", self.described("User").map(|(v, _)| v)),
            ("mode", self.described("Mode").map(|(v, _)| v)),
            ("camera_length", self.described("Camera length").map(join)),
            ("spot_size", self.described("Spot size").map(|(v, _)| v)),
            ("gun_type", self.described("Gun type").map(|(v, _)| v)),
        ];
        for (k, v) in extra {
            if let Some(v) = v {
                md.extra.entry(k.to_string()).or_insert(v);
            }
        }
    }

    /// The acquisition's own magnification ("115000 X"), if not zero.
    fn acquire_magnification(&self) -> Option<f64> {
        let m = self.field(&["AcquireInfo", "Magnification"])?;
        finite(m.trim_end_matches(['X', 'x']).trim()).filter(|&v| v > 0.0)
    }

    /// Dwell time (scans) or exposure (cameras) per pixel or frame, or a spectrum's
    /// integration time, seconds.
    fn exposure_s(&self) -> Option<f64> {
        self.field(&["AcquireInfo", "DwellTimePath"])
            .or_else(|| self.field(&["AcquireInfo", "IntegrationTime"]))
            .and_then(|v| finite(&v))
    }

    /// The per-signal settings worth keeping.
    pub(super) fn signal_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let fields: [(&str, &[&str]); 8] = [
            ("camera", &["AcquireInfo", "CameraNamePath"]),
            ("binning", &["AcquireInfo", "Binning"]),
            ("dwell_time_s", &["AcquireInfo", "DwellTimePath"]),
            ("frame_time_s", &["AcquireInfo", "FrameTime"]),
            ("integration_time_s", &["AcquireInfo", "IntegrationTime"]),
            ("energy_resolution", &["AcquireInfo", "EnergyResolution"]),
            ("manufacturer", &["Manufacturer"]),
            ("acquired", &["AcquireDate"]),
        ];
        for (k, path) in fields {
            if let Some(v) = self.field(path) {
                m.insert(k.to_string(), v);
            }
        }
        if let Some(v) = self.field(&["AcquireInfo", "Magnification"]) {
            m.insert("magnification".into(), v);
        }
        m
    }
}

fn join((v, u): (String, String)) -> String {
    if u.is_empty() { v } else { format!("{v} {u}") }
}

fn finite(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// The inner text of the first `<tag>…</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&close)?;
    xml.get(start..start + len)
}

/// XML's five predefined entities.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
