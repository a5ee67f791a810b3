//! The settings file read and checked on its own, strictly, so that its errors name the file,
//! the line and the key.
//!
//! `config` converts freely between types (`batch = 1.5` would load as 2, `name = 42` as
//! "42"), so the file is first deserialised with `toml`, which does not; what passes is then
//! merged with the environment by `config`.

use std::path::Path;

use crate::Settings;
use crate::error::{EXAMPLE, SettingsError, describe_message, explain};

/// The text of the file at `path`.
pub(crate) fn read(path: &Path) -> Result<String, SettingsError> {
    std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => SettingsError::FileNotFound {
            path: path.to_path_buf(),
        },
        _ => SettingsError::FileRead {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// Checks that `text`, read from `path`, is TOML whose every key and value `Settings` takes.
pub(crate) fn check(path: &Path, text: &str) -> Result<(), SettingsError> {
    if let Err(e) = text.parse::<toml::Table>() {
        return Err(SettingsError::FileSyntax {
            path: path.to_path_buf(),
            reason: e.to_string().trim_end().to_string(),
        });
    }
    let Err(e) = toml::from_str::<Settings>(text) else {
        return Ok(());
    };
    let (line, full) = e
        .span()
        .map_or((None, String::new()), |span| locate(text, span.start));
    let parent = full.rsplit_once('.').map(|(p, _)| p);
    let (key, problem) = if e.message().starts_with("unknown field") {
        describe_message(parent, e.message())
    } else {
        let problem = format!(
            "{}; {EXAMPLE} shows every option with its default",
            explain(&full, e.message().trim_end())
        );
        (full, problem)
    };
    Err(SettingsError::File {
        path: path.to_path_buf(),
        line,
        key,
        problem,
    })
}

/// The line (from 1) holding byte `at` of `text`, and the key written there as
/// `section.key`: the key of a `key = value` line under the last `[section]` header, or the
/// table a header line names.
fn locate(text: &str, at: usize) -> (Option<usize>, String) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or_default();
    let line_no = before.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
    if let Some(header) = table_name(line) {
        return (Some(line_no), header);
    }
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let section = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| table_name(l.trim()))
        .unwrap_or_default();
    let key = line.split('=').next().unwrap_or_default().trim();
    let key: String = key
        .split('.')
        .map(|k| k.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".");
    let full = match (section.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => section,
        (false, false) => format!("{section}.{key}"),
    };
    (Some(line_no), full)
}

/// `a.b` for a `[a.b]` or `[[a.b]]` header line.
fn table_name(line: &str) -> Option<String> {
    let name = line.strip_prefix('[')?.trim_start_matches('[');
    let name = name.split(']').next()?;
    Some(
        name.split('.')
            .map(|k| k.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join("."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_under_their_table() {
        let text = "[bus]\nurl = 1\n\n[bus.tls]\nca = 2\n[model]\n batch = 3";
        let at = |s: &str| text.find(s).unwrap();
        assert_eq!(locate(text, at("url")), (Some(2), "bus.url".into()));
        assert_eq!(locate(text, at("2")), (Some(5), "bus.tls.ca".into()));
        assert_eq!(locate(text, at("tls")), (Some(4), "bus.tls".into()));
        assert_eq!(locate(text, at("3")), (Some(7), "model.batch".into()));
        assert_eq!(locate("bus.url = 1", 10), (Some(1), "bus.url".into()));
    }
}
