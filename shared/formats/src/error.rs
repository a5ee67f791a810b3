//! [`FormatError`], the one error type of this crate.
//!
//! Every message names the file format, what is wrong, and what the user can do, so a caller
//! can print it unchanged.

use thiserror::Error;

use tessera_imaging::ImagingError;

/// Everything that can go wrong while reading an instrument file.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input holds no bytes.
    #[error("the file is empty (0 bytes); check that it was copied completely")]
    Empty,

    /// No reader recognises the bytes.
    #[error(
        "{found} is not a format Tessera reads; it reads DM3/DM4, Velox and Berkeley EMD, \
         TIA SER/EMI, Bruker BCF, MRC/CCP4 (also .gz), TIFF, PNG and JPEG: export the data \
         to one of these"
    )]
    Unrecognised {
        /// What the first bytes look like.
        found: String,
    },

    /// The file ends before the data its header promises.
    #[error(
        "{format} file is truncated ({detail}); the file is incomplete, re-copy or re-export it"
    )]
    Truncated {
        /// "DM3", "DM4", "MRC", ...
        format: &'static str,
        /// What was being read when the data ran out.
        detail: String,
    },

    /// The file's structure is damaged or inconsistent.
    #[error("{format} file is corrupt: {detail}; re-export it from the instrument software")]
    Corrupt {
        /// "DM3", "DM4", "MRC", ...
        format: &'static str,
        /// What does not add up.
        detail: String,
    },

    /// A valid file uses something this reader does not handle.
    #[error("{format} {what} is not supported; {hint}")]
    Unsupported {
        /// "DM3", "DM4", "MRC", ...
        format: &'static str,
        /// What is unsupported.
        what: String,
        /// The way out.
        hint: String,
    },

    /// The data is larger than the configured limits allow (checked before any allocation).
    #[error(
        "{format} {what} holds {found} values, more than the limit of {limit}; raise the \
         limit (decode.max_pixels) if the file is genuine, or crop it first"
    )]
    TooLarge {
        /// "DM3", "DM4", "MRC", ...
        format: &'static str,
        /// What is too large, e.g. "image 'HAADF'".
        what: String,
        /// Values it would hold.
        found: u64,
        /// The limit.
        limit: u64,
    },

    /// A companion file the format needs (an SER's EMI, an EMI's SER) is missing.
    #[error("{format} file needs {missing} beside it, which was not found; {hint}")]
    MissingCompanion {
        /// "SER", "EMI".
        format: &'static str,
        /// The companion's file name.
        missing: String,
        /// The way out.
        hint: String,
    },

    /// The file holds no signal that can be segmented (only spectra, say).
    #[error("{format} file holds no image ({found}); {hint}")]
    NoImage {
        /// The format's name.
        format: &'static str,
        /// What it does hold.
        found: String,
        /// The way out.
        hint: String,
    },

    /// A signal asked for by name is not in the file.
    #[error(
        "the file has no signal named '{wanted}'; it has: {available} (run `tessera info FILE`)"
    )]
    NoSuchSignal {
        /// The name asked for.
        wanted: String,
        /// The names it has, comma-separated.
        available: String,
    },

    /// TIFF, PNG or JPEG decoding failed.
    #[error(transparent)]
    Imaging(#[from] ImagingError),
}

impl FormatError {
    /// A [`FormatError::Truncated`] for `format`.
    pub fn truncated(format: &'static str, detail: impl Into<String>) -> FormatError {
        FormatError::Truncated {
            format,
            detail: detail.into(),
        }
    }

    /// A [`FormatError::Corrupt`] for `format`.
    pub fn corrupt(format: &'static str, detail: impl Into<String>) -> FormatError {
        FormatError::Corrupt {
            format,
            detail: detail.into(),
        }
    }

    /// A [`FormatError::Unsupported`] for `format`.
    pub fn unsupported(
        format: &'static str,
        what: impl Into<String>,
        hint: impl Into<String>,
    ) -> FormatError {
        FormatError::Unsupported {
            format,
            what: what.into(),
            hint: hint.into(),
        }
    }
}
