//! Synthetic test data with exact ground truth for Tessera, and the metrics that score a
//! segmentation against it.
//!
//! - **Scenes** ([`generate`]): HAADF-STEM-like micrographs — bright Gaussian atom columns
//!   on a dark background — with a crystal beside a disordered region behind a curved
//!   front ([`SceneKind::OrderDisorder`]), two rotated grains plus disorder
//!   ([`SceneKind::ThreePhase`]), or disordered islands in a crystal matrix
//!   ([`SceneKind::Islands`]); with shot and read noise ([`NoiseLevel`]) and optional
//!   scan-line jitter. Deterministic for a seed.
//! - **Mosaics** ([`mosaic`]): crops of real textures pasted into irregular regions.
//! - **Metrics** ([`metrics`]): pixel-level ARI, NMI and mean IoU, exact at 16M pixels.
//!
//! Pure computation: no I/O, no panics on bad parameters (they return [`SynthError`]).
//! [`to_u16`] prepares pixels for a 16-bit file; writing it is the caller's job.
//!
//! # Layout
//! - `config` — [`SceneConfig`], [`SceneKind`], [`LatticeKind`], validation.
//! - `scene` — [`generate`]: regions → atoms → render → scan jitter → noise.
//! - `regions` — truth maps per scene kind; `wave` — the random curves they use.
//! - `lattice` — crystal columns; `disorder` — amorphous columns; `render` — Gaussian
//!   splatting in a ±4σ window per atom.
//! - `scan` — scan-line jitter; `noise` — [`apply_noise`], [`NoiseLevel`].
//! - `mosaic` — [`mosaic`], [`MosaicLayout`].
//! - `metrics` — [`metrics::partition_scores`] and the single metrics.
//! - `image` — [`SynthImage`], [`to_u16`]; `error` — [`SynthError`]; `streams` — the
//!   independent random streams.

mod config;
mod disorder;
mod error;
mod image;
mod lattice;
pub mod metrics;
mod mosaic;
mod noise;
mod regions;
mod render;
mod scan;
mod scene;
mod streams;
mod wave;

pub use config::{LatticeKind, SceneConfig, SceneKind};
pub use error::{MAX_PIXELS, MAX_SIDE, MIN_SIDE, SynthError};
pub use image::{SynthImage, to_u16};
pub use metrics::{
    Label, PartitionScores, adjusted_rand_index, mean_iou, normalized_mutual_info, partition_scores,
};
pub use mosaic::{MAX_CELLS, MAX_TEXTURES, MIN_TEXTURES, MosaicLayout, mosaic};
pub use noise::{NoiseLevel, NoiseParams, apply_noise};
pub use scene::{BACKGROUND, generate};
