//! FEI/Thermo TIA (ES Vision) data: SER series files and the EMI file that describes them.
//!
//! TIA writes an acquisition as `<stem>.emi` (the document: display layout and the
//! instrument's metadata as `<ObjectInfo>` XML) and one `<stem>_<n>.ser` per signal (the
//! data: `_1` BF and `_2` DF of a simultaneous STEM acquisition, say). Reading either reads
//! both: an EMI reads every `<stem>_1.ser`, `<stem>_2.ser`, … through [`Companions`] until one
//! is missing; a SER reads `<stem>.emi` when it is there for metadata and its detector's
//! name, and says in a note when it is not.
//!
//! SER layout (Emispec's "Series Data File" description as kept by C. Boothroyd,
//! <http://www.microscopy.cen.dtu.dk/~cbb/info/TIAformat/>, checked against the readers of
//! hyperspy/rosettasciio and openNCEM and the real files of hyperspy's test suite), all
//! little-endian:
//! - header: byte order `0x4949`, series id `0x0197`, version `0x0210` (32-bit offsets) or
//!   `0x0220` (64-bit, TIA 4.7.3 on), data type id (`0x4120` 1-D elements, `0x4122` 2-D),
//!   tag type id (`0x4152` time, `0x4142` time and beam position), total and valid number
//!   of elements, offset of the offset arrays, number of dimensions;
//! - dimension arrays, one per navigation dimension: size, calibration offset (`f64`), delta
//!   (`f64`), element (`u32`), description and units (length-prefixed text, e.g. "Position"
//!   in "meters");
//! - at the offset arrays: `total` data offsets, then `total` tag offsets;
//! - each 1-D element: calibration offset, delta, element, data type (`u16`), length, data;
//!   each 2-D element: that calibration for x then y, data type, size x, size y, data with x
//!   fastest and the bottom row first (both readers above flip it; so does Tessera, so that
//!   row 0 is the top as TIA shows it). A calibration's value at index `i` is
//!   `offset + (i − element) × delta`.
//! - data types 1–10: u8, u16, u32, i8, i16, i32, f32, f64, complex64, complex128.
//!
//! Units: the SER states the navigation axes' units ("meters" is written "m") but none for
//! the elements. Image axes are in `m`, or `1/m` for diffraction patterns, told by the EMI's
//! mode and detector (a camera in STEM mode, or TEM diffraction) or, without the EMI, by
//! the size of the step (real-space steps in metres are far below 1). Spectra are in eV,
//! TIA's convention (the real EDS spectra here have 5 eV channels from 0 to 20 keV).
//!
//! Signals: 2-D elements give an `Image` `[y, x]` or an `ImageStack` `[..nav, y, x]`, 1-D
//! elements a `Spectrum` `[energy]` or a `SpectrumImage` `[..nav, energy]`; navigation
//! dimensions of size 1 are dropped. Several navigation dimensions are taken to be stored
//! with dimension 1 fastest unless the beam positions of the first two elements show the
//! scan moved along y first.

mod emi;
mod layout;
mod series;

use std::collections::BTreeMap;

use crate::{Acquisition, Companions, FileFormat, FormatError, Metadata, ReadLimits, Signal};

use emi::Emi;
use series::Series;

/// The most SER files read for one EMI (TIA writes one per detector).
const MAX_SER_FILES: u32 = 64;

/// Reads a SER (with its EMI when present) or an EMI (with all its SER files).
pub(crate) fn read(
    bytes: &[u8],
    file_name: &str,
    companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let name = base_name(file_name);
    if bytes.starts_with(b"II\x97\x01") {
        read_ser(bytes, name, companions, limits)
    } else {
        read_emi(bytes, name, companions, limits)
    }
}

/// A SER file, with its EMI `<stem>.emi` when the name is `<stem>_<n>.ser` and it is there.
fn read_ser(
    bytes: &[u8],
    name: &str,
    companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let mut notes = Vec::new();
    let (emi, number) = match ser_number(name) {
        Some((stem, n)) => {
            let emi_name = format!("{stem}.emi");
            let found = companions
                .read(&emi_name)
                .or_else(|| companions.read(&format!("{stem}.EMI")));
            match found {
                Some(b) => (Some(Emi::parse(&b)), Some(n)),
                None => {
                    notes.push(format!(
                        "{emi_name} was not found beside {name}: no instrument metadata or \
                         detector name, calibration from the SER alone"
                    ));
                    (None, Some(n))
                }
            }
        }
        None => {
            notes.push(format!(
                "{name} is not named <stem>_<n>.ser, so its EMI (metadata, detector name) \
                 was not looked for"
            ));
            (None, None)
        }
    };
    let object = match (&emi, number) {
        (Some(e), Some(n)) => {
            let o = e.object_for(n);
            if o.is_none() {
                notes.push(format!("the EMI holds no metadata block for {name}"));
            }
            o
        }
        _ => None,
    };
    let image_unit = object.and_then(emi::Object::image_unit);
    let series = series::parse(bytes, image_unit, limits)?;
    let mut metadata = Metadata::default();
    if let Some(e) = &emi {
        fill_metadata(&mut metadata, e, object.into_iter());
    }
    if metadata.acquired.is_none() {
        metadata.acquired = series.first_time.map(utc);
    }
    let signal = signal(series, object, name, &mut notes);
    Ok(Acquisition {
        format: FileFormat::Ser,
        signals: vec![signal],
        metadata,
        notes,
    })
}

/// An EMI file and every `<stem>_<n>.ser` beside it.
fn read_emi(
    bytes: &[u8],
    name: &str,
    companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    let stem = name.rsplit_once('.').map_or(name, |(s, ext)| {
        if ext.eq_ignore_ascii_case("emi") {
            s
        } else {
            name
        }
    });
    let emi = Emi::parse(bytes);
    let mut notes = Vec::new();
    if emi.objects.is_empty() {
        notes.push(format!("{name} holds no <ObjectInfo> metadata"));
    }
    let mut signals: Vec<Signal> = Vec::new();
    let mut objects = Vec::new();
    let mut n = 1;
    while n <= MAX_SER_FILES {
        let ser_name = format!("{stem}_{n}.ser");
        let Some(ser) = companions
            .read(&ser_name)
            .or_else(|| companions.read(&format!("{stem}_{n}.SER")))
        else {
            break;
        };
        n += 1;
        if layout::valid_elements(&ser) == Some(0) {
            notes.push(format!(
                "{ser_name} holds no data elements (TIA keeps a single spectrum in the EMI, \
                 which is not read); skipped"
            ));
            continue;
        }
        let object = emi.object_for(n - 1);
        let image_unit = object.and_then(emi::Object::image_unit);
        let series = series::parse(&ser, image_unit, limits).map_err(|e| in_file(e, &ser_name))?;
        let mut s = signal(series, object, &ser_name, &mut notes);
        let mut k = 2;
        let base = s.name.clone();
        while signals.iter().any(|o| o.name == s.name) {
            s.name = format!("{base} {k}");
            k += 1;
        }
        signals.push(s);
        objects.extend(object);
    }
    if n > MAX_SER_FILES && companions.read(&format!("{stem}_{n}.ser")).is_some() {
        notes.push(format!(
            "only the first {MAX_SER_FILES} SER files were read"
        ));
    }
    if signals.is_empty() && n == 1 {
        return Err(FormatError::MissingCompanion {
            format: "EMI",
            missing: format!("{stem}_1.ser"),
            hint: format!(
                "an EMI holds only metadata; TIA writes the data to {stem}_1.ser, \
                 {stem}_2.ser, … in the same folder: copy them beside it, or open a SER file"
            ),
        });
    }
    if signals.is_empty() {
        return Err(FormatError::unsupported(
            "EMI",
            "an acquisition whose SER files hold no data elements",
            "acquire it again; a single spectrum kept only in the EMI is not read",
        ));
    }
    let mut metadata = Metadata::default();
    fill_metadata(&mut metadata, &emi, objects.into_iter());
    Ok(Acquisition {
        format: FileFormat::Emi,
        signals,
        metadata,
        notes,
    })
}

/// The acquisition's metadata: from the signals' own blocks first, then any other block.
fn fill_metadata<'a>(
    md: &mut Metadata,
    emi: &'a Emi,
    first: impl Iterator<Item = &'a emi::Object>,
) {
    for o in first.chain(emi.objects.iter().filter(|o| o.has_description())) {
        o.fill(md);
    }
    if let Some(v) = &emi.version {
        md.extra.insert("tia_version".into(), v.clone());
    }
    if let Some(t) = &emi.title {
        md.extra.insert("document".into(), t.clone());
    }
}

/// One signal from a series, named by its detector where the EMI says.
fn signal(
    series: Series,
    object: Option<&emi::Object>,
    ser_name: &str,
    notes: &mut Vec<String>,
) -> Signal {
    let stem = ser_name
        .rsplit_once('.')
        .map_or(ser_name, |(s, _)| s)
        .to_string();
    let mut metadata: BTreeMap<String, String> =
        object.map(emi::Object::signal_metadata).unwrap_or_default();
    let tia_name = object.and_then(|o| o.name.clone());
    let name = tia_name.as_deref().and_then(emi::detector).unwrap_or(stem);
    if let Some(t) = tia_name {
        metadata.insert("tia_name".into(), t);
    }
    metadata.insert("ser_file".into(), ser_name.to_string());
    metadata.insert(
        "ser_version".into(),
        match series.version {
            0x0210 => "0x0210 (32-bit offsets)".into(),
            v => format!("0x{v:04x} (64-bit offsets)"),
        },
    );
    if let Some(t) = series.first_time {
        metadata.insert("first_element_utc".into(), utc(t));
    }
    for note in series.notes {
        notes.push(format!("{name}: {note}"));
    }
    Signal {
        name,
        kind: series.kind,
        dtype: series.dtype,
        axes: series.axes,
        data: series.data,
        metadata,
    }
}

/// The name without any folder.
fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name)
}

/// `<stem>_<n>.ser` → (stem, n).
fn ser_number(name: &str) -> Option<(&str, u32)> {
    let (rest, ext) = name.rsplit_once('.')?;
    if !ext.eq_ignore_ascii_case("ser") {
        return None;
    }
    let (stem, n) = rest.rsplit_once('_')?;
    if stem.is_empty() || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem, n.parse().ok()?))
}

/// An error from one of an EMI's SER files, naming the file.
fn in_file(e: FormatError, file: &str) -> FormatError {
    match e {
        FormatError::Truncated { format, detail } => FormatError::Truncated {
            format,
            detail: format!("{file}: {detail}"),
        },
        FormatError::Corrupt { format, detail } => FormatError::Corrupt {
            format,
            detail: format!("{file}: {detail}"),
        },
        FormatError::Unsupported { format, what, hint } => FormatError::Unsupported {
            format,
            what: format!("{what} (in {file})"),
            hint,
        },
        FormatError::TooLarge {
            format,
            what,
            found,
            limit,
        } => FormatError::TooLarge {
            format,
            what: format!("{file}: {what}"),
            found,
            limit,
        },
        other => other,
    }
}

/// Seconds since 1970-01-01 as an ISO 8601 UTC time.
fn utc(seconds: u32) -> String {
    let s = i64::from(seconds);
    let (days, rem) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    // Civil date from days since the epoch (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
