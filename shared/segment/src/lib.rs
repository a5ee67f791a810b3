//! The segmentation pipeline: an image in, communities and a full-resolution label map out.
//!
//! This is the core that both `tessera segment` and the distributed services run, stage by
//! stage, so that the two give identical labels for the same input and parameters:
//!
//! 1. [`prepare`]: normalise the image and cut it into chips on a grid;
//! 2. embed the chips (any [`ChipEncoder`], normally an ONNX model);
//! 3. [`cluster`]: build the similarity graph and find communities of chips;
//! 4. [`finish`]: paint chip labels to pixels and summarise each community.
//!
//! # Layout
//! - [`params`]: the parameters, their defaults and the GraphEM parity preset.
//! - [`stages`]: the four stages and [`segment`], which runs them all.
//! - [`cluster`]: embeddings to chip communities.
//! - [`selection`]: how many communities: a resolution sweep and a criterion, or a forced
//!   count.
//! - [`features`]: what stands beside the CNN embedding (chip intensity statistics, the
//!   neighbourhood mean), and how the blocks are weighed.
//! - [`pixels`]: per-pixel refinement of the painted communities by local brightness.
//! - [`confidence`]: how sure each chip is of its community (pixel-vote weights).
//! - [`dense`]: where the k-NN search and the confidence margins run (here, or beside the
//!   model on its device).
//! - [`summary`]: per-community statistics.
//! - [`timing`]: per-stage wall-clock times.
//! - [`tracking`]: stable community ids across the frames of a run.

pub mod cluster;
pub mod confidence;
pub mod dense;
pub mod features;
pub mod params;
pub mod pixels;
pub mod selection;
pub mod stages;
pub mod summary;
pub mod timing;
pub mod tracking;

mod assignment;

pub use cluster::{ChipPartition, ChipStats, GridShape, cluster, cluster_on, cluster_with};
pub use dense::{DenseSteps, HostSteps};
pub use features::FeatureBlock;
pub use params::{Algorithm, GraphKind, SegmentParams};
pub use selection::Split;
pub use stages::{
    ChipEncoder, Prepared, Segmentation, finish, finish_image, finish_image_on, prepare, preview8,
    segment, segment_embedded, segment_on,
};
pub use summary::Community;
pub use timing::Timings;
pub use tracking::{RunTracks, Track, TrackingParams, community_directions};

/// Everything that can go wrong in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The parameters are inconsistent.
    #[error("invalid parameters: {0}")]
    Params(String),
    /// The image could not be prepared.
    #[error(transparent)]
    Imaging(#[from] tessera_imaging::ImagingError),
    /// The chips could not be embedded.
    #[error("embedding failed: {0}")]
    Embedding(String),
    /// The graph stage failed.
    #[error(transparent)]
    Graph(#[from] tessera_graph::GraphError),
    /// The k-NN search or the confidence margins failed where they ran.
    #[error("the chip graph's dense steps failed on {runner}: {reason}")]
    DenseSteps {
        /// What ran them (`device:cuda:0`, ...).
        runner: String,
        /// What went wrong.
        reason: String,
    },
}
