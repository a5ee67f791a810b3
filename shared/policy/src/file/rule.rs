//! One `[[rule]]` table checked into a [`Rule`].

use std::ops::Range;

use toml::Spanned;

use super::{RawRule, action};
use crate::error::{PolicyError, Source};
use crate::rules::{Compare, Condition, KINDS, Level, MAX_FRAMES, MAX_WINDOW, Per, Rule, Target};

/// The keys each kind takes, in the order the docs list them.
fn keys_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "threshold" => &[
            "name",
            "when",
            "class",
            "community",
            "above",
            "below",
            "frames",
            "release",
            "action",
        ],
        "rate" => &[
            "name",
            "when",
            "class",
            "community",
            "above",
            "below",
            "frames",
            "release",
            "window",
            "per",
            "action",
        ],
        "new_community" => &["name", "when", "min_fraction", "action"],
        "low_confidence" => &["name", "when", "margin", "area", "frames", "action"],
        _ => &["name", "when", "tolerance", "frames", "action"],
    }
}

impl RawRule {
    /// The kind-dependent keys present, with where their values are.
    fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
            v.as_ref().map(Spanned::span)
        }
        let all = [
            ("class", at(&self.class)),
            ("community", at(&self.community)),
            ("above", at(&self.above)),
            ("below", at(&self.below)),
            ("frames", at(&self.frames)),
            ("release", at(&self.release)),
            ("window", at(&self.window)),
            ("per", at(&self.per)),
            ("min_fraction", at(&self.min_fraction)),
            ("margin", at(&self.margin)),
            ("area", at(&self.area)),
            ("tolerance", at(&self.tolerance)),
        ];
        let mut present: Vec<_> = all
            .into_iter()
            .filter_map(|(k, s)| s.map(|s| (k, s)))
            .collect();
        present.sort_by_key(|(_, s)| s.start);
        present
    }
}

/// Checks one rule table.
pub(super) fn check(src: &Source<'_>, spanned: &Spanned<RawRule>) -> Result<Rule, PolicyError> {
    let header = spanned.span();
    let raw = spanned.get_ref();
    let Some(name) = &raw.name else {
        return Err(src.invalid(
            &header,
            "this rule has no `name`; give it one, e.g. name = \"disordered past half\"",
        ));
    };
    let name = text(src, name, "name", 64)?;
    let Some(when) = &raw.when else {
        return Err(src.invalid(
            &header,
            format!(
                "rule \"{name}\" has no `when`; say what it watches: {}",
                list(&KINDS)
            ),
        ));
    };
    let kind = when.get_ref().as_str();
    if !KINDS.contains(&kind) {
        return Err(src.invalid(
            &when.span(),
            format!(
                "unknown kind when = \"{kind}\"; the kinds are {}",
                list(&KINDS)
            ),
        ));
    }
    let allowed = keys_of(kind);
    if let Some((key, at)) = raw
        .present()
        .into_iter()
        .find(|(k, _)| !allowed.contains(k))
    {
        return Err(src.invalid(
            &at,
            format!(
                "{} rule takes no `{key}`; remove it ({} rule takes {})",
                a(kind),
                a(kind),
                list(allowed)
            ),
        ));
    }
    let Some(action_value) = &raw.action else {
        return Err(src.invalid(
            &header,
            format!(
                "rule \"{name}\" has no `action`; say what to do when it fires, e.g. action = \
                 \"stop\" or action = {{ do = \"notify\", message = \"…\" }}"
            ),
        ));
    };

    let condition = match kind {
        "threshold" => Condition::Threshold(level(src, raw, header.clone(), true)?),
        "rate" => Condition::Rate {
            level: level(src, raw, header.clone(), false)?,
            window: int(src, &raw.window, "window", 3, 2, MAX_WINDOW as i64)? as usize,
            per: per(src, &raw.per)?,
        },
        "new_community" => Condition::NewCommunity {
            min_fraction: fraction(src, &raw.min_fraction, "min_fraction", 0.02, true)?,
        },
        "low_confidence" => Condition::LowConfidence {
            margin: margin(src, &raw.margin)?,
            area: area(src, &raw.area)?,
            frames: frames(src, &raw.frames, 1)?,
        },
        _ => Condition::Unchanged {
            tolerance: fraction(src, &raw.tolerance, "tolerance", 0.01, true)?,
            frames: frames(src, &raw.frames, 3)?,
        },
    };
    let action = action::check(src, action_value)?;
    Ok(Rule {
        name,
        condition,
        action,
        line: src.line(header.start),
    })
}

/// The target, comparison and hysteresis of a threshold (`fraction`: values in 0..=1) or a
/// rate rule.
/// Of two keys that contradict each other, the one written second: where the error points.
fn later(a: Range<usize>, b: Range<usize>) -> Range<usize> {
    if a.start > b.start { a } else { b }
}

fn level(
    src: &Source<'_>,
    raw: &RawRule,
    header: Range<usize>,
    fraction: bool,
) -> Result<Level, PolicyError> {
    let target = match (&raw.class, &raw.community) {
        (Some(c), Some(n)) => {
            return Err(src.invalid(
                &later(c.span(), n.span()),
                "both `class` and `community`: a rule watches one target; keep one of them",
            ));
        }
        (Some(c), None) => Target::Class(text(src, c, "class", 64)?),
        (None, Some(n)) => Target::Community(community(src, n)?),
        (None, None) => {
            return Err(src.invalid(
                &header,
                "this rule watches nothing: give it a target, `class = \"<name>\"` (a few-shot \
                 class) or `community = <id>`",
            ));
        }
    };
    let compare = match (&raw.above, &raw.below) {
        (Some(a), Some(b)) => {
            return Err(src.invalid(
                &later(a.span(), b.span()),
                "both `above` and `below`: a rule compares one way; keep one (write two rules \
                 for a band)",
            ));
        }
        (Some(a), None) => Compare::Above(bound(src, a, "above", fraction)?),
        (None, Some(b)) => Compare::Below(bound(src, b, "below", fraction)?),
        (None, None) => {
            return Err(src.invalid(
                &header,
                "this rule has no threshold: add `above = <value>` or `below = <value>`",
            ));
        }
    };
    let release = match &raw.release {
        None => compare.threshold(),
        Some(r) => {
            let value = bound(src, r, "release", fraction)?;
            let wrong = match compare {
                Compare::Above(t) => value > t,
                Compare::Below(t) => value < t,
            };
            if wrong {
                let (side, way) = match compare {
                    Compare::Above(_) => ("above", "at or below"),
                    Compare::Below(_) => ("below", "at or above"),
                };
                return Err(src.invalid(
                    &r.span(),
                    format!(
                        "`release = {value}` contradicts `{side} = {}`: the rule re-arms once \
                         the value is back past `release`, so it must lie {way} the threshold",
                        compare.threshold()
                    ),
                ));
            }
            value
        }
    };
    Ok(Level {
        target,
        compare,
        frames: frames(src, &raw.frames, 1)?,
        release,
    })
}

/// A finite threshold, within 0..=1 when it is a fraction.
fn bound(
    src: &Source<'_>,
    v: &Spanned<f64>,
    key: &str,
    fraction: bool,
) -> Result<f64, PolicyError> {
    let value = finite(src, v, key)?;
    if fraction && !(0.0..=1.0).contains(&value) {
        return Err(src.invalid(
            &v.span(),
            format!(
                "`{key} = {value}` is not a fraction: area fractions lie from 0 to 1 (0.5 is \
                 half the frame)"
            ),
        ));
    }
    Ok(value)
}

fn finite(src: &Source<'_>, v: &Spanned<f64>, key: &str) -> Result<f64, PolicyError> {
    let value = *v.get_ref();
    if !value.is_finite() {
        return Err(src.invalid(
            &v.span(),
            format!("`{key} = {value}` is not a finite number; write a number"),
        ));
    }
    Ok(value)
}

/// An optional fraction in 0..=1 (`or_zero`: 0 allowed).
fn fraction(
    src: &Source<'_>,
    v: &Option<Spanned<f64>>,
    key: &str,
    default: f64,
    or_zero: bool,
) -> Result<f64, PolicyError> {
    let Some(v) = v else { return Ok(default) };
    let value = finite(src, v, key)?;
    let low_ok = if or_zero { value >= 0.0 } else { value > 0.0 };
    if !low_ok || value > 1.0 {
        let range = if or_zero {
            "from 0 to 1"
        } else {
            "above 0 and at most 1"
        };
        return Err(src.invalid(
            &v.span(),
            format!("`{key} = {value}` is out of range: it is a fraction, {range}"),
        ));
    }
    Ok(value)
}

fn margin(src: &Source<'_>, v: &Option<Spanned<f64>>) -> Result<f64, PolicyError> {
    let Some(v) = v else { return Ok(0.05) };
    let value = finite(src, v, "margin")?;
    if value <= 0.0 {
        return Err(src.invalid(
            &v.span(),
            format!(
                "`margin = {value}` must be above 0: a chip counts as unsure when its confidence \
                 is below it (0.05 is usual)"
            ),
        ));
    }
    Ok(value)
}

fn area(src: &Source<'_>, v: &Option<Spanned<f64>>) -> Result<f64, PolicyError> {
    fraction(src, v, "area", 0.2, false)
}

fn frames(src: &Source<'_>, v: &Option<Spanned<i64>>, default: i64) -> Result<u32, PolicyError> {
    Ok(int(src, v, "frames", default, 1, i64::from(MAX_FRAMES))? as u32)
}

/// An optional whole number within `min..=max`.
fn int(
    src: &Source<'_>,
    v: &Option<Spanned<i64>>,
    key: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, PolicyError> {
    let Some(v) = v else { return Ok(default) };
    let value = *v.get_ref();
    if !(min..=max).contains(&value) {
        let what = match key {
            "frames" => "it counts the consecutive frames the condition must hold",
            "window" => "it counts the frames the slope is fitted over",
            _ => "it is out of range",
        };
        return Err(src.invalid(
            &v.span(),
            format!("`{key} = {value}` is out of range: {what}, from {min} to {max}"),
        ));
    }
    Ok(value)
}

fn per(src: &Source<'_>, v: &Option<Spanned<String>>) -> Result<Per, PolicyError> {
    match v.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("dose") => Ok(Per::Dose),
        Some("frame") => Ok(Per::Frame),
        Some(other) => Err(src.invalid(
            &v.as_ref().map_or(0..0, Spanned::span),
            format!("unknown `per = \"{other}\"`; write per = \"dose\" or per = \"frame\""),
        )),
    }
}

/// A community id (a u32).
pub(super) fn community(src: &Source<'_>, v: &Spanned<i64>) -> Result<u32, PolicyError> {
    u32::try_from(*v.get_ref()).map_err(|_| {
        src.invalid(
            &v.span(),
            format!(
                "`community = {}` is not a community id: ids are whole numbers from 0 to {}",
                v.get_ref(),
                u32::MAX
            ),
        )
    })
}

/// A non-blank text of at most `max` characters without control characters.
pub(super) fn text(
    src: &Source<'_>,
    v: &Spanned<String>,
    key: &str,
    max: usize,
) -> Result<String, PolicyError> {
    text_of(src, v.get_ref(), &v.span(), key, max, false)
}

/// A non-blank text of at most `max` characters without control characters (but for line
/// breaks and tabs, when `multiline`).
pub(super) fn text_of(
    src: &Source<'_>,
    value: &str,
    at: &Range<usize>,
    key: &str,
    max: usize,
    multiline: bool,
) -> Result<String, PolicyError> {
    let problem = if value.trim().is_empty() {
        Some("is empty; write something in it".to_string())
    } else if value.chars().count() > max {
        Some(format!(
            "is {} characters long, more than the {max} allowed; shorten it",
            value.chars().count()
        ))
    } else if value
        .chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
    {
        Some("contains control characters; remove them".to_string())
    } else {
        None
    };
    match problem {
        Some(p) => Err(src.invalid(at, format!("`{key}` {p}"))),
        None => Ok(value.to_string()),
    }
}

/// "a threshold", "an unchanged".
pub(super) fn a(word: &str) -> String {
    let vowel = word.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {word}", if vowel { "an" } else { "a" })
}

/// `"a", "b" or "c"`.
pub(super) fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}
