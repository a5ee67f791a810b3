//! Tessera formats: the files electron microscopes write, read into one model of an
//! acquisition with its physical calibration.
//!
//! A domain crate: it reads the bytes it is given and does no other I/O. A format whose data
//! spans several files (TIA's EMI with its SER files) asks the caller for the others through
//! [`Companions`]. Every reader checks sizes against [`ReadLimits`] before it allocates, and
//! fails on damaged input with a [`FormatError`] that names the format, the problem and the
//! way out; none panics.
//!
//! # Layout
//! - `model.rs`: [`Acquisition`], [`Signal`], [`Axis`], [`DType`], [`Metadata`],
//!   [`PixelSize`].
//! - `sniff.rs`: [`FileFormat`] and [`sniff`], recognising a format from its bytes.
//! - `bytes.rs`: a bounds-checked [`bytes::Cursor`] and sample conversion to `f32`.
//! - `units.rs`: length units to nanometres, readable areas.
//! - `wire.rs`: an acquisition as bytes and back, for a reader in another process.
//! - `images.rs`: TIFF, PNG and JPEG through `tessera_imaging`, with the pixel size
//!   instruments put in TIFF tags (`tiff_calibration.rs`).
//! - `dm/`: Gatan DM3 and DM4. `emd/`: Velox and Berkeley EMD and HyperSpy HDF5.
//!   `ser/`: TIA SER/EMI. `bcf/`: Bruker BCF. `mrc/`: MRC/CCP4 (also gzip).

pub mod bytes;
mod error;
mod images;
mod model;
mod sniff;
mod tiff_calibration;
pub mod units;
pub mod wire;

mod bcf;
mod dm;
mod emd;
mod mrc;
mod ser;

pub use error::FormatError;
pub use model::{Acquisition, Axis, DType, Metadata, PixelSize, Signal, SignalKind};
pub use sniff::{EXTENSIONS, FileFormat, sniff};
pub use tessera_imaging::DecodeLimits as ReadLimits;

/// Where a reader finds the other files of a multi-file acquisition (an EMI's SER files, an
/// SER's EMI). The caller decides what "beside" means; the command line looks in the same
/// folder.
pub trait Companions {
    /// The bytes of the file called `file_name` beside the one being read, if there is one.
    fn read(&self, file_name: &str) -> Option<Vec<u8>>;
}

/// No companion files: for bytes that arrived alone (over the network, say).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCompanions;

impl Companions for NoCompanions {
    fn read(&self, _file_name: &str) -> Option<Vec<u8>> {
        None
    }
}

/// Reads an instrument file of any supported format, recognised from its bytes (the name is
/// used only for companion files and as a fallback hint). gzip-compressed files are
/// decompressed first, within `limits`.
pub fn read(
    file_name: &str,
    bytes: &[u8],
    companions: &dyn Companions,
    limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    let format = sniff(bytes, file_name)?;
    match format {
        FileFormat::Gzip => {
            let inner = gunzip(bytes, limits)?;
            let inner_name = file_name.strip_suffix(".gz").unwrap_or(file_name);
            if sniff(&inner, inner_name)? == FileFormat::Gzip {
                return Err(FormatError::unsupported(
                    "gzip",
                    "a gzip file inside a gzip file",
                    "decompress it first",
                ));
            }
            read(inner_name, &inner, companions, limits)
        }
        FileFormat::Tiff | FileFormat::Png | FileFormat::Jpeg => {
            images::read(bytes, format, limits)
        }
        FileFormat::Dm3 | FileFormat::Dm4 => dm::read(bytes, file_name, companions, limits),
        FileFormat::Hdf5 => emd::read(bytes, file_name, companions, limits),
        FileFormat::Ser | FileFormat::Emi => ser::read(bytes, file_name, companions, limits),
        FileFormat::Bcf => bcf::read(bytes, file_name, companions, limits),
        FileFormat::Mrc => mrc::read(bytes, file_name, companions, limits),
    }
}

/// The most values one signal may hold: four times `max_pixels` (1 Gi values, 4 GiB of
/// `f32`, with the default limits), so that stacks and spectrum images fit.
pub fn max_values(limits: &ReadLimits) -> u64 {
    limits.max_pixels.saturating_mul(4)
}

/// Checks a signal's shape against `limits` before its data is allocated: every 2-D plane
/// of an image at most `max_pixels`, at most `max_pages` planes, and at most
/// [`max_values`] values in all. Returns the number of values.
pub fn check_shape(
    format: &'static str,
    what: &str,
    shape: &[usize],
    is_image: bool,
    limits: &ReadLimits,
) -> Result<usize, FormatError> {
    let total = shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    if is_image && shape.len() >= 2 {
        let n = shape.len();
        let plane = (shape[n - 2] as u64).saturating_mul(shape[n - 1] as u64);
        if plane > limits.max_pixels {
            return Err(FormatError::TooLarge {
                format,
                what: format!("{what} (one plane)"),
                found: plane,
                limit: limits.max_pixels,
            });
        }
        let pages: u64 = shape[..n - 2].iter().map(|&d| d as u64).product();
        if pages > limits.max_pages as u64 {
            return Err(FormatError::TooLarge {
                format,
                what: format!("{what} (planes)"),
                found: pages,
                limit: limits.max_pages as u64,
            });
        }
    }
    if total > max_values(limits) {
        return Err(FormatError::TooLarge {
            format,
            what: what.to_string(),
            found: total,
            limit: max_values(limits),
        });
    }
    Ok(total as usize)
}

/// Decompresses gzip data, refusing output larger than [`max_values`] × 8 bytes.
fn gunzip(bytes: &[u8], limits: &ReadLimits) -> Result<Vec<u8>, FormatError> {
    use std::io::Read;
    let cap = max_values(limits).saturating_mul(8);
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(bytes).take(cap.saturating_add(1));
    dec.read_to_end(&mut out)
        .map_err(|e| FormatError::corrupt("gzip", format!("decompression failed: {e}")))?;
    if out.len() as u64 > cap {
        return Err(FormatError::TooLarge {
            format: "gzip",
            what: "decompressed data (bytes)".into(),
            found: out.len() as u64,
            limit: cap,
        });
    }
    Ok(out)
}
