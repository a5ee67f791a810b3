//! Malformed and contradictory policy files: each `tests/bad/NN-what.toml` starts with
//! `# expect: line N: fragment`, and parsing it must fail at that line with that fragment.

use std::path::Path;

use tessera_policy::{Policy, PolicyError};
use tessera_protocol::MAX_POLICY_BYTES;

/// (line, fragment) from a file's first line.
fn expectation(name: &str, text: &str) -> (usize, String) {
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: line ")
        .unwrap_or_else(|| panic!("{name}: the first line must be `# expect: line N: fragment`"));
    let (line, fragment) = rest
        .split_once(": ")
        .unwrap_or_else(|| panic!("{name}: no `: ` after the line number"));
    let line = line
        .parse()
        .unwrap_or_else(|_| panic!("{name}: `{line}` is not a line number"));
    (line, fragment.trim().to_string())
}

#[test]
fn every_bad_policy_is_refused_at_its_line_with_its_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "only {} bad policies", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let (line, fragment) = expectation(&name, &text);
        match Policy::parse(&text, &name) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) => {
                let message = e.to_string();
                if e.line() != Some(line) {
                    failures.push(format!(
                        "{name}: line {:?}, expected {line}: {message}",
                        e.line()
                    ));
                }
                if !message.contains(&fragment) {
                    failures.push(format!("{name}: `{message}` lacks `{fragment}`"));
                }
                let prefix = format!("{name}, line {line}, column ");
                if !message.starts_with(&prefix) {
                    failures.push(format!("{name}: `{message}` does not start `{prefix}`"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn columns_point_at_the_value() {
    let text = "[[rule]]\nname = \"half\"\nwhen = \"threshold\"\nclass = \"d\"\nabove = 1.5\naction = \"stop\"\n";
    let e = Policy::parse(text, "p.toml").unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(5), Some(9)), "{e}");
}

#[test]
fn a_file_too_large_is_refused_before_parsing() {
    let mut text =
        String::from("[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = \"stop\"\n");
    while text.len() <= MAX_POLICY_BYTES {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    let e = Policy::parse(&text, "big.toml").unwrap_err();
    assert!(matches!(e, PolicyError::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().starts_with("big.toml: the policy is"), "{e}");
    assert_eq!(e.line(), None);
}

#[test]
fn more_rules_than_a_decision_can_carry_are_refused() {
    let mut text = String::new();
    for i in 0..=tessera_policy::MAX_RULES {
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nwhen = \"threshold\"\ncommunity = {i}\nabove = 0.5\naction = \"stop\"\n"
        ));
    }
    let e = Policy::parse(&text, "many.toml").unwrap_err();
    assert_eq!(e.line(), Some(6 * tessera_policy::MAX_RULES + 1), "{e}");
    assert!(e.to_string().contains("more than the 64 allowed"), "{e}");
}

#[test]
fn odd_inputs_are_refused_without_panicking() {
    for text in [
        "",
        "\u{feff}",
        "rule = 3",
        "[rule]\nname = \"x\"",
        "[[rule]]\nname = \"\"\nwhen = \"unchanged\"\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = 5",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = {}",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = { do = \"stop\", why = 1 }",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = { do = \"notify\", message = \"\" }",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = { do = \"change_dose_rate\", factor = inf }",
        "[[rule]]\nname = \"a\"\nwhen = \"threshold\"\ncommunity = 99999999999\nabove = 0.1\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"rate\"\ncommunity = 1\nabove = 0.1\nwindow = 1\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"rate\"\ncommunity = 1\nabove = 0.1\nper = \"second\"\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"new_community\"\nmin_fraction = 2\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\ntolerance = -0.1\naction = \"stop\"",
        "[[rule]]\nname = \"a\"\nwhen = \"unchanged\"\naction = { do = \"acquire_roi\", goal = \"boundary\", magnification = 2, class = \"x\", community = 1 }",
        "[[rule]]\nname = \"ünïcödé ✓\"\nwhen = 7\naction = \"stop\"",
    ] {
        let e = Policy::parse(text, "odd.toml").unwrap_err();
        assert!(e.line().is_some(), "{text:?}: {e}");
        assert!(e.to_string().starts_with("odd.toml, line "), "{e}");
    }
}
