//! Scaffold: replaced by the real reader.

use crate::{Acquisition, Companions, FormatError, ReadLimits};

/// Reads the file.
pub(crate) fn read(
    _bytes: &[u8],
    _file_name: &str,
    _companions: &dyn Companions,
    _limits: &ReadLimits,
) -> Result<Acquisition, FormatError> {
    Err(FormatError::unsupported(
        "bcf",
        "reading",
        "not written yet",
    ))
}
