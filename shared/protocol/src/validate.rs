//! Checks shared by the ids and the messages: subject tokens, text, numbers.

use std::collections::BTreeMap;

use crate::{MessageKind, ProtocolError, error::shorten};

/// Longest id or subject token, in characters.
pub const MAX_TOKEN_LEN: usize = 64;
/// Longest free text (messages, reasons, metadata values), in characters.
pub const MAX_TEXT_LEN: usize = 4096;
/// Longest short name (sample, modality, model, metadata keys), in characters.
pub const MAX_NAME_LEN: usize = 256;
/// Most entries in a metadata or scalar map.
pub const MAX_MAP_ENTRIES: usize = 256;

/// Checks that `value` can be a NATS subject token and a KV key part: 1–[`MAX_TOKEN_LEN`]
/// characters of `[A-Za-z0-9_-]`. `what` names it in the error ("run id").
pub fn check_token(what: &'static str, value: &str) -> Result<(), ProtocolError> {
    let bad = |reason: String| {
        Err(ProtocolError::InvalidToken {
            what,
            value: shorten(value, 80),
            reason,
        })
    };
    if value.is_empty() {
        return bad("it is empty".into());
    }
    let len = value.chars().count();
    if len > MAX_TOKEN_LEN {
        return bad(format!(
            "it is {len} characters long, over the limit of {MAX_TOKEN_LEN}"
        ));
    }
    if let Some((i, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        let why = match c {
            '.' => "which separates NATS subject tokens",
            '*' | '>' => "which is a NATS wildcard",
            c if c.is_whitespace() => "(whitespace), which NATS subjects cannot hold",
            _ => "which is not allowed",
        };
        return bad(format!("character {c:?} at position {i} {why}"));
    }
    Ok(())
}

/// Whether [`check_token`] accepts `value`.
pub fn is_valid_token(value: &str) -> bool {
    check_token("token", value).is_ok()
}

/// Field checks for one message kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Check {
    pub(crate) kind: MessageKind,
}

impl Check {
    pub(crate) fn new(kind: MessageKind) -> Check {
        Check { kind }
    }

    pub(crate) fn fail(&self, field: &str, reason: impl Into<String>) -> ProtocolError {
        ProtocolError::invalid(self.kind, field, reason)
    }

    /// Text of at most `max` characters with no control characters; empty allowed or not.
    pub(crate) fn text(
        &self,
        field: &str,
        value: &str,
        max: usize,
        allow_empty: bool,
    ) -> Result<(), ProtocolError> {
        if !allow_empty && value.trim().is_empty() {
            return Err(self.fail(field, "is empty; set it"));
        }
        let len = value.chars().count();
        if len > max {
            return Err(self.fail(
                field,
                format!("is {len} characters long, over the limit of {max}; shorten it"),
            ));
        }
        if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(self.fail(field, "contains control characters; remove them"));
        }
        Ok(())
    }

    /// A subject token (bucket names, service names).
    pub(crate) fn token(&self, field: &str, value: &str) -> Result<(), ProtocolError> {
        check_token("token", value).map_err(|e| self.fail(field, e.to_string()))
    }

    /// A colour written `#rrggbb`.
    pub(crate) fn color(&self, field: &str, value: &str) -> Result<(), ProtocolError> {
        let hex = value.strip_prefix('#').unwrap_or("");
        if hex.len() == 6 && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err(self.fail(field, format!("is {value:?}; write colours as #rrggbb")))
        }
    }

    /// A finite number.
    pub(crate) fn finite(&self, field: &str, value: f64) -> Result<(), ProtocolError> {
        if value.is_finite() {
            Ok(())
        } else {
            Err(self.fail(field, format!("is {value}; send a finite number")))
        }
    }

    /// A finite number within `lo..=hi`.
    pub(crate) fn within(
        &self,
        field: &str,
        value: f64,
        lo: f64,
        hi: f64,
    ) -> Result<(), ProtocolError> {
        if value.is_finite() && value >= lo && value <= hi {
            Ok(())
        } else {
            Err(self.fail(
                field,
                format!("is {value}, outside the allowed range {lo}..={hi}"),
            ))
        }
    }

    /// An integer within `lo..=hi`.
    pub(crate) fn int_within(
        &self,
        field: &str,
        value: u64,
        lo: u64,
        hi: u64,
    ) -> Result<(), ProtocolError> {
        if (lo..=hi).contains(&value) {
            Ok(())
        } else {
            Err(self.fail(
                field,
                format!("is {value}, outside the allowed range {lo}..={hi}"),
            ))
        }
    }

    /// A string map with bounded size, keys and values.
    pub(crate) fn string_map(
        &self,
        field: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<(), ProtocolError> {
        self.map_len(field, map.len())?;
        for (k, v) in map {
            self.text(&format!("{field} key"), k, MAX_NAME_LEN, false)?;
            self.text(&format!("{field}[{k:?}]"), v, MAX_TEXT_LEN, true)?;
        }
        Ok(())
    }

    /// A number map with bounded size and keys, and finite values.
    pub(crate) fn number_map(
        &self,
        field: &str,
        map: &BTreeMap<String, f64>,
    ) -> Result<(), ProtocolError> {
        self.map_len(field, map.len())?;
        for (k, v) in map {
            self.text(&format!("{field} key"), k, MAX_NAME_LEN, false)?;
            self.finite(&format!("{field}[{k:?}]"), *v)?;
        }
        Ok(())
    }

    /// Stage timings: named, finite, non-negative milliseconds, at most 64 of them.
    pub(crate) fn timings(
        &self,
        field: &str,
        timings: &[(String, f64)],
    ) -> Result<(), ProtocolError> {
        self.map_len(field, timings.len())?;
        if timings.len() > 64 {
            return Err(self.fail(
                field,
                format!("has {} entries, over the limit of 64", timings.len()),
            ));
        }
        for (name, ms) in timings {
            self.text(&format!("{field} name"), name, 64, false)?;
            self.within(&format!("{field}[{name:?}]"), *ms, 0.0, f64::MAX)?;
        }
        Ok(())
    }

    fn map_len(&self, field: &str, len: usize) -> Result<(), ProtocolError> {
        if len > MAX_MAP_ENTRIES {
            return Err(self.fail(
                field,
                format!("has {len} entries, over the limit of {MAX_MAP_ENTRIES}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        for good in ["a", "run-001", "HAADF_2024-01-01T12-00", &"x".repeat(64)] {
            assert!(is_valid_token(good), "{good}");
        }
        for bad in [
            "",
            "a.b",
            "a*",
            ">",
            "a b",
            "tab\t",
            "é",
            &"x".repeat(65),
            "a/b",
        ] {
            assert!(!is_valid_token(bad), "{bad:?}");
        }
        let e = check_token("run id", "a.b").unwrap_err().to_string();
        assert!(
            e.contains("run id") && e.contains("'.'") && e.contains("use 1 to 64"),
            "{e}"
        );
    }
}
