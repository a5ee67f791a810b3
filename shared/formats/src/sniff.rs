//! [`FileFormat`] and [`sniff`]: recognising an instrument file from its bytes.

use serde::{Deserialize, Serialize};

use crate::FormatError;

/// The formats this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Gatan DigitalMicrograph 3.
    Dm3,
    /// Gatan DigitalMicrograph 4.
    Dm4,
    /// HDF5: Velox EMD, Berkeley EMD or HyperSpy HDF5 (told apart inside).
    Hdf5,
    /// FEI/Thermo TIA series data.
    Ser,
    /// FEI/Thermo TIA metadata file (reads its SER files).
    Emi,
    /// Bruker Composite File (SFS container).
    Bcf,
    /// MRC/CCP4 (MRC2014).
    Mrc,
    /// TIFF (and the instruments' calibrated TIFF).
    Tiff,
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// gzip-compressed data (decompressed, then read again).
    Gzip,
}

impl FileFormat {
    /// The format's usual name.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Dm3 => "DM3",
            FileFormat::Dm4 => "DM4",
            FileFormat::Hdf5 => "HDF5",
            FileFormat::Ser => "SER",
            FileFormat::Emi => "EMI",
            FileFormat::Bcf => "BCF",
            FileFormat::Mrc => "MRC",
            FileFormat::Tiff => "TIFF",
            FileFormat::Png => "PNG",
            FileFormat::Jpeg => "JPEG",
            FileFormat::Gzip => "gzip",
        }
    }
}

/// File-name extensions of the formats (lower case), for picking files out of folders.
pub const EXTENSIONS: &[&str] = &[
    "dm3", "dm4", "emd", "h5", "hdf5", "hspy", "ser", "emi", "bcf", "mrc", "map", "mrcs", "rec",
    "st", "ali", "ccp4", "gz", "tif", "tiff", "png", "jpg", "jpeg",
];

/// Recognises the format from the bytes. MRC has no magic number at the start: it is
/// recognised by its "MAP " stamp at byte 208, or, for old files without it, by a `.mrc`,
/// `.map`, `.mrcs`, `.rec`, `.st`, `.ali` or `.ccp4` name with a plausible header. EMI
/// files start with an OLE-like binary header and hold `<ObjectInfo>` XML.
pub fn sniff(bytes: &[u8], file_name: &str) -> Result<FileFormat, FormatError> {
    let starts = |m: &[u8]| bytes.starts_with(m);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Ok(FileFormat::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(FileFormat::Jpeg);
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Ok(FileFormat::Tiff);
    }
    if starts(&[0x1f, 0x8b]) {
        return Ok(FileFormat::Gzip);
    }
    if starts(b"\x89HDF\r\n\x1a\n") {
        return Ok(FileFormat::Hdf5);
    }
    if starts(b"JK\0\x02") {
        return Ok(FileFormat::Emi);
    }
    if starts(b"AAMVHFSS") {
        return Ok(FileFormat::Bcf);
    }
    // Before DM's: a big-endian MRC 3 or 4 pixels wide starts like a DM file.
    if bytes.len() >= 212 && &bytes[208..212] == b"MAP " {
        return Ok(FileFormat::Mrc);
    }
    if starts(&[0, 0, 0, 3]) {
        return Ok(FileFormat::Dm3);
    }
    if starts(&[0, 0, 0, 4]) {
        return Ok(FileFormat::Dm4);
    }
    // SER: byte order 0x4949, series id 0x0197, version 0x0210 or 0x0220.
    if bytes.len() >= 6 && starts(b"II\x97\x01") && matches!(&bytes[4..6], [0x10, 2] | [0x20, 2]) {
        return Ok(FileFormat::Ser);
    }
    let lower = file_name.to_ascii_lowercase();
    let ext = lower.rsplit('.').next().unwrap_or("");
    if ext == "emi" || contains(&bytes[..bytes.len().min(1 << 20)], b"<ObjectInfo>") {
        return Ok(FileFormat::Emi);
    }
    if matches!(ext, "mrc" | "map" | "mrcs" | "rec" | "st" | "ali" | "ccp4") && bytes.len() >= 1024
    {
        return Ok(FileFormat::Mrc);
    }
    let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let found = if starts(b"GIF8") {
        "GIF".to_string()
    } else if starts(b"BM") {
        "BMP".to_string()
    } else if starts(b"PK\x03\x04") {
        "a zip archive (unpack it first)".to_string()
    } else {
        format!("unrecognised data (first bytes {})", head.join(" "))
    };
    Err(FormatError::Unrecognised { found })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nxx", "a").unwrap(), FileFormat::Png);
        assert_eq!(
            sniff(&[0, 0, 0, 4, 0, 0], "x.tif").unwrap(),
            FileFormat::Dm4
        );
        assert_eq!(sniff(b"AAMVHFSS....", "x").unwrap(), FileFormat::Bcf);
        assert_eq!(sniff(b"II\x97\x01\x10\x02", "x").unwrap(), FileFormat::Ser);
        let mut mrc = vec![0u8; 1024];
        mrc[208..212].copy_from_slice(b"MAP ");
        assert_eq!(sniff(&mrc, "noext").unwrap(), FileFormat::Mrc);
        assert!(matches!(
            sniff(b"GIF89a", "x"),
            Err(FormatError::Unrecognised { .. })
        ));
    }
}
