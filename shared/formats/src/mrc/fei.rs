//! Thermo Fisher (FEI) extended headers, EXTTYP "FEI1" (metadata version 0, 768-byte
//! records) and "FEI2" (version 2, 888-byte records): one packed record per section, of
//! which the first is read for the microscope's settings.
//!
//! Layout (Thermo Fisher's "MRC2014 file format" extended header specification, as laid
//! out field by field in mrcfile's `dtypes.py`): the fields are packed without padding;
//! the bitmasks are little-endian, the other numbers in the file's byte order. Each bit of
//! a bitmask says whether one field holds a value, in field order (bitmask 1, bit 0 is the
//! timestamp; bits 16–21 cover the 48 unused bytes; bitmask 2, bit 0 is the camera
//! length); this numbering agrees with both of mrcfile's EPU example files (the slit bits
//! are set only in the one taken with the energy filter in). Offsets used:
//!
//! | offset | field | type | bit |
//! |---|---|---|---|
//! | 0 | metadata size (record length) | i32 | |
//! | 4 | metadata version | i32 | |
//! | 8 | bitmask 1 | u32 LE | |
//! | 12 | timestamp (days) | f64 | 1:0 |
//! | 20 | microscope type | char\[16\] | 1:1 |
//! | 36 | D-number | char\[16\] | 1:2 |
//! | 52 | application | char\[16\] | 1:3 |
//! | 68 | application version | char\[16\] | 1:4 |
//! | 84 | HT (V) | f64 | 1:5 |
//! | 92 | dose (e/m²) | f64 | 1:6 |
//! | 156, 164 | pixel size X, Y (m) | f64 | 1:14, 1:15 |
//! | 220 | defocus (m) | f64 | 1:22 |
//! | 289 | magnification | f64 | 1:31 |
//! | 297 | bitmask 2 | u32 LE | |
//! | 419 | integration time (s) | f64 | 2:16 |
//! | 435 | camera name | char\[16\] | 2:19 |

use crate::bytes::Endian;

use super::header::text_at;

/// What the first record of an FEI extended header states (only the fields whose bit is
/// set and whose value is plausible).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct FeiRecord {
    /// Metadata version (0 for FEI1, 2 for FEI2).
    pub(super) version: i32,
    /// Bytes per record.
    pub(super) size: usize,
    /// Timestamp, in days (the epoch is not stated by the sources this reader follows).
    pub(super) timestamp_days: Option<f64>,
    /// Microscope type, e.g. "TITAN52337720".
    pub(super) microscope: Option<String>,
    /// The microscope's D-number.
    pub(super) d_number: Option<String>,
    /// Acquisition software, e.g. "EPU".
    pub(super) application: Option<String>,
    /// Its version.
    pub(super) application_version: Option<String>,
    /// Accelerating voltage, V.
    pub(super) ht_v: Option<f64>,
    /// Dose, electrons per m².
    pub(super) dose_e_per_m2: Option<f64>,
    /// Pixel size along X and Y, m.
    pub(super) pixel_m: Option<(f64, f64)>,
    /// Defocus, m.
    pub(super) defocus_m: Option<f64>,
    /// Indicated magnification.
    pub(super) magnification: Option<f64>,
    /// Integration (exposure) time, s.
    pub(super) integration_s: Option<f64>,
    /// Camera name, e.g. "BM-Falcon".
    pub(super) camera: Option<String>,
}

/// Reads the first record of the extended header `ext` (the bytes after the main header,
/// NSYMBT long). Fails with a sentence for the notes when no record fits.
pub(super) fn first_record(ext: &[u8], endian: Endian) -> Result<FeiRecord, String> {
    let le_u32 = |at: usize| -> Option<u32> {
        let b: [u8; 4] = ext.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    };
    let i32_at = |at: usize| -> Option<i32> {
        let b: [u8; 4] = ext.get(at..at + 4)?.try_into().ok()?;
        Some(match endian {
            Endian::Little => i32::from_le_bytes(b),
            Endian::Big => i32::from_be_bytes(b),
        })
    };
    let size_raw = i32_at(0).ok_or("the FEI extended header is too short to hold a record")?;
    let size = usize::try_from(size_raw)
        .ok()
        .filter(|&s| s >= 12)
        .ok_or_else(|| {
            format!("the FEI extended header's record length ({size_raw}) is not valid")
        })?;
    // Only the first record, and only what lies inside it and inside the extended header.
    let rec = &ext[..size.min(ext.len())];
    let f64_at = |at: usize| -> Option<f64> {
        let b: [u8; 8] = rec.get(at..at + 8)?.try_into().ok()?;
        let v = match endian {
            Endian::Little => f64::from_le_bytes(b),
            Endian::Big => f64::from_be_bytes(b),
        };
        v.is_finite().then_some(v)
    };
    let bm1 = le_u32(8).unwrap_or(0);
    let bm2 = if rec.len() >= 301 {
        le_u32(297).unwrap_or(0)
    } else {
        0
    };
    let on1 = |bit: u32| bm1 & (1 << bit) != 0;
    let on2 = |bit: u32| bm2 & (1 << bit) != 0;
    let positive = |v: f64| v > 0.0;
    let text = |at: usize| text_at(rec, at, 16);
    Ok(FeiRecord {
        version: i32_at(4).unwrap_or(-1),
        size,
        timestamp_days: on1(0)
            .then(|| f64_at(12))
            .flatten()
            .filter(|&v| positive(v)),
        microscope: on1(1).then(|| text(20)).flatten(),
        d_number: on1(2).then(|| text(36)).flatten(),
        application: on1(3).then(|| text(52)).flatten(),
        application_version: on1(4).then(|| text(68)).flatten(),
        ht_v: on1(5)
            .then(|| f64_at(84))
            .flatten()
            .filter(|&v| positive(v)),
        dose_e_per_m2: on1(6)
            .then(|| f64_at(92))
            .flatten()
            .filter(|&v| positive(v)),
        pixel_m: match (
            on1(14).then(|| f64_at(156)).flatten(),
            on1(15).then(|| f64_at(164)).flatten(),
        ) {
            (Some(x), Some(y)) if positive(x) && positive(y) && x < 1e-3 && y < 1e-3 => {
                Some((x, y))
            }
            _ => None,
        },
        defocus_m: on1(22).then(|| f64_at(220)).flatten(),
        magnification: on1(31)
            .then(|| f64_at(289))
            .flatten()
            .filter(|&v| positive(v)),
        integration_s: on2(16).then(|| f64_at(419)).flatten().filter(|&v| v >= 0.0),
        camera: on2(19).then(|| text(435)).flatten(),
    })
}
