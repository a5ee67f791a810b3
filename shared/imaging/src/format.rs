//! Recognising an image format from its first bytes (never from a file name).

/// An image container recognised from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG (`89 50 4E 47 0D 0A 1A 0A`).
    Png,
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// TIFF or BigTIFF, either byte order (`II*\0`, `MM\0*`, `II+\0`, `MM\0+`).
    Tiff,
}

impl ImageFormat {
    /// The format's usual name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Tiff => "TIFF",
        }
    }
}

/// Identifies a supported format, or describes what the bytes are (for the error message).
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, String> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let starts = |m: &[u8]| bytes.starts_with(m);
    if starts(PNG) {
        return Ok(ImageFormat::Png);
    }
    if starts(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageFormat::Jpeg);
    }
    if starts(b"II*\0") || starts(b"MM\0*") || starts(b"II+\0") || starts(b"MM\0+") {
        return Ok(ImageFormat::Tiff);
    }
    let known = if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("GIF")
    } else if starts(b"BM") {
        Some("BMP")
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("WebP")
    } else if starts(b"\x89HDF\r\n\x1a\n") {
        Some("HDF5 (EMD/Velox/h5)")
    } else if starts(b"\0\0\0\x0cjP  ") || starts(&[0xFF, 0x4F, 0xFF, 0x51]) {
        Some("JPEG 2000")
    } else if starts(&[0, 0, 0, 3]) || starts(&[0, 0, 0, 4]) {
        Some("Gatan DM3/DM4 (probably)")
    } else if starts(b"\x8aMNG") {
        Some("MNG")
    } else if starts(b"qoif") {
        Some("QOI")
    } else {
        None
    };
    Err(match known {
        Some(name) => name.to_string(),
        None => {
            let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("unrecognised data (first bytes: {})", head.join(" "))
        }
    })
}
