//! `tessera segment --labels / --classifier`: reads the scribble mask and the class names,
//! makes the classifier on the first page (or loads a saved one), saves it, and classifies
//! every page from the embeddings the communities were found on.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use tessera_fewshot::{
    ClassInfo, Classifier, EmbeddedFrame, FrameClasses, Method, chip_examples_from_mask,
    chip_examples_from_points, classify_frame, mask_values, train_on_frame,
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

/// What the user labelled and what they said of its classes.
pub(crate) struct Scribbles {
    marks: Marks,
    source: String,
    classes: Vec<ClassInfo>,
    method: Method,
    save: Option<std::path::PathBuf>,
}

/// A labelled pixel: `(x, y, class index)`.
type Point = (usize, usize, usize);

/// The labels as given.
enum Marks {
    /// A mask the size of the first input: 0 unlabelled, one value per class.
    Mask {
        mask: Vec<u32>,
        width: usize,
        height: usize,
    },
    /// Pixel positions with their class index.
    Points(Vec<Point>),
}

/// A classifier file saved by `tessera segment --save-classifier`.
pub(crate) fn read_classifier(path: &Path) -> Result<Classifier> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("reading the classifier {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a classifier saved by `tessera segment --save-classifier`",
            path.display()
        )
    })
}

impl Classes {
    /// Reads `--labels` or `--classifier`; nothing is embedded yet.
    pub(crate) fn from_args(args: &ClassArgs) -> Result<Classes> {
        if let Some(path) = &args.classifier {
            return Ok(Classes::Ready(Arc::new(read_classifier(path)?)));
        }
        let Some(path) = &args.labels else {
            return Ok(Classes::None);
        };
        let method =
            Method::parse(&args.class_method).map_err(|e| anyhow!("--class-method: {e}"))?;
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the labels {}", path.display()))?;
        let is_text = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"));
        let (marks, classes) = if is_text {
            let (points, names) = read_points(&bytes, path)?;
            let classes = named_classes(&args.class_names, &names)?;
            (Marks::Points(points), classes)
        } else {
            let (mask, width, height) = read_mask(&bytes, path)?;
            let classes = class_infos(&args.class_names, &mask_values(&mask))?;
            let marks = Marks::Mask {
                mask,
                width,
                height,
            };
            (marks, classes)
        };
        if classes.len() < 2 {
            bail!(
                "the labels {} name {} class{}; label at least two classes",
                path.display(),
                classes.len(),
                if classes.len() == 1 { "" } else { "es" }
            );
        }
        Ok(Classes::Train(Scribbles {
            marks,
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
        let examples = match &self.marks {
            Marks::Mask {
                mask,
                width,
                height,
            } => {
                let (w, h) = (frame.grid.width(), frame.grid.height());
                if (*width, *height) != (w, h) {
                    bail!(
                        "the label mask {} is {width} × {height} pixels, the first input \
                         {w} × {h}; draw the labels on the first input, at its size",
                        self.source
                    );
                }
                chip_examples_from_mask(frame.grid, mask)?.0
            }
            Marks::Points(points) => chip_examples_from_points(frame.grid, points)
                .with_context(|| format!("placing the points of {}", self.source))?,
        };
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

/// A label mask: whole numbers, 0 unlabelled.
fn read_mask(bytes: &[u8], path: &Path) -> Result<(Vec<u32>, usize, usize)> {
    let page = decode(bytes, &DecodeLimits::default())
        .with_context(|| {
            format!(
                "decoding the label mask {} (a mask is a PNG or TIFF; points are a .csv of \
                 x,y,class lines)",
                path.display()
            )
        })?
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
    Ok((mask, page.width, page.height))
}

/// Points from `x,y,class` lines (pixels from the top-left corner; `#` comments, blank lines
/// and an `x,y,class` header skipped): the points with class indices, and the class names
/// in order of first appearance.
fn read_points(bytes: &[u8], path: &Path) -> Result<(Vec<Point>, Vec<String>)> {
    let text = std::str::from_utf8(bytes)
        .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
    let mut names: Vec<String> = Vec::new();
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with('x')) {
            continue;
        }
        let bad = || {
            anyhow!(
                "{} line {}: `{line}` is not `x,y,class` (pixels from the top-left corner, \
                 then the class name)",
                path.display(),
                i + 1
            )
        };
        let mut fields = line.splitn(3, ',').map(str::trim);
        let (Some(x), Some(y), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        let (x, y) = (x.parse().map_err(|_| bad())?, y.parse().map_err(|_| bad())?);
        if name.is_empty() {
            return Err(bad());
        }
        let class = match names.iter().position(|n| n == name) {
            Some(c) => c,
            None => {
                names.push(name.to_string());
                names.len() - 1
            }
        };
        points.push((x, y, class));
    }
    Ok((points, names))
}

/// The classes named in a points file, coloured by `--class-names` entries `NAME=#RRGGBB`
/// where given (matched by name), else by the palette.
fn named_classes(specs: &[String], names: &[String]) -> Result<Vec<ClassInfo>> {
    let mut colours = Vec::new();
    for spec in specs {
        let (name, hex) = spec.split_once('=').ok_or_else(|| {
            anyhow!("--class-names: `{spec}`: with a points file, give colours as NAME=#RRGGBB")
        })?;
        let name = name.trim();
        if !names.iter().any(|n| n == name) {
            bail!(
                "--class-names: no point is labelled `{name}` (the classes are {})",
                names.join(", ")
            );
        }
        colours.push((name.to_string(), parse_colour(hex)?));
    }
    Ok((names.iter().enumerate())
        .map(|(i, name)| ClassInfo {
            name: name.clone(),
            colour: (colours.iter())
                .find(|(n, _)| n == name)
                .map_or_else(|| palette_color(i as u32), |(_, c)| *c),
        })
        .collect())
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

/// `#RRGGBB`, the `#` optional.
fn parse_colour(hex: &str) -> Result<[u8; 3]> {
    let digits = hex.trim().trim_start_matches('#');
    tessera_imaging::parse_color_hex(&format!("#{digits}")).ok_or_else(|| {
        anyhow!("--class-names: `{hex}` is not a colour; write it as #RRGGBB, e.g. #e41a1c")
    })
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
    fn points_name_their_classes_in_order() {
        let text = b"x,y,class\n# a comment\n10, 20, oxide\n5,6,crack\n7,8,oxide\n";
        let (points, names) = read_points(text, Path::new("p.csv")).unwrap();
        assert_eq!(points, vec![(10, 20, 0), (5, 6, 1), (7, 8, 0)]);
        assert_eq!(names, vec!["oxide", "crack"]);
        let c = named_classes(&["crack=#00ff00".into()], &names).unwrap();
        assert_eq!(c[1].colour, [0, 255, 0]);
        let e = read_points(b"1,2\n", Path::new("p.csv")).unwrap_err();
        assert!(
            e.to_string().contains("line 1: `1,2` is not `x,y,class`"),
            "{e}"
        );
        let e = named_classes(&["pore=#000000".into()], &names).unwrap_err();
        assert!(e.to_string().contains("oxide, crack"), "{e}");
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
