//! Few-shot classes between messages: a classifier's body to bytes and back, its KV record,
//! and a frame classified with it, as the results carry it.

use sha2::{Digest, Sha256};
use tessera_fewshot::{
    ClassInfo, Classifier, EmbeddedFrame, Examples, FewShotError, Method, chip_examples_from_mask,
    classify_frame, train_on_frame,
};
use tessera_imaging::{ChipGrid, LegendEntry, NO_LABEL, Raster, color_hex, parse_color_hex};
use tessera_protocol::{
    ClassName, ClassWire, ClassifierRecord, ClassifyRequest, FrameClasses, ObjectRef,
    PROTOCOL_VERSION, u32s_to_le_bytes,
};
use tessera_segment::SegmentParams;

use crate::PipelineError;

/// A classifier's body as stored: named-field msgpack.
pub fn encode_classifier(c: &Classifier) -> Result<Vec<u8>, PipelineError> {
    rmp_serde::to_vec_named(c)
        .map_err(|e| PipelineError::Inconsistent(format!("classifier {}: {e}", c.name)))
}

/// A stored classifier body back; `name` is the classifier it should be.
pub fn decode_classifier(bytes: &[u8], name: &str) -> Result<Classifier, PipelineError> {
    let c: Classifier = rmp_serde::from_slice(bytes).map_err(|e| {
        PipelineError::Inconsistent(format!(
            "the stored body of classifier {name} is unreadable ({e}); save it again with \
             `tessera classifier put`"
        ))
    })?;
    if c.name != name {
        return Err(PipelineError::Inconsistent(format!(
            "the body stored for classifier {name} is classifier {}; save it again",
            c.name
        )));
    }
    Ok(c)
}

/// The first 16 hex digits of the SHA-256 of a body: its object's name part.
pub fn body_digest(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The colour of `#rrggbb`; black for anything else (the protocol checks colours).
fn parse_hex(color: &str) -> [u8; 3] {
    parse_color_hex(color).unwrap_or_default()
}

/// The class overlay's legend (`"oxide  61.2 %"`, then the unknown share) and its colours,
/// class `i` in `colours[i]`.
pub fn class_legend(classes: &FrameClasses) -> (Vec<LegendEntry>, Vec<[u8; 3]>) {
    let mut legend: Vec<LegendEntry> = (classes.classes.iter().enumerate())
        .map(|(i, c)| LegendEntry {
            label: i as u32,
            text: format!("{}  {:.1} %", c.name, 100.0 * c.area_fraction),
        })
        .collect();
    legend.push(LegendEntry {
        label: NO_LABEL,
        text: format!("unknown  {:.1} %", 100.0 * classes.unknown_fraction),
    });
    let colours = classes
        .classes
        .iter()
        .map(|c| parse_hex(&c.color))
        .collect();
    (legend, colours)
}

/// The KV record of `c`, whose body is stored at `body`.
pub fn classifier_record(
    c: &Classifier,
    body: ObjectRef,
    edited_by: &str,
    edited_at_ms: u64,
    note: &str,
) -> ClassifierRecord {
    ClassifierRecord {
        version: PROTOCOL_VERSION,
        name: c.name.clone(),
        classes: c
            .classes
            .iter()
            .map(|k| ClassName {
                name: k.name.clone(),
                color: color_hex(k.colour),
            })
            .collect(),
        method: c.method.name().into(),
        model_digest: c.model_digest.clone(),
        chip: c.chip as u32,
        examples: c.example_classes.len() as u32,
        body,
        edited_by: edited_by.into(),
        edited_at_ms,
        note: note.into(),
    }
}

/// A classifier made from pixels painted on a held frame (`request.points`, `(x, y, class)`):
/// the chips whose centre cells the strokes cross, as `tessera segment --labels` takes a
/// scribble mask.
pub fn train_from_points(
    request: &ClassifyRequest,
    frame: &EmbeddedFrame<'_>,
    params: &SegmentParams,
) -> Result<Classifier, FewShotError> {
    let (w, h) = (frame.grid.width(), frame.grid.height());
    let mut mask = vec![0u32; w * h];
    for &(x, y, class) in &request.points {
        let (x, y) = (x as usize, y as usize);
        if x >= w || y >= h {
            return Err(FewShotError::Labels(format!(
                "a stroke reaches ({x}, {y}), off the {w} × {h} frame"
            )));
        }
        mask[y * w + x] = class + 1;
    }
    let (found, values) = chip_examples_from_mask(frame.grid, &mask)?;
    // Mask value v is class v - 1, whichever classes have strokes.
    let examples = Examples {
        classes: (found.classes.iter())
            .map(|&i| values[i] as usize - 1)
            .collect(),
        chips: found.chips,
    };
    let method = Method::parse(&request.method).map_err(FewShotError::Labels)?;
    let classes = (request.classes.iter())
        .map(|c| ClassInfo {
            name: c.name.clone(),
            colour: parse_hex(&c.color),
        })
        .collect();
    train_on_frame(&request.name, classes, method, frame, &examples, params)
}

/// One frame classified: chips and pixels, as the live services see it.
pub struct Classified {
    /// The classes as the results carry them (no stored maps yet).
    pub wire: FrameClasses,
    /// The class of every pixel, [`NO_LABEL`] for unknown: the class map to store.
    pub labels: Vec<u32>,
}

/// Classifies a frame's chips from their stored embeddings and paints its pixels, as
/// `tessera segment --classifier` does; `image` is the frame's normalised preview.
pub fn classify(
    c: &Classifier,
    revision: u64,
    grid: &ChipGrid,
    image: &Raster,
    embeddings: &[f32],
    model_digest: &str,
    params: &SegmentParams,
) -> Result<Classified, FewShotError> {
    let frame = EmbeddedFrame {
        grid,
        normalized: image,
        embeddings,
        model_digest,
    };
    let classes = classify_frame(c, &frame, params)?;
    let fractions = classes.area_fractions();
    let counts = classes.chips.counts();
    let n = classes.chips.n_classes;
    let wire = FrameClasses {
        classifier: c.name.clone(),
        revision,
        classes: c
            .classes
            .iter()
            .enumerate()
            .map(|(i, k)| ClassWire {
                name: k.name.clone(),
                color: color_hex(k.colour),
                chips: counts[i] as u32,
                area_fraction: fractions[i],
            })
            .collect(),
        unknown_chips: counts[n] as u32,
        unknown_fraction: fractions[n],
        chip_classes: u32s_to_le_bytes(&classes.chips.classes),
        labels: None,
        overlay: None,
        error: None,
    };
    let unknown = n as u32;
    let labels = classes
        .labels
        .iter()
        .map(|&l| if l == unknown { NO_LABEL } else { l })
        .collect();
    Ok(Classified { wire, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_colours_are_read_and_black_when_unreadable() {
        assert_eq!(parse_hex("#ff0010"), [255, 0, 16]);
        assert_eq!(parse_hex("red"), [0, 0, 0]);
    }

    #[test]
    fn a_body_of_another_name_or_garbage_is_refused() {
        let err = decode_classifier(b"\x01\x02", "oxide").unwrap_err();
        assert!(err.to_string().contains("tessera classifier put"), "{err}");
        assert_eq!(body_digest(b"abc").len(), 16);
    }
}
