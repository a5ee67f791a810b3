//! Few-shot classes on the wire: a frame's classes beside its communities ([`FrameClasses`],
//! in [`crate::Segmented`] and [`crate::FrameResult`]), and a named classifier's record in KV
//! `tessera_classifiers` ([`ClassifierRecord`]).
//!
//! A classifier's body (the `tessera_fewshot::Classifier`: feature space, examples, fitted
//! model) can be megabytes, more than a NATS message, so it lives in the object store
//! `tessera_classifiers` under a name that holds its digest; the KV record names it. Every
//! save is a new revision of the record, and the bucket keeps [`CLASSIFIER_HISTORY`] of
//! them: who changed a classifier and when.

use serde::{Deserialize, Serialize};

use crate::{
    Limits, MessageKind, ObjectRef, ProtocolError, le::le_bytes_to_u32s, messages::impl_message,
    validate::Check,
};

/// Most classes a classifier may have.
pub const MAX_CLASSES: usize = 256;

/// Revisions of each classifier that KV `tessera_classifiers` keeps.
pub const CLASSIFIER_HISTORY: i64 = 64;

/// One class: its name and colour, both the user's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassName {
    /// The class's name ("oxide", "crack").
    pub name: String,
    /// Its colour in the class overlay, `#rrggbb`.
    pub color: String,
}

/// One class of a classified frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassWire {
    /// The class's name.
    pub name: String,
    /// Its colour, `#rrggbb`.
    pub color: String,
    /// Chips assigned to it.
    pub chips: u32,
    /// Fraction of the frame's pixels painted with it, `0..=1`.
    pub area_fraction: f64,
}

/// Checks one class's name (1–64 characters) and colour (`#rrggbb`), at `at`.
fn check_class(c: Check, at: &str, name: &str, color: &str) -> Result<(), ProtocolError> {
    c.text(&format!("{at}.name"), name, 64, false)?;
    c.color(&format!("{at}.color"), color)
}

/// Checks a classifier's classes: 1–[`MAX_CLASSES`] of them, each named and coloured.
fn check_class_names(c: Check, classes: &[ClassName]) -> Result<(), ProtocolError> {
    c.int_within("classes", classes.len() as u64, 1, MAX_CLASSES as u64)?;
    for (i, class) in classes.iter().enumerate() {
        check_class(c, &format!("classes[{i}]"), &class.name, &class.color)?;
    }
    Ok(())
}

/// A frame classified with a named classifier, or why it could not be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameClasses {
    /// The classifier's name.
    pub classifier: String,
    /// The revision of its KV record that classified the frame.
    #[serde(default)]
    pub revision: u64,
    /// Every class, in the classifier's order (class `i` is label `i`).
    #[serde(default)]
    pub classes: Vec<ClassWire>,
    /// Chips far from every class ("unknown").
    #[serde(default)]
    pub unknown_chips: u32,
    /// Fraction of the pixels that are unknown.
    #[serde(default)]
    pub unknown_fraction: f64,
    /// One class per chip, grid order, little-endian `u32`; `classes.len()` is unknown.
    #[serde(default, with = "serde_bytes")]
    pub chip_classes: Vec<u8>,
    /// The class map in `tessera_outputs`: a 16-bit gray TIFF of class indices, 65535 =
    /// unknown.
    #[serde(default)]
    pub labels: Option<ObjectRef>,
    /// The class overlay in `tessera_outputs` (PNG), added by the publisher.
    #[serde(default)]
    pub overlay: Option<ObjectRef>,
    /// Set when the frame could not be classified (no such classifier, another model's
    /// classifier, ...): what went wrong and the way out. The communities are unaffected.
    #[serde(default)]
    pub error: Option<String>,
}

impl FrameClasses {
    /// A frame that could not be classified with `classifier`, and why.
    pub fn failed(classifier: &str, error: String) -> Self {
        FrameClasses {
            classifier: classifier.to_string(),
            revision: 0,
            classes: Vec::new(),
            unknown_chips: 0,
            unknown_fraction: 0.0,
            chip_classes: Vec::new(),
            labels: None,
            overlay: None,
            error: Some(error),
        }
    }

    /// The chip classes, checked: whole `u32`s, each at most `classes.len()` (unknown).
    pub fn chip_classes_u32(&self) -> Result<Vec<u32>, ProtocolError> {
        let classes = le_bytes_to_u32s("chip classes", &self.chip_classes, None)?;
        let unknown = self.classes.len() as u32;
        if let Some(i) = classes.iter().position(|&l| l > unknown) {
            return Err(ProtocolError::Bytes {
                what: "chip classes",
                reason: format!(
                    "chip {i} has class {}, above the unknown class {unknown}",
                    classes[i]
                ),
            });
        }
        Ok(classes)
    }

    pub(crate) fn check_in(&self, c: Check, at: &str) -> Result<(), ProtocolError> {
        let f = |name: &str| format!("{at}.{name}");
        c.token(&f("classifier"), &self.classifier)?;
        if self.classes.len() > MAX_CLASSES {
            return Err(c.fail(
                &f("classes"),
                format!("has {} entries, over {MAX_CLASSES}", self.classes.len()),
            ));
        }
        for (i, class) in self.classes.iter().enumerate() {
            let at = f(&format!("classes[{i}]"));
            check_class(c, &at, &class.name, &class.color)?;
            c.within(
                &format!("{at}.area_fraction"),
                class.area_fraction,
                0.0,
                1.0,
            )?;
        }
        c.within(&f("unknown_fraction"), self.unknown_fraction, 0.0, 1.0)?;
        self.chip_classes_u32()
            .map_err(|e| c.fail(&f("chip_classes"), e.to_string()))?;
        for (name, o) in [("labels", &self.labels), ("overlay", &self.overlay)] {
            if let Some(o) = o {
                o.check_in(c, &f(name))?;
            }
        }
        if let Some(e) = &self.error {
            c.text(&f("error"), e, crate::MAX_TEXT_LEN, false)?;
        }
        Ok(())
    }
}

/// A named classifier as KV `tessera_classifiers` holds it (key: its name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierRecord {
    /// Record version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The classifier's name (a subject token).
    pub name: String,
    /// Its classes, in order.
    pub classes: Vec<ClassName>,
    /// How it classifies ("logistic", "prototypes", "propagation").
    pub method: String,
    /// The digest of the model whose embeddings it classifies.
    pub model_digest: String,
    /// Chip side in pixels it was made at.
    pub chip: u32,
    /// Labelled chips it learned from.
    pub examples: u32,
    /// Its body (msgpack `tessera_fewshot::Classifier`) in object store
    /// `tessera_classifiers`.
    pub body: ObjectRef,
    /// Who saved this revision.
    pub edited_by: String,
    /// When, milliseconds since the Unix epoch.
    pub edited_at_ms: u64,
    /// What changed, in the editor's words.
    #[serde(default)]
    pub note: String,
}

impl ClassifierRecord {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.token("name", &self.name)?;
        check_class_names(c, &self.classes)?;
        c.text("method", &self.method, 32, false)?;
        c.text("model_digest", &self.model_digest, 128, false)?;
        c.int_within("chip", self.chip.into(), 1, 4096)?;
        self.body.check_in(c, "body")?;
        c.text("edited_by", &self.edited_by, crate::MAX_NAME_LEN, false)?;
        c.text("note", &self.note, crate::MAX_TEXT_LEN, true)
    }
}
impl_message!(ClassifierRecord, MessageKind::ClassifierRecord);

/// Most labelled pixels one request may carry.
pub const MAX_LABEL_POINTS: usize = 1 << 20;

/// Labels painted on a frame of a live run (dashboard → clusterer, a request on
/// `tessera.classify.<run>`): make classifier `name` from them on that frame's embeddings,
/// classify the run's frames with it from now on, and re-classify this frame at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyRequest {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The run.
    pub run: crate::RunId,
    /// The frame painted on.
    pub seq: u64,
    /// The classifier's name (a subject token).
    pub name: String,
    /// How it classifies ("logistic", "prototypes", "propagation").
    pub method: String,
    /// The classes, in order.
    pub classes: Vec<ClassName>,
    /// Labelled pixels `(x, y, class index)`.
    pub points: Vec<(u32, u32, u32)>,
    /// Who painted them.
    pub edited_by: String,
    /// What changed, in the editor's words.
    #[serde(default)]
    pub note: String,
}

impl ClassifyRequest {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        c.token("name", &self.name)?;
        c.text("method", &self.method, 32, false)?;
        check_class_names(c, &self.classes)?;
        c.int_within(
            "points",
            self.points.len() as u64,
            1,
            MAX_LABEL_POINTS as u64,
        )?;
        if let Some(i) = (self.points.iter()).position(|p| p.2 as usize >= self.classes.len()) {
            return Err(c.fail(
                &format!("points[{i}]"),
                format!(
                    "has class {}, but there are {} classes",
                    self.points[i].2,
                    self.classes.len()
                ),
            ));
        }
        c.text("edited_by", &self.edited_by, crate::MAX_NAME_LEN, false)?;
        c.text("note", &self.note, crate::MAX_TEXT_LEN, true)
    }
}
impl_message!(ClassifyRequest, MessageKind::ClassifyRequest);

/// The answer to a [`ClassifyRequest`]: the classifier's new revision and the frame's
/// classes, or why it could not be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyReply {
    /// Message version ([`crate::PROTOCOL_VERSION`]).
    pub version: u16,
    /// The revision of the classifier's KV record saved.
    #[serde(default)]
    pub revision: u64,
    /// The painted frame, classified.
    #[serde(default)]
    pub classes: Option<FrameClasses>,
    /// Why nothing was made (what to do instead), when nothing was.
    #[serde(default)]
    pub error: Option<String>,
}

impl ClassifyReply {
    fn check(&self, _limits: &Limits, c: Check) -> Result<(), ProtocolError> {
        if let Some(k) = &self.classes {
            k.check_in(c, "classes")?;
        }
        if let Some(e) = &self.error {
            c.text("error", e, crate::MAX_TEXT_LEN, false)?;
        }
        Ok(())
    }
}
impl_message!(ClassifyReply, MessageKind::ClassifyReply);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, encode_message, u32s_to_le_bytes};

    fn record() -> ClassifierRecord {
        ClassifierRecord {
            version: crate::PROTOCOL_VERSION,
            name: "oxide-2026".into(),
            classes: vec![ClassName {
                name: "oxide".into(),
                color: "#ff0000".into(),
            }],
            method: "logistic".into(),
            model_digest: "sha256:ab".into(),
            chip: 64,
            examples: 3,
            body: ObjectRef {
                bucket: "tessera_classifiers".into(),
                name: "oxide-2026/ab12".into(),
                size: 10,
                digest: None,
            },
            edited_by: "alice".into(),
            edited_at_ms: 1,
            note: String::new(),
        }
    }

    #[test]
    fn a_record_round_trips_and_bad_fields_are_named() {
        let limits = Limits::default();
        let r = record();
        let bytes = encode_message(&r, &limits).unwrap();
        assert_eq!(decode::<ClassifierRecord>(&bytes, &limits).unwrap(), r);
        let bad = ClassifierRecord {
            name: "has space".into(),
            ..record()
        };
        let err = encode_message(&bad, &limits).unwrap_err().to_string();
        assert!(err.contains("name"), "{err}");
        let bad = ClassifierRecord {
            classes: vec![ClassName {
                name: "x".into(),
                color: "red".into(),
            }],
            ..record()
        };
        let err = encode_message(&bad, &limits).unwrap_err().to_string();
        assert!(err.contains("#rrggbb"), "{err}");
    }

    #[test]
    fn chip_classes_above_unknown_are_refused() {
        let mut f = FrameClasses::failed("c", "x".into());
        f.error = None;
        f.classes = vec![ClassWire {
            name: "a".into(),
            color: "#000000".into(),
            chips: 1,
            area_fraction: 1.0,
        }];
        f.chip_classes = u32s_to_le_bytes(&[0, 1]);
        f.check_in(Check::new(MessageKind::FrameResult), "classes")
            .unwrap();
        f.chip_classes = u32s_to_le_bytes(&[0, 2]);
        let err = f
            .check_in(Check::new(MessageKind::FrameResult), "classes")
            .unwrap_err()
            .to_string();
        assert!(err.contains("above the unknown class 1"), "{err}");
    }
}
