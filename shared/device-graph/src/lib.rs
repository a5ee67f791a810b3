//! The chip graph's dense steps (the exact k-NN search over the chip features, and each
//! chip's confidence margin to the community centroids) as ONNX graphs, run by the same ONNX
//! Runtime and on the same execution provider as the encoder.
//!
//! On a GPU the features never need to leave it for these steps: `Gemm` then `TopK` gives the
//! neighbour lists tile by tile, `Gemm`, `GatherElements`, `ScatterElements` and `ReduceMax`
//! give the margins, and only those (n × k indices and similarities, 2 × n margins' terms)
//! come back to the host. Leiden, the merges and the painting stay on the CPU. The graphs are
//! built in memory with ONNX Runtime's Model Editor API, so there is no model file to
//! provision and no new dependency.
//!
//! [`DeviceSteps`] implements `tessera_segment::DenseSteps`; its results equal the host's up
//! to floating-point rounding (the products run in another kernel), which the tests check on
//! the CPU provider.
//!
//! # Layout
//! - `graphs`: the two ONNX graphs.
//! - `steps`: running them in tiles and turning their outputs into a `Knn` and margins.

mod graphs;
mod steps;

pub use steps::{DeviceGraphError, DeviceSteps};
