//! Expands the command line's files and folders into a list of images.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tessera_imaging::{DecodeLimits, Raster, decode};

/// File extensions picked up from folders (case-insensitive). Files named explicitly are
/// always tried, whatever their extension: the decoder goes by content.
const EXTENSIONS: &[&str] = &["tif", "tiff", "png", "jpg", "jpeg"];

/// Lists the images named by `inputs`: files as given, folders' images sorted by name.
pub(crate) fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("reading folder {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && has_image_extension(p))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "folder {} holds no images ({})",
                    input.display(),
                    EXTENSIONS.join(", ")
                );
            }
            out.extend(found);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            bail!("{} does not exist", input.display());
        }
    }
    Ok(out)
}

/// Reads and decodes the first page of the image at `path`, with the default limits.
pub(crate) fn read_first_page(path: &Path) -> Result<Raster> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    decode(&bytes, &DecodeLimits::default())
        .with_context(|| format!("decoding {}", path.display()))?
        .into_iter()
        .next()
        .with_context(|| format!("{} has no pages", path.display()))
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
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
