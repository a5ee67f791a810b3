//! `deploy/tessera.toml` stays true: it holds the defaults, and every option is in it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use tessera_settings::Settings;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/tessera.toml")
}

fn example() -> String {
    std::fs::read_to_string(example_path()).unwrap()
}

/// The example with its commented-out options (`# key = value`, `# [table]`) switched on.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if is_option(rest) || (rest.starts_with('[') && rest.ends_with(']')) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key = value`, with a lower-case key.
fn is_option(line: &str) -> bool {
    line.split_once(" = ").is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

/// Every `section.key` of a TOML text, tables included.
fn keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let key = format!("{prefix}{k}");
        if let toml::Value::Table(t) = v {
            keys(t, &format!("{key}."), out);
        }
        out.insert(key);
    }
}

/// The fields `Settings` accepts at `table` (`""` for the sections), read from the serde
/// error for an unknown field, so that a new field shows up here by itself.
fn fields(table: &str) -> Vec<String> {
    let probe = if table.is_empty() {
        "zz_probe = 0".to_string()
    } else {
        format!("[{table}]\nzz_probe = 0")
    };
    let err = toml::from_str::<Settings>(&probe).unwrap_err().to_string();
    // "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`".
    let list = err.split("expected ").nth(1).unwrap();
    let list = list.lines().next().unwrap();
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[test]
fn the_example_holds_the_defaults() {
    let s = Settings::load_from(Some(&example_path()), Vec::new()).unwrap();
    assert_eq!(s, Settings::default());
}

#[test]
fn the_example_lists_every_option() {
    let table: toml::Table = toml::from_str(&uncommented(&example())).unwrap();
    let mut found = BTreeSet::new();
    keys(&table, "", &mut found);

    let mut expected = BTreeSet::new();
    for section in fields("") {
        for field in fields(&section) {
            let key = format!("{section}.{field}");
            if key == "bus.tls" {
                for tls in fields("bus.tls") {
                    expected.insert(format!("bus.tls.{tls}"));
                }
            }
            expected.insert(key);
        }
        expected.insert(section);
    }
    assert!(expected.len() > 50, "{expected:?}");
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(missing.is_empty(), "deploy/tessera.toml lacks {missing:?}");
    assert!(
        extra.is_empty(),
        "deploy/tessera.toml has unknown {extra:?}"
    );
}

#[test]
fn the_commented_out_options_are_well_typed() {
    let text = uncommented(&example());
    let s: Settings = toml::from_str(&text).unwrap();
    assert!(s.bus.tls.is_some() && s.cache.url.is_some() && s.model.input_size.is_some());
    // It also loads through the same path as a real file would.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.toml");
    std::fs::write(&path, text).unwrap();
    let err = Settings::load_from(Some(&path), Vec::new()).unwrap_err();
    // Every way of logging in at once is refused by validation, not by the loader.
    assert!(err.to_string().contains("only one"), "{err}");
}
