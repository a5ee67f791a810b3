//! A rule's `action`, a name or a `{ do = … }` table, checked into an [`ActionSpec`].

use std::ops::Range;

use tessera_protocol::RoiGoal;
use toml::{Spanned, Value};

use super::rule::{a, list, text_of};
use crate::error::{PolicyError, Source};
use crate::rules::{ACTIONS, ActionSpec, Target};

/// The keys each action table takes.
fn keys_of(action: &str) -> &'static [&'static str] {
    match action {
        "notify" => &["do", "message"],
        "change_dose_rate" => &["do", "factor"],
        "acquire_roi" => &["do", "goal", "magnification", "community", "class"],
        _ => &["do"],
    }
}

/// How each action is written, for messages.
fn example(action: &str) -> &'static str {
    match action {
        "notify" => "action = { do = \"notify\", message = \"…\" }",
        "change_dose_rate" => "action = { do = \"change_dose_rate\", factor = 2.0 }",
        "acquire_roi" => "action = { do = \"acquire_roi\", goal = \"rarest\", magnification = 4 }",
        "continue" => "action = \"continue\"",
        _ => "action = \"stop\"",
    }
}

/// Checks one `action` value.
pub(super) fn check(src: &Source<'_>, v: &Spanned<Value>) -> Result<ActionSpec, PolicyError> {
    let at = v.span();
    let table = match v.get_ref() {
        Value::String(s) => {
            return match s.as_str() {
                "stop" => Ok(ActionSpec::Stop),
                "continue" => Ok(ActionSpec::Continue),
                other if ACTIONS.contains(&other) => Err(src.invalid(
                    &at,
                    format!("`{other}` needs its details in a table: {}", example(other)),
                )),
                other => Err(unknown(src, &at, other)),
            };
        }
        Value::Table(t) => t,
        _ => {
            return Err(src.invalid(
                &at,
                "`action` must be \"stop\", \"continue\" or a table such as { do = \"notify\", \
                 message = \"…\" }",
            ));
        }
    };
    let action = match table.get("do") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(src.invalid(&at, "`do` must be a name in quotes, e.g. do = \"stop\""));
        }
        None => {
            return Err(src.invalid(
                &at,
                format!(
                    "the action table has no `do`; say what to do: {}",
                    list(&ACTIONS)
                ),
            ));
        }
    };
    if !ACTIONS.contains(&action) {
        return Err(unknown(src, &at, action));
    }
    let allowed = keys_of(action);
    if let Some(key) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
        let takes: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
        return Err(src.invalid(
            &at,
            format!(
                "{} action takes no `{key}`; remove it (it takes {})",
                a(action),
                takes.join(", ")
            ),
        ));
    }
    match action {
        "stop" => Ok(ActionSpec::Stop),
        "continue" => Ok(ActionSpec::Continue),
        "notify" => {
            let message = match table.get("message") {
                Some(Value::String(m)) => text_of(src, m, &at, "message", 1000, true)?,
                Some(_) => {
                    return Err(src.invalid(&at, "`message` must be text in quotes"));
                }
                None => {
                    return Err(src.invalid(
                        &at,
                        format!("a notify action needs a `message`: {}", example("notify")),
                    ));
                }
            };
            Ok(ActionSpec::Notify { message })
        }
        "change_dose_rate" => {
            let factor = number(src, &at, table.get("factor"), "factor", "change_dose_rate")?;
            if !(1e-6..=100.0).contains(&factor) {
                return Err(src.invalid(
                    &at,
                    format!(
                        "`factor = {factor}` is out of range: it multiplies the dose rate, so it \
                         must be above 0 (at least 0.000001) and at most 100; 0.5 halves it, 2 \
                         doubles it"
                    ),
                ));
            }
            Ok(ActionSpec::ChangeDoseRate { factor })
        }
        _ => acquire_roi(src, &at, table),
    }
}

fn acquire_roi(
    src: &Source<'_>,
    at: &Range<usize>,
    table: &toml::Table,
) -> Result<ActionSpec, PolicyError> {
    let names: Vec<&str> = RoiGoal::ALL.iter().map(|g| g.as_str()).collect();
    let goal = match table.get("goal") {
        Some(Value::String(g)) => match RoiGoal::ALL.into_iter().find(|x| x.as_str() == g) {
            Some(goal) => goal,
            None => {
                return Err(src.invalid(
                    at,
                    format!("unknown goal = \"{g}\"; the goals are {}", list(&names)),
                ));
            }
        },
        Some(_) => return Err(src.invalid(at, "`goal` must be a name in quotes")),
        None => {
            return Err(src.invalid(
                at,
                format!("an acquire_roi action needs a `goal`: {}", list(&names)),
            ));
        }
    };
    let magnification = number(
        src,
        at,
        table.get("magnification"),
        "magnification",
        "acquire_roi",
    )?;
    if magnification <= 1.0 || magnification > 1000.0 {
        return Err(src.invalid(
            at,
            format!(
                "`magnification = {magnification}` is out of range: it is relative to the \
                 frame's, so it must be above 1 (a zoom in) and at most 1000"
            ),
        ));
    }
    let target = match (table.get("community"), table.get("class")) {
        (Some(_), Some(_)) => {
            return Err(src.invalid(
                at,
                "both `community` and `class`: a boundary is of one target; keep one of them",
            ));
        }
        (Some(Value::Integer(id)), None) => match u32::try_from(*id) {
            Ok(id) => Some(Target::Community(id)),
            Err(_) => {
                return Err(src.invalid(
                    at,
                    format!(
                        "`community = {id}` is not a community id: ids are whole numbers from 0 \
                         to {}",
                        u32::MAX
                    ),
                ));
            }
        },
        (Some(_), None) => {
            return Err(src.invalid(at, "`community` must be a whole number (an id)"));
        }
        (None, Some(Value::String(c))) => {
            Some(Target::Class(text_of(src, c, at, "class", 64, false)?))
        }
        (None, Some(_)) => return Err(src.invalid(at, "`class` must be a name in quotes")),
        (None, None) => None,
    };
    match (goal, &target) {
        (RoiGoal::Boundary, None) => Err(src.invalid(
            at,
            "goal \"boundary\" needs the boundary of something: add `community = <id>` or \
             `class = \"<name>\"` to the action",
        )),
        (RoiGoal::Boundary, Some(_)) | (_, None) => Ok(ActionSpec::AcquireRoi {
            goal,
            magnification,
            target,
        }),
        (other, Some(_)) => Err(src.invalid(
            at,
            format!(
                "goal \"{}\" takes no `community` or `class` (only goal \"boundary\" does); \
                 remove it",
                other.as_str()
            ),
        )),
    }
}

/// A required finite number (whole or not).
fn number(
    src: &Source<'_>,
    at: &Range<usize>,
    v: Option<&Value>,
    key: &str,
    action: &str,
) -> Result<f64, PolicyError> {
    let value = match v {
        Some(Value::Float(f)) => *f,
        Some(Value::Integer(i)) => *i as f64,
        Some(_) => return Err(src.invalid(at, format!("`{key}` must be a number"))),
        None => {
            return Err(src.invalid(
                at,
                format!("{} action needs `{key}`: {}", a(action), example(action)),
            ));
        }
    };
    if !value.is_finite() {
        return Err(src.invalid(
            at,
            format!("`{key} = {value}` is not a finite number; write a number"),
        ));
    }
    Ok(value)
}

fn unknown(src: &Source<'_>, at: &Range<usize>, name: &str) -> PolicyError {
    src.invalid(
        at,
        format!(
            "unknown action \"{name}\"; the actions are {}",
            list(&ACTIONS)
        ),
    )
}
