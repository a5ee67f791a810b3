//! Instrument files on disk: which files of a folder are acquisitions, and reading one with
//! its companion files (a TIA EMI's SER files sit beside it) through `tessera_formats`.
//!
//! HDF5 files (EMD, HyperSpy) are read by libhdf5, which can crash or hang on a damaged file
//! where no Rust code can catch it. A program that must outlive such a file (the `tessera`
//! command: a folder of files, a publishing run) names a reader binary with
//! [`isolate_hdf5_with`]; HDF5 files are then read in a child process of it
//! (`isolated.rs`), and a crash or hang there becomes an error naming the file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tessera_formats::{Acquisition, Companions, EXTENSIONS, FileFormat, ReadLimits, sniff};

use crate::InstrumentError;

/// The binary that reads HDF5 files in a child process, once set.
static HDF5_READER: OnceLock<PathBuf> = OnceLock::new();

/// From now on, HDF5 files are read by running `binary read-file --max-pixels N --max-pages
/// M PATH`, which must write [`tessera_formats::wire`] bytes to stdout (the `tessera`
/// command's hidden `read-file`). Only the first call counts.
pub fn isolate_hdf5_with(binary: PathBuf) {
    let _ = HDF5_READER.set(binary);
}

/// The files named by `inputs`: files as given (any extension: formats are told by content),
/// folders' acquisitions sorted by name. In a folder, a file counts when its extension is one
/// [`tessera_formats`] reads; an SER file whose EMI is beside it is left out, because reading
/// the EMI reads it.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, InstrumentError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let read = |source| InstrumentError::Read {
                path: input.clone(),
                source,
            };
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(read)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_acquisition(p))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(InstrumentError::Invalid(format!(
                    "folder {} holds no files Tessera reads (extensions {})",
                    input.display(),
                    EXTENSIONS.join(", ")
                )));
            }
            out.extend(found);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            return Err(InstrumentError::Invalid(format!(
                "{} does not exist; check the path",
                input.display()
            )));
        }
    }
    Ok(out)
}

/// Whether a file in a folder is an acquisition to read: a known extension, and not an SER
/// that its EMI (`<stem>.emi` for `<stem>_<n>.ser`) reads.
fn is_acquisition(p: &Path) -> bool {
    let Some(ext) = p.extension().and_then(|e| e.to_str()) else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    if !EXTENSIONS.contains(&ext.as_str()) {
        return false;
    }
    if ext == "ser" {
        return emi_of(p).is_none_or(|emi| !emi.is_file());
    }
    true
}

/// The EMI a TIA SER file belongs to: `<stem>_<n>.ser` → `<stem>.emi`.
fn emi_of(ser: &Path) -> Option<PathBuf> {
    let stem = ser.file_stem()?.to_str()?;
    let (base, n) = stem.rsplit_once('_')?;
    n.parse::<u32>().ok()?;
    Some(ser.with_file_name(format!("{base}.emi")))
}

/// Companion files from the folder of the file being read.
struct Beside<'a>(&'a Path);

impl Companions for Beside<'_> {
    fn read(&self, file_name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(file_name)).ok()
    }
}

/// Reads the acquisition in the file at `path` (any format `tessera_formats` reads), with
/// its companion files from the same folder.
pub fn read_acquisition(path: &Path, limits: &ReadLimits) -> Result<Acquisition, InstrumentError> {
    let bytes = std::fs::read(path).map_err(|source| InstrumentError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    decode_acquisition(path, &bytes, limits)
}

/// Reads the acquisition in `bytes`, the content of the file at `path`, with its companion
/// files from the same folder ([`read_acquisition`] when the caller has read the file). An
/// HDF5 file is read in a child process when [`isolate_hdf5_with`] named a reader.
pub fn decode_acquisition(
    path: &Path,
    bytes: &[u8],
    limits: &ReadLimits,
) -> Result<Acquisition, InstrumentError> {
    if let Some(reader) = HDF5_READER.get()
        && sniff(bytes, "").is_ok_and(|f| f == FileFormat::Hdf5)
    {
        return crate::isolated::read(reader, path, bytes.len(), limits);
    }
    decode_in_process(path, bytes, limits)
}

/// [`decode_acquisition`] in this process, whatever the format: what the reader child runs.
pub fn decode_in_process(
    path: &Path,
    bytes: &[u8],
    limits: &ReadLimits,
) -> Result<Acquisition, InstrumentError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    tessera_formats::read(&name, bytes, &Beside(dir), limits).map_err(|source| {
        InstrumentError::Format {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emi_reads_its_ser_files_so_a_folder_lists_only_the_emi() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for f in [
            "a.emi",
            "a_1.ser",
            "a_2.ser",
            "b_1.ser",
            "c.dm4",
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap_or_else(|e| panic!("{e}"));
        }
        let found = expand(&[dir.path().to_path_buf()]).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_name().unwrap_or_default().to_string_lossy().into())
            .collect();
        assert_eq!(names, ["a.emi", "b_1.ser", "c.dm4"]);
    }
}
