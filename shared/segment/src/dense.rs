//! Where the chip graph's dense steps run: the k-nearest-neighbour search over the chip
//! features, and each chip's confidence margin to the community centroids.
//!
//! Both are matrix products followed by a selection, the kind of work a GPU does best. The
//! pipeline asks a [`DenseSteps`] for them: [`HostSteps`] (the default) runs them here, with
//! `tessera_graph`'s exact k-NN and [`crate::confidence::chip_confidence`]; an implementation
//! beside the model (the `tessera-device-graph` crate) runs them where the model runs, so
//! that on a GPU only the neighbour lists and the margins come back. Every implementation
//! must give the host's results up to floating-point rounding.

use tessera_graph::{self as graph, Knn};

use crate::{SegmentError, confidence::chip_confidence};

/// The chip graph's dense steps.
pub trait DenseSteps {
    /// What runs them, for reports (`host`, `device:cuda:0`, ...).
    fn name(&self) -> String;
    /// The exact `k` nearest neighbours of every row of `features` (`n × dim`, unit-length
    /// rows) by cosine, excluding the row itself, as [`graph::knn_cosine`] defines them.
    /// Input the host would refuse is refused with the host's error.
    fn knn(
        &mut self,
        features: &[f32],
        n: usize,
        dim: usize,
        k: usize,
    ) -> Result<Knn, SegmentError>;
    /// Each chip's confidence margin, as [`chip_confidence`] defines it.
    fn margins(
        &mut self,
        features: &[f32],
        dim: usize,
        labels: &[u32],
        centroids: &[f32],
    ) -> Result<Vec<f32>, SegmentError>;
}

/// The dense steps on this machine's CPU cores.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSteps;

impl DenseSteps for HostSteps {
    fn name(&self) -> String {
        "host".into()
    }

    fn knn(
        &mut self,
        features: &[f32],
        n: usize,
        dim: usize,
        k: usize,
    ) -> Result<Knn, SegmentError> {
        Ok(graph::knn_cosine(features, n, dim, k)?)
    }

    fn margins(
        &mut self,
        features: &[f32],
        dim: usize,
        labels: &[u32],
        centroids: &[f32],
    ) -> Result<Vec<f32>, SegmentError> {
        Ok(chip_confidence(features, dim, labels, centroids))
    }
}
