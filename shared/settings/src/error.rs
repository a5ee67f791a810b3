//! [`SettingsError`]: why the settings could not be loaded, written for the operator.

use std::path::PathBuf;

/// Where every option is listed, with its default.
pub(crate) const EXAMPLE: &str = "deploy/tessera.toml";

/// Settings that cannot be used. Each message names the file or variable, the key, and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file given does not exist.
    #[error(
        "config file {} does not exist; check the path, or give no file to run on the \
         defaults and TESSERA__SECTION__KEY variables ({EXAMPLE} lists every option)",
        path.display()
    )]
    FileNotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists but cannot be read.
    #[error("config file {} cannot be read: {source}", path.display())]
    FileRead {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {} is not valid TOML: {reason}", path.display())]
    FileSyntax {
        /// The path as given.
        path: PathBuf,
        /// The parser's message, with the line.
        reason: String,
    },
    /// A key in the file is unknown or its value is unusable.
    #[error("config file {}{}: {problem}", path.display(), line.map(|n| format!(", line {n}")).unwrap_or_default())]
    File {
        /// The path as given.
        path: PathBuf,
        /// The line at fault, from 1, where known.
        line: Option<usize>,
        /// The key, as `section.key`.
        key: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A `TESSERA__...` variable names an unknown key or holds an unusable value.
    #[error("environment variable {var}: {problem}")]
    Env {
        /// The variable's name.
        var: String,
        /// The key it sets, as `section.key`.
        key: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// Every value has the right type, but one is out of range or contradicts another.
    #[error("invalid setting: {problem}")]
    Invalid {
        /// The key, as `section.key`, or the section.
        key: String,
        /// What is wrong and how to fix it, naming the key.
        problem: String,
    },
}

impl SettingsError {
    /// The key at fault, as `section.key`, where one is known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::File { key, .. } | Self::Env { key, .. } | Self::Invalid { key, .. } => Some(key),
            Self::FileNotFound { .. } | Self::FileRead { .. } | Self::FileSyntax { .. } => None,
        }
    }

    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A `config` error turned into the key at fault and a sentence for the operator.
pub(crate) fn describe(err: config::ConfigError) -> (String, String) {
    use config::ConfigError as E;
    match err {
        E::Type {
            unexpected,
            expected,
            key,
            ..
        } => {
            let key = key.unwrap_or_default();
            let problem = format!(
                "`{key}` must be {expected}, not {unexpected}; {EXAMPLE} shows every option \
                 with its default"
            );
            (key, problem)
        }
        E::At { error, key, .. } => describe_message(key.as_deref(), &error.to_string()),
        E::Message(msg) => describe_message(None, &msg),
        E::NotFound(key) => {
            let problem = format!("`{key}` is missing");
            (key, problem)
        }
        other => (String::new(), other.to_string()),
    }
}

/// A serde message at `key` (the section, for an unknown field) explained.
pub(crate) fn describe_message(key: Option<&str>, msg: &str) -> (String, String) {
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        let key = key.unwrap_or_default().to_string();
        let problem = format!(
            "{}; {EXAMPLE} shows every option with its default",
            explain(&key, msg)
        );
        return (key, problem);
    };
    let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let expected = expected.trim_start_matches(", ");
    let (full, section) = match key {
        Some(section) if !section.is_empty() => (format!("{section}.{field}"), section),
        _ => (field.to_string(), ""),
    };
    let known = expected
        .strip_prefix("expected one of ")
        .or_else(|| expected.strip_prefix("expected "))
        .map(|list| list.replace('`', ""))
        .unwrap_or_else(|| expected.to_string());
    let problem = if section.is_empty() {
        format!(
            "unknown section or key `{full}`; the sections are {known} (check the spelling; \
             {EXAMPLE} lists every option)"
        )
    } else {
        format!(
            "unknown key `{full}`; [{section}] accepts {known} (check the spelling; \
             {EXAMPLE} lists every option)"
        )
    };
    (full, problem)
}

/// serde's "invalid type: string "x", expected usize" as "`key` must be a non-negative
/// integer, not string "x"".
pub(crate) fn explain(key: &str, msg: &str) -> String {
    let parts = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
        .and_then(|rest| rest.split_once(", expected "));
    let Some((found, expected)) = parts else {
        return format!("`{key}`: {msg}");
    };
    let expected = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a non-negative integer",
        "f32" | "f64" => "a number",
        e if e.starts_with("struct ") || e.starts_with("map") => "a table",
        e => e,
    };
    format!("`{key}` must be {expected}, not {found}")
}
