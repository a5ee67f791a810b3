//! The command line's files and folders: expanded into instrument files (the rules are
//! `tessera_instrument::files`), read into acquisitions, and named for the outputs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tessera_formats::{Acquisition, ReadLimits};
use tessera_imaging::Raster;
use tessera_instrument::files;

/// Lists the files named by `inputs`: files as given, folders' instrument files sorted by
/// name (an SER read through its EMI is not listed twice).
pub(crate) fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    Ok(files::expand(inputs)?)
}

/// Reads the acquisition in the file at `path`, with its companion files.
pub(crate) fn read(path: &Path, limits: &ReadLimits) -> Result<Acquisition> {
    Ok(files::read_acquisition(path, limits)?)
}

/// [`read`], timed: the file's bytes, then their decoding. Returns the acquisition and the
/// milliseconds of each.
pub(crate) fn read_timed(path: &Path, limits: &ReadLimits) -> Result<(Acquisition, f64, f64)> {
    let start = std::time::Instant::now();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let read_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = std::time::Instant::now();
    let acquisition = files::decode_acquisition(path, &bytes, limits)?;
    Ok((acquisition, read_ms, start.elapsed().as_secs_f64() * 1e3))
}

/// The first plane of the first image of the file at `path`, with the default limits.
pub(crate) fn read_first_page(path: &Path) -> Result<Raster> {
    let acquisition = read(path, &ReadLimits::default())?;
    let signal = acquisition
        .pick(None)
        .with_context(|| format!("reading {}", path.display()))?;
    signal
        .planes()
        .with_context(|| format!("reading {}", path.display()))?
        .into_iter()
        .next()
        .with_context(|| format!("{} has no image planes", path.display()))
}

/// The output stem of each input: its file stem, or its whole file name where two inputs
/// share a stem (`a.png` and `a.tif` become `a.png` and `a.tif`, not both `a`).
pub(crate) fn stems(paths: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned())
    };
    let all: Vec<String> = paths.iter().map(|p| stem(p)).collect();
    paths
        .iter()
        .zip(&all)
        .map(|(p, s)| {
            if all.iter().filter(|o| *o == s).count() > 1 {
                p.file_name()
                    .map_or_else(|| s.clone(), |n| n.to_string_lossy().into_owned())
            } else {
                s.clone()
            }
        })
        .collect()
}

/// The output stem for page `page` of `pages` of an input whose stem is `base`.
pub(crate) fn page_stem(base: &str, page: usize, pages: usize) -> String {
    if pages > 1 {
        format!("{base}.p{page:03}")
    } else {
        base.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_stems_keep_their_extension() {
        let paths: Vec<PathBuf> = ["d/a.png", "d/a.tif", "d/b.jpg"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(stems(&paths), ["a.png", "a.tif", "b"]);
        assert_eq!(page_stem("b", 2, 3), "b.p002");
        assert_eq!(page_stem("b", 0, 1), "b");
    }
}
