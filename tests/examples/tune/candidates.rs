//! Candidate settings from a TOML file: each `[[candidate]]` overrides the default
//! `SegmentParams` (or GraphEM's, with `preset = "graphem"`), and its `sweep` table lists
//! values to try, every combination becoming one candidate.
//!
//! ```toml
//! [[candidate]]
//! name = "k-NN sweep"
//! confidence_vote = true
//! [candidate.sweep]
//! resolution = [0.1, 0.3, 1.0]
//! "graph.k" = [10, 30]      # a dotted key reaches into a table
//! ```

use std::path::Path;

use serde_json::{Map, Value};
use tessera_segment::SegmentParams;

/// One setting to measure.
pub(crate) struct Candidate {
    pub(crate) name: String,
    pub(crate) params: SegmentParams,
}

/// The candidates of a TOML file; `None` reads the defaults alone.
pub(crate) fn load(path: Option<&Path>) -> Vec<Candidate> {
    let Some(path) = path else {
        return vec![Candidate {
            name: "defaults".into(),
            params: SegmentParams::default(),
        }];
    };
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    let doc = serde_json::to_value(doc).expect("TOML is JSON-representable");
    let list = doc["candidate"]
        .as_array()
        .unwrap_or_else(|| panic!("{} has no [[candidate]] entries", path.display()));
    list.iter().flat_map(expand).collect()
}

/// One `[[candidate]]` entry, expanded over its sweep.
fn expand(entry: &Value) -> Vec<Candidate> {
    let mut fixed = entry.as_object().cloned().unwrap_or_default();
    let name = fixed
        .remove("name")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "candidate".into());
    let base = match fixed.remove("preset").as_ref().and_then(Value::as_str) {
        Some("graphem") => SegmentParams::graphem(),
        Some("default") | None => SegmentParams::default(),
        Some(other) => panic!("{name}: unknown preset {other:?} (default or graphem)"),
    };
    let sweep: Vec<(String, Vec<Value>)> = fixed
        .remove("sweep")
        .and_then(|s| s.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let values = v
                .as_array()
                .cloned()
                .unwrap_or_else(|| panic!("{name}: sweep.{k} must be a list"));
            (k, values)
        })
        .collect();
    let mut base = serde_json::to_value(&base).expect("params serialise");
    merge(&mut base, &Value::Object(fixed));
    let mut out = Vec::new();
    let combos: usize = sweep.iter().map(|(_, v)| v.len()).product();
    for i in 0..combos {
        let mut value = base.clone();
        let mut label = Vec::new();
        let mut rest = i;
        for (key, values) in &sweep {
            let v = &values[rest % values.len()];
            rest /= values.len();
            set_path(&mut value, key, v.clone());
            label.push(format!("{key}={v}"));
        }
        let params: SegmentParams = serde_json::from_value(value)
            .unwrap_or_else(|e| panic!("{name}: not valid parameters: {e}"));
        if let Err(e) = params.validate() {
            // A sweep may cross into combinations that cannot work (a stride above the chip).
            eprintln!("skipping {name} {}: {e}", label.join(" "));
            continue;
        }
        let name = if label.is_empty() {
            name.clone()
        } else {
            format!("{name} {}", label.join(" "))
        };
        out.push(Candidate { name, params });
    }
    out
}

/// Overlays `top` onto `base`, table by table.
fn merge(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in t {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, t) => *b = t.clone(),
    }
}

/// Sets `value` at a dotted `path`, creating tables on the way.
fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut at = root;
    for part in path.split('.') {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(part.to_string())
            .or_insert(Value::Null);
    }
    merge(at, &value);
}
