//! `tessera segment --labels / --classifier`: reads the scribble mask and the class names,
//! makes the classifier on the first page (or loads a saved one), saves it, and classifies
//! every page from the embeddings the communities were found on.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use tessera_fewshot::{
    ClassInfo, Classifier, EmbeddedFrame, FrameClasses, Method, chip_examples_from_mask,
    classify_frame, train_on_frame,
};
use tessera_imaging::{DecodeLimits, decode, palette_color};
use tessera_segment::SegmentParams;

use crate::cli::ClassArgs;

/// Where the pages' classes come from.
pub(crate) enum Classes {
    /// No classes asked for.
    None,
    /// A classifier to make on the first page from its scribbles.
    Train(Scribbles),
    /// A classifier made or loaded.
    Ready(Arc<Classifier>),
}

/// The scribble mask and what the user said of its classes.
pub(crate) struct Scribbles {
    mask: Vec<u32>,
    width: usize,
    height: usize,
    source: String,
    classes: Vec<ClassInfo>,
    method: Method,
    save: Option<std::path::PathBuf>,
}

impl Classes {
    /// Reads `--labels` or `--classifier`; nothing is embedded yet.
    pub(crate) fn from_args(args: &ClassArgs) -> Result<Classes> {
        if let Some(path) = &args.classifier {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading the classifier {}", path.display()))?;
            let c: Classifier = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not a classifier saved by `tessera segment --save-classifier`",
                    path.display()
                )
            })?;
            return Ok(Classes::Ready(Arc::new(c)));
        }
        let Some(path) = &args.labels else {
            return Ok(Classes::None);
        };
        let method =
            Method::parse(&args.class_method).map_err(|e| anyhow!("--class-method: {e}"))?;
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the label mask {}", path.display()))?;
        let page = decode(&bytes, &DecodeLimits::default())
            .with_context(|| format!("decoding the label mask {}", path.display()))?
            .swap_remove(0);
        let mask = (page.pixels.iter())
            .map(|&v| {
                if v.is_finite() && v >= 0.0 && v.fract() == 0.0 {
                    Ok(v as u32)
                } else {
                    Err(anyhow!(
                        "the label mask {} holds the value {v}; use whole numbers (0 = \
                         unlabelled, one value per class) in an 8- or 16-bit PNG or TIFF",
                        path.display()
                    ))
                }
            })
            .collect::<Result<Vec<u32>>>()?;
        let mut values: Vec<u32> = mask.iter().copied().filter(|&v| v != 0).collect();
        values.sort_unstable();
        values.dedup();
        if values.len() < 2 {
            bail!(
                "the label mask {} labels {} class{}; paint strokes of at least two classes,                  one value per class (0 = unlabelled)",
                path.display(),
                values.len(),
                if values.len() == 1 { "" } else { "es" }
            );
        }
        let classes = class_infos(&args.class_names, &values)?;
        Ok(Classes::Train(Scribbles {
            mask,
            width: page.width,
            height: page.height,
            source: path.display().to_string(),
            classes,
            method,
            save: args.save_classifier.clone(),
        }))
    }

    /// The classes of one page; the first page trains the classifier when there is one to
    /// make.
    pub(crate) fn classify(
        &mut self,
        frame: &EmbeddedFrame<'_>,
        params: &SegmentParams,
    ) -> Result<Option<(FrameClasses, Arc<Classifier>)>> {
        if let Classes::Train(s) = self {
            let c = Arc::new(s.train(frame, params)?);
            *self = Classes::Ready(c);
        }
        let Classes::Ready(c) = self else {
            return Ok(None);
        };
        let classes = classify_frame(c, frame, params)?;
        Ok(Some((classes, Arc::clone(c))))
    }
}

impl Scribbles {
    fn train(&self, frame: &EmbeddedFrame<'_>, params: &SegmentParams) -> Result<Classifier> {
        let (w, h) = (frame.grid.width(), frame.grid.height());
        if (self.width, self.height) != (w, h) {
            bail!(
                "the label mask {} is {} × {} pixels, the first input {w} × {h}; draw the \
                 labels on the first input, at its size",
                self.source,
                self.width,
                self.height
            );
        }
        let (examples, _) = chip_examples_from_mask(frame.grid, &self.mask)?;
        let classes = self.classes.clone();
        let name = Path::new(&self.source)
            .file_stem()
            .map_or_else(|| "classifier".into(), |s| s.to_string_lossy().into_owned());
        let c = train_on_frame(&name, classes, self.method, frame, &examples, params)
            .with_context(|| format!("making a classifier from {}", self.source))?;
        if let Some(path) = &self.save {
            let text = serde_json::to_string(&c)?;
            std::fs::write(path, text)
                .with_context(|| format!("saving the classifier to {}", path.display()))?;
            eprintln!(
                "saved classifier `{}` ({} classes, {} labelled chips) to {}",
                c.name,
                c.classes.len(),
                c.example_classes.len(),
                path.display()
            );
        }
        Ok(c)
    }
}

/// The classes of mask `values` (ascending), named by `names` (`NAME` or `NAME=#RRGGBB`).
fn class_infos(names: &[String], values: &[u32]) -> Result<Vec<ClassInfo>> {
    if !names.is_empty() && names.len() != values.len() {
        bail!(
            "--class-names gives {} names, but the label mask has {} classes (values {}); \
             give one name per value, in ascending order",
            names.len(),
            values.len(),
            values
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let Some(spec) = names.get(i) else {
                return Ok(ClassInfo {
                    name: format!("class {v}"),
                    colour: palette_color(i as u32),
                });
            };
            let (name, colour) = match spec.split_once('=') {
                Some((name, hex)) => (name, parse_colour(hex)?),
                None => (spec.as_str(), palette_color(i as u32)),
            };
            if name.trim().is_empty() {
                bail!("--class-names: class {} has an empty name", i + 1);
            }
            Ok(ClassInfo {
                name: name.trim().into(),
                colour,
            })
        })
        .collect()
}

fn parse_colour(hex: &str) -> Result<[u8; 3]> {
    let digits = hex.trim().trim_start_matches('#');
    let bad =
        || anyhow!("--class-names: `{hex}` is not a colour; write it as #RRGGBB, e.g. #e41a1c");
    if digits.len() != 6 {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad());
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_colours_follow_the_mask_values() {
        let c = class_infos(&["oxide=#ff0000".into(), " crack ".into()], &[3, 9]).unwrap();
        assert_eq!(c[0].name, "oxide");
        assert_eq!(c[0].colour, [255, 0, 0]);
        assert_eq!(c[1].name, "crack");
        let d = class_infos(&[], &[3, 9]).unwrap();
        assert_eq!(d[1].name, "class 9");
    }

    #[test]
    fn a_wrong_count_or_colour_is_explained() {
        let e = class_infos(&["a".into()], &[1, 2]).unwrap_err().to_string();
        assert!(e.contains("values 1, 2"), "{e}");
        let e = class_infos(&["a=red".into(), "b".into()], &[1, 2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("#RRGGBB"), "{e}");
    }
}
