//! What the live services compute between messages, with no I/O: the services receive a
//! message, call into this crate, and send what it returns. Keeping it here lets the same
//! code be tested without NATS, and keeps the distributed path on exactly the stages that
//! `tessera segment` runs (`tessera_segment::prepare` and `finish`).
//!
//! # Layout
//! - [`classes`]: few-shot classifiers stored and applied, and a frame's classes.
//! - [`decisions`]: a frame's result turned into the closed loop's decision, and the run's
//!   decider state.
//! - [`params`]: wire parameters to `SegmentParams` and back (resolved).
//! - [`frames`]: a frame's raw samples to a raster.
//! - [`batching`]: a prepared frame to chip batches that fit the server's payload limit.
//! - [`assembly`]: a frame's embedding batches back into one matrix.
//! - [`results`]: communities, legend lines and series points for the results.

pub mod assembly;
pub mod batching;
pub mod classes;
pub mod decisions;
pub mod frames;
pub mod params;
pub mod results;

pub use assembly::{Added, FrameAssembly};
pub use batching::{batch_chips_for_payload, chip_batches};
pub use frames::frame_raster;
pub use params::{resolve, resolved_wire};

/// Everything that can go wrong between messages.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A message was well-formed but does not fit with the others of its frame or run.
    #[error("{0}")]
    Inconsistent(String),
    /// The parameters do not make a valid segmentation.
    #[error("parameters: {0}")]
    Params(String),
    /// A message's contents could not be used.
    #[error(transparent)]
    Protocol(#[from] tessera_protocol::ProtocolError),
    /// The image work failed.
    #[error(transparent)]
    Imaging(#[from] tessera_imaging::ImagingError),
    /// A segmentation stage failed.
    #[error(transparent)]
    Segment(#[from] tessera_segment::SegmentError),
    /// A classifier could not be applied.
    #[error(transparent)]
    Classes(#[from] tessera_fewshot::FewShotError),
    /// The decider's stored state could not be written or read.
    #[error("{0}")]
    State(String),
}
