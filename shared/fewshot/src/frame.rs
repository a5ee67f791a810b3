//! A whole frame: a classifier trained on a frame's labelled chips, and a frame classified
//! and painted to pixels, as the communities are (confidence vote, then the brightness
//! refinement at the boundaries).

use tessera_imaging::{ChipGrid, Raster, paint_labels_weighted};
use tessera_segment::{SegmentParams, features, pixels::refine_labels, preview8};

use crate::{ChipClasses, ClassInfo, Classifier, Examples, FeatureSpace, FewShotError, Method};

/// Columns of the chip intensity statistics.
const INTENSITY_COLUMNS: usize = features::INTENSITY.len();

/// One embedded frame: what a classifier is trained on or applied to.
pub struct EmbeddedFrame<'a> {
    /// The chip grid.
    pub grid: &'a ChipGrid,
    /// The normalised image (`Prepared::normalized`).
    pub normalized: &'a Raster,
    /// The chips' embedding rows (`grid.len() × dim`).
    pub embeddings: &'a [f32],
    /// The digest of the model that made them.
    pub model_digest: &'a str,
}

impl EmbeddedFrame<'_> {
    /// The chips' intensity statistics, measured on the 8-bit preview as the segmenter does.
    fn intensity(&self, preview: &Raster) -> Vec<f32> {
        features::intensity_stats(preview, self.grid)
    }
}

/// A frame's pixels classified.
#[derive(Debug, Clone)]
pub struct FrameClasses {
    /// Every chip's class.
    pub chips: ChipClasses,
    /// Every pixel's class, row-major; `chips.n_classes` is unknown.
    pub labels: Vec<u32>,
}

impl FrameClasses {
    /// The share of pixels in each class, then the unknown share.
    pub fn area_fractions(&self) -> Vec<f64> {
        crate::classifier::shares(&self.labels, self.chips.n_classes + 1)
    }
}

/// Trains a classifier on `frame`'s `examples`, in the feature space of `params` (the CNN
/// embedding with the intensity statistics at `params.intensity_weight`).
pub fn train_on_frame(
    name: &str,
    classes: Vec<ClassInfo>,
    method: Method,
    frame: &EmbeddedFrame<'_>,
    examples: &Examples,
    params: &SegmentParams,
) -> Result<Classifier, FewShotError> {
    let n = frame.grid.len();
    let dim = frame.embeddings.len() / n.max(1);
    let intensity = frame.intensity(&preview8(frame.normalized));
    let space = FeatureSpace::fit(
        frame.embeddings,
        n,
        dim,
        Some((&intensity, INTENSITY_COLUMNS)),
        params.intensity_weight,
    )?;
    let rows = space.project(frame.embeddings, n, Some(&intensity))?;
    Classifier::train(crate::Training {
        name: name.into(),
        classes,
        method,
        model_digest: frame.model_digest.into(),
        chip: frame.grid.chip(),
        space,
        rows: &rows,
        examples,
    })
}

/// Classifies `frame`'s chips with `classifier` and paints them to pixels; the boundaries
/// are refined by brightness at `params.refine` (0: off), as the communities' are.
pub fn classify_frame(
    classifier: &Classifier,
    frame: &EmbeddedFrame<'_>,
    params: &SegmentParams,
) -> Result<FrameClasses, FewShotError> {
    let n = frame.grid.len();
    let preview = preview8(frame.normalized);
    let intensity = classifier
        .space
        .intensity
        .is_some()
        .then(|| frame.intensity(&preview));
    let chips = classifier.classify(
        frame.model_digest,
        frame.grid.chip(),
        frame.embeddings,
        n,
        intensity.as_deref(),
    )?;
    let weights = chips.paint_weights();
    let labels_n = chips.n_classes + 1;
    let mut labels = paint_labels_weighted(frame.grid, &chips.classes, &weights, labels_n)
        .map_err(|e| FewShotError::Features(e.to_string()))?;
    if params.refine > 0.0 {
        labels = refine_labels(
            frame.grid,
            &preview,
            &labels,
            &chips.classes,
            Some(&weights),
            labels_n,
            params.refine,
            params.refine_sigma,
        );
    }
    Ok(FrameClasses { chips, labels })
}
