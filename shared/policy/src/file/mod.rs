//! The policy file: its TOML shape, parsed with the position of every value, and the checks
//! that make a [`Policy`] out of it.

mod action;
mod rule;

use std::collections::BTreeMap;

use serde::Deserialize;
use tessera_protocol::MAX_POLICY_BYTES;
use toml::Spanned;

use crate::error::{PolicyError, Source};
use crate::rules::{ActionSpec, MAX_RULES, Rule, Target};

/// A checked policy: named rules, evaluated in their order on every frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Its name, when the file gives one.
    pub name: Option<String>,
    /// Its rules, in the file's order (at least one, at most [`MAX_RULES`]).
    pub rules: Vec<Rule>,
    /// Where it came from ("irradiation.toml", "KV run.r1"), for messages.
    pub origin: String,
}

impl Policy {
    /// Parses and checks `text`; `origin` names it in errors ("irradiation.toml", "KV run.r1").
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                origin: origin.to_string(),
                bytes: text.len(),
                max: MAX_POLICY_BYTES,
            });
        }
        let src = Source { text, origin };
        // Syntax first, so that its errors say so; then the policy's shape.
        if let Err(e) = toml::from_str::<toml::Table>(text) {
            return Err(src.syntax(e.span(), e.message()));
        }
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().unwrap_or(0..0);
            let message = reword(e.message());
            match key_before(text, at.start) {
                Some(key) if message.starts_with("invalid") => {
                    src.invalid(&at, format!("`{key}`: {message}"))
                }
                _ => src.invalid(&at, message),
            }
        })?;

        let name = match &raw.name {
            Some(n) => Some(rule::text(&src, n, "name", 128)?),
            None => None,
        };
        if raw.rule.is_empty() {
            return Err(src.invalid(
                &(0..0),
                "the policy has no rules; add at least one `[[rule]]` table with a `name`, a \
                 `when` and an `action` (see docs/policies.md)",
            ));
        }
        if let Some(extra) = raw.rule.get(MAX_RULES) {
            return Err(src.invalid(
                &extra.span(),
                format!(
                    "the policy has {} rules, more than the {MAX_RULES} allowed; merge or drop some",
                    raw.rule.len()
                ),
            ));
        }

        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rule.len());
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for spanned in &raw.rule {
            let r = rule::check(&src, spanned)?;
            if let Some(first) = names.get(&r.name) {
                let at = spanned
                    .get_ref()
                    .name
                    .as_ref()
                    .map_or(spanned.span(), |n| n.span());
                return Err(src.invalid(
                    &at,
                    format!(
                        "a rule named \"{}\" already exists (line {first}); rule names must be \
                         unique, rename one of them",
                        r.name
                    ),
                ));
            }
            names.insert(r.name.clone(), r.line);
            if let Some(other) = contradicted_by(&rules, &r) {
                return Err(src.invalid(
                    &spanned.span(),
                    format!(
                        "rule \"{}\" asks to {} on the same condition ({}) on which rule \"{}\" \
                         (line {}) asks to {}; remove one, or make their conditions differ",
                        r.name,
                        r.action.as_str(),
                        r.condition.fingerprint(),
                        other.name,
                        other.line,
                        other.action.as_str()
                    ),
                ));
            }
            rules.push(r);
        }
        Ok(Policy {
            name,
            rules,
            origin: origin.to_string(),
        })
    }

    /// Whether any rule targets a class (so the decider can say "this run has no classifier").
    pub fn needs_classes(&self) -> bool {
        self.rules.iter().any(|r| {
            let acts_on_class = matches!(
                r.action,
                ActionSpec::AcquireRoi {
                    target: Some(Target::Class(_)),
                    ..
                }
            );
            acts_on_class || matches!(r.condition.target(), Some(Target::Class(_)))
        })
    }
}

/// An earlier rule with the same condition whose action is the opposite (stop / continue).
fn contradicted_by<'a>(earlier: &'a [Rule], rule: &Rule) -> Option<&'a Rule> {
    let opposite = match rule.action {
        ActionSpec::Stop => ActionSpec::Continue,
        ActionSpec::Continue => ActionSpec::Stop,
        _ => return None,
    };
    let fingerprint = rule.condition.fingerprint();
    earlier
        .iter()
        .find(|o| o.action == opposite && o.condition.fingerprint() == fingerprint)
}

/// Serde's words for a misshapen file, in the file's words.
fn reword(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        if let Some((key, allowed)) = rest.split_once(", expected ") {
            let allowed = allowed.strip_prefix("one of ").unwrap_or(allowed);
            return format!(
                "unknown key {key}; check its spelling: the keys allowed here are {allowed}"
            );
        }
    }
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace(
            "expected a sequence",
            "expected `[[rule]]` tables (an array of tables)",
        )
}

/// The key whose value starts at `offset` (`frames` in `frames = "two"`), read back from the
/// text before it on its line.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let (key, _) = line.rsplit_once('=')?;
    let key = key.rsplit([',', '{']).next()?.trim();
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"'));
    plain.then_some(key)
}

/// The file as written: every value with its position.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<Spanned<String>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

/// One `[[rule]]` table as written; which keys apply depends on `when`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    when: Option<Spanned<String>>,
    class: Option<Spanned<String>>,
    community: Option<Spanned<i64>>,
    above: Option<Spanned<f64>>,
    below: Option<Spanned<f64>>,
    frames: Option<Spanned<i64>>,
    release: Option<Spanned<f64>>,
    window: Option<Spanned<i64>>,
    per: Option<Spanned<String>>,
    min_fraction: Option<Spanned<f64>>,
    margin: Option<Spanned<f64>>,
    area: Option<Spanned<f64>>,
    tolerance: Option<Spanned<f64>>,
    action: Option<Spanned<toml::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_are_reworded() {
        let m = reword("unknown field `treshold`, expected one of `name`, `when`");
        assert_eq!(
            m,
            "unknown key `treshold`; check its spelling: the keys allowed here are `name`, `when`"
        );
        assert!(reword("invalid type: string \"a\", expected i64").contains("whole number"));
        let text = "frames = \"two\"\naction = { do = 5 }";
        assert_eq!(key_before(text, 9), Some("frames"));
        assert_eq!(key_before(text, 31), Some("do"));
        assert_eq!(key_before(text, 0), None);
    }
}
