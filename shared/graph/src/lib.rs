//! Similarity graphs and community detection over chip embeddings.
//!
//! Chips embedded by a CNN become rows of an `n × dim` matrix. This crate reduces them
//! (PCA), links them (exact cosine k-NN, or GraphEM's dense threshold graph), groups them
//! (Leiden or Louvain on modularity) and tidies the result (merging small or near-identical
//! communities, canonical labels). Pure computation: no I/O, and bad input is an error.
//!
//! # Layout
//! - `normalize`: row L2 normalisation ([`l2_normalize_rows`]) and input checks.
//! - `pca`: centred PCA projection ([`pca()`]).
//! - `knn`: exact k-nearest neighbours by cosine ([`knn_cosine`], [`Knn`]).
//! - `csr`: the undirected weighted [`Graph`].
//! - `threshold`: GraphEM's threshold graph ([`threshold_graph`], [`Cutoff`]).
//! - `leiden`, `louvain`: community detection ([`leiden()`], [`louvain()`]); they share
//!   `moving` (local moving, aggregation); `refine` is Leiden's refinement.
//! - `quality`: [`modularity`].
//! - `merge`: [`merge_small_communities`], [`merge_close_communities`], [`merge_to_count`].
//! - `labels`: [`Partition`], [`canonical_labels`].
//! - `tiles`, `linalg`, `rng`, `order`: internal kernels (blocked all-pairs dot products,
//!   Jacobi eigensolver, seeded RNG, locality renumbering).

mod csr;
mod error;
mod knn;
mod labels;
mod leiden;
mod linalg;
mod louvain;
mod merge;
mod moving;
mod normalize;
mod order;
mod pca;
mod quality;
mod refine;
mod rng;
mod threshold;
mod tiles;

pub use csr::{Graph, MIN_KNN_WEIGHT};
pub use error::GraphError;
pub use knn::{Knn, knn_cosine, knn_k};
pub use labels::{Partition, canonical_labels};
pub use leiden::{LeidenConfig, leiden};
pub use louvain::{LouvainConfig, louvain};
pub use merge::{merge_close_communities, merge_small_communities, merge_to_count};
pub use normalize::{check_matrix, l2_normalize_rows};
pub use pca::pca;
pub use quality::modularity;
pub use threshold::{Cutoff, threshold_graph};
