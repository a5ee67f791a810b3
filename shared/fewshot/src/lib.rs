//! Few-shot classes: a handful of chips the user names, turned into a classifier that
//! labels every chip of this frame and of later frames with those names.
//!
//! It works on the same chip embeddings as the communities, so re-classifying a frame never
//! runs the network again. Domain logic only: no I/O (the caller reads scribbles and saves
//! classifiers, as serde values).
//!
//! # Layout
//! - [`space`]: the classifier's feature space, fixed at training so that later frames are
//!   measured in it too.
//! - [`examples`]: labelled chips, from a scribble mask or from chip positions.
//! - [`methods`]: the three classifiers (prototypes, label propagation, logistic).
//! - [`classifier`]: a named, saved classifier and [`Classifier::classify`].
//! - [`frame`]: a classifier trained on a frame, and a frame classified to pixels.

pub mod classifier;
pub mod examples;
pub mod frame;
pub mod methods;
pub mod space;

pub use classifier::{ChipClasses, ClassInfo, Classifier, Training, UNKNOWN_BELOW};
pub use examples::{
    Examples, chip_examples_from_mask, chip_examples_from_points, chip_majority, mask_values,
};
pub use frame::{EmbeddedFrame, FrameClasses, classify_frame, train_on_frame};
pub use methods::Method;
pub use space::FeatureSpace;

/// Everything that can go wrong when building or applying a classifier.
#[derive(Debug, thiserror::Error)]
pub enum FewShotError {
    /// The labels do not make a classifier.
    #[error("{0}")]
    Labels(String),
    /// Rows of the wrong width or count, or from another model.
    #[error("{0}")]
    Features(String),
    /// The k-NN graph for label propagation could not be built.
    #[error(transparent)]
    Graph(#[from] tessera_graph::GraphError),
}
