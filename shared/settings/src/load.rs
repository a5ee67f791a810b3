//! Loading: the file and the environment merged by the `config` crate, checked source by
//! source so that an error can name the file or the variable at fault.

use std::path::Path;

use config::{Config, ConfigBuilder, Environment, File, FileFormat, Map, builder::DefaultState};

use crate::error::{SettingsError, describe};
use crate::{Settings, file};

/// Prefix of the variables read, with its separator; matched case-insensitively.
const PREFIX: &str = "TESSERA";
/// Between the prefix and the section, and between the section and the key.
const SEPARATOR: &str = "__";

/// See [`Settings::load_from`].
pub(crate) fn load_from(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, SettingsError> {
    let text = file
        .map(|path| file::read(path).map(|text| (path, text)))
        .transpose()?;
    if let Some((path, text)) = &text {
        // The file alone first, so that its errors name it.
        file::check(path, text)?;
    }
    let vars: Vec<(String, String)> = env.into_iter().filter(|(k, v)| is_ours(k, v)).collect();
    for (var, value) in &vars {
        // Each variable alone, so that an error names it.
        let one = env_source([(var.clone(), value.clone())].into_iter().collect());
        build(Config::builder().add_source(one)).map_err(|e| env_error(var, e))?;
    }
    let mut builder = Config::builder();
    if let Some((_, text)) = &text {
        builder = builder.add_source(toml_source(text));
    }
    builder = builder.add_source(env_source(vars.into_iter().collect()));
    let settings = build(builder).map_err(|e| {
        let (key, problem) = describe(e);
        SettingsError::Invalid { key, problem }
    })?;
    settings.validate()?;
    Ok(settings)
}

/// Whether `TESSERA__...` names a setting: the prefix and its separator, any case, and a
/// value (an empty variable counts as unset). `TESSERA_CACHE` and the like are not ours.
fn is_ours(var: &str, value: &str) -> bool {
    let head = PREFIX.len() + SEPARATOR.len();
    !value.is_empty()
        && var.len() > head
        && var.is_char_boundary(head)
        && var[..head].eq_ignore_ascii_case(&format!("{PREFIX}{SEPARATOR}"))
}

/// The key `var` sets: `TESSERA__BUS__TLS__CA` is `bus.tls.ca`.
fn env_key(var: &str) -> String {
    let head = PREFIX.len() + SEPARATOR.len();
    var.get(head..)
        .unwrap_or_default()
        .to_lowercase()
        .replace(SEPARATOR, ".")
}

fn toml_source(text: &str) -> File<config::FileSourceString, FileFormat> {
    File::from_str(text, FileFormat::Toml)
}

/// The variables as a `config` source. Values stay strings (no `try_parsing`): `config`
/// converts a string to the number or boolean a field wants, and a string field keeps
/// exactly what was written (`007`, `1e3` and `TRUE` would not survive parsing).
fn env_source(vars: Map<String, String>) -> Environment {
    Environment::with_prefix(PREFIX)
        .prefix_separator(SEPARATOR)
        .separator(SEPARATOR)
        .source(Some(vars))
}

fn build(builder: ConfigBuilder<DefaultState>) -> Result<Settings, config::ConfigError> {
    builder.build()?.try_deserialize()
}

fn env_error(var: &str, err: config::ConfigError) -> SettingsError {
    let (key, problem) = describe(err);
    SettingsError::Env {
        var: var.to_string(),
        key: if key.is_empty() { env_key(var) } else { key },
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_double_underscore_variables_are_ours() {
        assert!(is_ours("TESSERA__BUS__URL", "x"));
        assert!(is_ours("tessera__bus__url", "x"));
        assert!(!is_ours("TESSERA__BUS__URL", ""));
        assert!(!is_ours("TESSERA_CACHE", "/c"));
        assert!(!is_ours("TESSERA__", "x"));
        assert!(!is_ours("TESSERAé", "x"));
        assert_eq!(env_key("TESSERA__BUS__TLS__CA"), "bus.tls.ca");
        assert_eq!(
            env_key("TESSERA__EMBEDDER__MAX_BATCH_CHIPS"),
            "embedder.max_batch_chips"
        );
    }
}
