//! A named classifier: the classes, the feature space, the examples' rows and the fitted
//! model, with the digest of the model whose embeddings it was made from. It is a serde
//! value, saved as a file by the command line and in a KV bucket by the live system.

use serde::{Deserialize, Serialize};

use crate::methods::{logistic, propagation, prototypes};
use crate::{Examples, FeatureSpace, FewShotError, Method};

/// A chip whose cosine to every class's prototype and to every example is at most this is
/// "unknown" and is not forced into any class. The rows are centred on the training frame,
/// so a cosine of 0 means no more like the class than like the average chip there: a new
/// phase, unlike every class, lands near 0 with all of them. Measured on the labelled SEM
/// images (`--example fewshot`, where every pixel has a class): from 3 shots on, at most 5%
/// of the chips are unknown and mIoU moves by at most 0.01; at 1 shot, 8-29%, since one
/// example cannot show a class's spread.
pub const UNKNOWN_BELOW: f32 = 0.0;

/// Neighbours per chip in label propagation's graph (the community graph's default).
pub const PROPAGATION_K: usize = 30;

/// One class: its name and colour, both the user's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// The class's name ("oxide", "crack").
    pub name: String,
    /// Its colour in overlays, `[r, g, b]`.
    pub colour: [u8; 3],
}

/// A trained classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    /// The classifier's name.
    pub name: String,
    /// The classes, by index.
    pub classes: Vec<ClassInfo>,
    /// How chips are classified.
    pub method: Method,
    /// The digest of the model whose embeddings it classifies.
    pub model_digest: String,
    /// Chip side in pixels that the embeddings were made at.
    pub chip: usize,
    /// The fixed feature space.
    pub space: FeatureSpace,
    /// The examples' rows in that space (`m × space.width()`).
    pub example_rows: Vec<f32>,
    /// The examples' classes.
    pub example_classes: Vec<usize>,
    /// Each class's unit-length mean example (`n_classes × width`).
    pub prototypes: Vec<f32>,
    /// The logistic model (`n_classes × (width + 1)`), for [`Method::Logistic`].
    pub logistic: Option<Vec<f32>>,
    /// A chip at most this close (cosine) to every prototype and example is unknown.
    pub unknown_below: f32,
}

/// Every chip's class and how sure it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ChipClasses {
    /// The class of each chip; `n_classes` means unknown.
    pub classes: Vec<u32>,
    /// The chip's score for its class (`0..=1`; 0 for unknown chips).
    pub confidence: Vec<f32>,
    /// Number of classes (the unknown label is this).
    pub n_classes: usize,
}

impl ChipClasses {
    /// Each chip's vote when painting pixels: its confidence, and an unknown chip as sure as
    /// a uniform guess (`1 / n_classes`), so a pixel most chips over it cannot name stays
    /// unknown.
    pub fn paint_weights(&self) -> Vec<f32> {
        let guess = 1.0 / self.n_classes.max(1) as f32;
        (self.classes.iter().zip(&self.confidence))
            .map(|(&c, &p)| {
                if c as usize == self.n_classes {
                    guess
                } else {
                    p
                }
            })
            .collect()
    }

    /// The share of chips in each class, then of unknown chips (`n_classes + 1` values).
    pub fn shares(&self) -> Vec<f64> {
        shares(&self.classes, self.n_classes + 1)
    }

    /// How many chips each class has, then the unknown chips (`n_classes + 1` values).
    pub fn counts(&self) -> Vec<usize> {
        counts(&self.classes, self.n_classes + 1)
    }
}

/// What the classifier is trained from: the frame's rows in its space and which are labelled.
pub struct Training<'a> {
    /// The classifier's name.
    pub name: String,
    /// The classes, by index.
    pub classes: Vec<ClassInfo>,
    /// The method.
    pub method: Method,
    /// The digest of the embedding model.
    pub model_digest: String,
    /// Chip side.
    pub chip: usize,
    /// The feature space, fitted on the frame.
    pub space: FeatureSpace,
    /// The frame's rows in that space (`n × space.width()`).
    pub rows: &'a [f32],
    /// The labelled chips.
    pub examples: &'a Examples,
}

impl Classifier {
    /// Fits a classifier on a frame's labelled chips.
    pub fn train(t: Training<'_>) -> Result<Classifier, FewShotError> {
        let width = t.space.width();
        let n = t.rows.len() / width.max(1);
        let names: Vec<String> = t.classes.iter().map(|c| c.name.clone()).collect();
        t.examples.check(n, &names)?;
        let example_rows: Vec<f32> = t
            .examples
            .chips
            .iter()
            .flat_map(|&i| &t.rows[i * width..(i + 1) * width])
            .copied()
            .collect();
        let classes = t.examples.classes.clone();
        let k = names.len();
        let prototypes = prototypes::fit(&example_rows, width, &classes, k);
        let logistic = (t.method == Method::Logistic)
            .then(|| logistic::fit(&example_rows, width, &classes, k));
        Ok(Classifier {
            name: t.name,
            classes: t.classes,
            method: t.method,
            model_digest: t.model_digest,
            chip: t.chip,
            space: t.space,
            example_rows,
            example_classes: classes,
            prototypes,
            logistic,
            unknown_below: UNKNOWN_BELOW,
        })
    }

    /// Classifies `n` chips from their embeddings (and intensity statistics, when the space
    /// has them) made by the model with `model_digest` at chip side `chip`.
    pub fn classify(
        &self,
        model_digest: &str,
        chip: usize,
        embeddings: &[f32],
        n: usize,
        intensity: Option<&[f32]>,
    ) -> Result<ChipClasses, FewShotError> {
        if model_digest != self.model_digest || chip != self.chip {
            return Err(FewShotError::Features(format!(
                "classifier `{}` was made from the embeddings of model {} at {}-pixel chips, \
                 these come from model {model_digest} at {chip}-pixel chips; classify with \
                 the same model and chip size, or label this model's chips anew",
                self.name,
                short(&self.model_digest),
                self.chip,
            )));
        }
        let rows = self.space.project(embeddings, n, intensity)?;
        self.classify_rows(&rows, n)
    }

    /// Classifies `n` chips already in the classifier's space.
    pub fn classify_rows(&self, rows: &[f32], n: usize) -> Result<ChipClasses, FewShotError> {
        let width = self.space.width();
        let k = self.classes.len();
        if rows.len() != n * width || n == 0 {
            return Err(FewShotError::Features(format!(
                "{} values do not make {n} rows of {width}",
                rows.len()
            )));
        }
        let cosines = prototypes::cosines(rows, width, &self.prototypes);
        let scores = match self.method {
            Method::Prototypes => prototypes::scores(&cosines, k),
            Method::Logistic => {
                let model = self.logistic.as_deref().ok_or_else(|| {
                    FewShotError::Features(format!(
                        "classifier `{}` says logistic but holds no model; train it again",
                        self.name
                    ))
                })?;
                logistic::scores(model, rows, width, k)
            }
            Method::Propagation => {
                let mut all = Vec::with_capacity(rows.len() + self.example_rows.len());
                all.extend_from_slice(rows);
                all.extend_from_slice(&self.example_rows);
                propagation::scores(&all, width, n, &self.example_classes, k, PROPAGATION_K)?
            }
        };
        // How near each chip comes to any class: its best cosine to a prototype or, when no
        // prototype is near enough, to a single example (a class may have several looks,
        // which its mean blurs; the examples are scanned only for those chips).
        let nearest: Vec<f32> = rows
            .chunks_exact(width)
            .zip(cosines.chunks_exact(k))
            .map(|(row, c)| {
                let to_prototype = c.iter().copied().fold(f32::MIN, f32::max);
                if to_prototype > self.unknown_below {
                    return to_prototype;
                }
                (self.example_rows.chunks_exact(width))
                    .map(|e| crate::methods::dot(row, e))
                    .fold(to_prototype, f32::max)
            })
            .collect();
        let mut classes = Vec::with_capacity(n);
        let mut confidence = Vec::with_capacity(n);
        for ((s, &near), _) in scores.chunks_exact(k).zip(&nearest).zip(0..) {
            let (best, p) = s
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            if near <= self.unknown_below || p <= 0.0 {
                classes.push(k as u32);
                confidence.push(0.0);
            } else {
                classes.push(best as u32);
                confidence.push(p);
            }
        }
        Ok(ChipClasses {
            classes,
            confidence,
            n_classes: k,
        })
    }
}

/// How many of `labels` carry each of the labels `0..bins`.
pub(crate) fn counts(labels: &[u32], bins: usize) -> Vec<usize> {
    let mut counts = vec![0usize; bins];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    counts
}

/// The share of `labels` that carries each of the labels `0..bins`.
pub(crate) fn shares(labels: &[u32], bins: usize) -> Vec<f64> {
    let n = labels.len().max(1) as f64;
    counts(labels, bins).iter().map(|&c| c as f64 / n).collect()
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 chips in two groups along two axes of 6 dimensions, and a far-off chip.
    fn frame() -> (Vec<f32>, usize) {
        let mut e = Vec::new();
        for i in 0..40 {
            let mut row = vec![0.5f32; 6];
            row[if i < 20 { 0 } else { 1 }] += 3.0 + (i % 5) as f32 * 0.1;
            row[2 + i % 4] += 0.2;
            e.extend(row);
        }
        (e, 40)
    }

    fn train(method: Method, e: &[f32], n: usize) -> Classifier {
        let space = FeatureSpace::fit(e, n, 6, None, 0.0).unwrap();
        let rows = space.project(e, n, None).unwrap();
        let examples = Examples {
            chips: vec![3, 27],
            classes: vec![0, 1],
        };
        let class = |name: &str| ClassInfo {
            name: name.into(),
            colour: [0, 0, 0],
        };
        Classifier::train(Training {
            name: "two".into(),
            classes: vec![class("a"), class("b")],
            method,
            model_digest: "m1".into(),
            chip: 64,
            space,
            rows: &rows,
            examples: &examples,
        })
        .unwrap()
    }

    #[test]
    fn one_example_per_class_labels_every_chip_by_each_method() {
        let (e, n) = frame();
        for method in Method::ALL {
            let c = train(method, &e, n);
            let got = c.classify("m1", 64, &e, n, None).unwrap();
            let want: Vec<u32> = (0..40).map(|i| u32::from(i >= 20)).collect();
            assert_eq!(got.classes, want, "{method:?}");
            assert!(got.confidence.iter().all(|&p| p > 0.5), "{method:?}");
        }
    }

    #[test]
    fn a_chip_unlike_every_class_is_unknown() {
        let (e, n) = frame();
        let c = train(Method::Prototypes, &e, n);
        // Far below the training mean on both class axes: on the far side of the average
        // chip from either class.
        let odd = [-4.0, -4.0, 3.0, 0.5, 0.5, 0.5];
        let got = c.classify("m1", 64, &odd, 1, None).unwrap();
        assert_eq!(got.classes, vec![2]);
        assert_eq!(got.shares(), vec![0.0, 0.0, 1.0]);
    }

    #[test]
    fn embeddings_of_another_model_are_refused() {
        let (e, n) = frame();
        let c = train(Method::Prototypes, &e, n);
        let err = c.classify("m2", 64, &e, n, None).unwrap_err().to_string();
        assert!(err.contains("same model"), "{err}");
    }
}
