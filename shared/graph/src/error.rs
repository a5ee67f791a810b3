//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in this crate. Each message says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum GraphError {
    /// The flat embedding buffer does not hold `n * dim` values.
    #[error(
        "embedding buffer holds {len} values but n = {n} rows × dim = {dim} columns needs {expected}; \
         pass the row count and dimension that match the buffer"
    )]
    ShapeMismatch {
        /// Length of the buffer passed in.
        len: usize,
        /// Row count passed in.
        n: usize,
        /// Dimension passed in.
        dim: usize,
        /// `n * dim`, or `usize::MAX` on overflow.
        expected: usize,
    },
    /// The embedding dimension is zero.
    #[error("embedding dimension is 0; every row needs at least one column")]
    ZeroDim,
    /// An embedding value is NaN or infinite.
    #[error(
        "embedding row {row}, column {col} is {value}, which is not finite; \
         check the encoder output or drop that chip before building the graph"
    )]
    NonFinite {
        /// Row of the offending value.
        row: usize,
        /// Column of the offending value.
        col: usize,
        /// The value itself.
        value: f32,
    },
    /// More rows than `u32` node ids can address.
    #[error("{n} nodes is more than the {max} that u32 node ids can address; split the input")]
    TooManyNodes {
        /// Node count asked for.
        n: usize,
        /// The largest supported node count.
        max: usize,
    },
    /// `k = 0` was asked of a k-NN search.
    #[error("k must be at least 1 for a k-nearest-neighbour graph")]
    ZeroK,
    /// PCA component count outside `1..=min(n, dim)`.
    #[error(
        "PCA asked for {components} components, but it must be between 1 and min(n, dim) = {max}"
    )]
    BadComponents {
        /// Components asked for.
        components: usize,
        /// `min(n, dim)`.
        max: usize,
    },
    /// A k-NN table whose arrays do not have `n * k` entries.
    #[error(
        "k-NN table is inconsistent: {indices} indices and {similarities} similarities for k = {k}; \
         both must be a whole number of rows of k entries"
    )]
    BadKnn {
        /// Length of `indices`.
        indices: usize,
        /// Length of `similarities`.
        similarities: usize,
        /// The table's k.
        k: usize,
    },
    /// An edge names a node that does not exist.
    #[error("edge {edge} names node {node}, but the graph has only {n} nodes (ids 0..{n})")]
    NodeOutOfRange {
        /// Index of the edge (or of the k-NN entry) in its input.
        edge: usize,
        /// The offending node id.
        node: u32,
        /// Node count of the graph.
        n: usize,
    },
    /// An edge weight that is NaN, infinite, zero or negative.
    #[error("edge {edge} has weight {weight}; weights must be finite and greater than 0")]
    BadWeight {
        /// Index of the edge in its input.
        edge: usize,
        /// The offending weight.
        weight: f32,
    },
    /// An edge from a node to itself in user input.
    #[error("edge {edge} is a self-loop on node {node}; leave self-loops out of the edge list")]
    SelfLoop {
        /// Index of the edge in its input.
        edge: usize,
        /// The node.
        node: u32,
    },
    /// A histogram with zero bins.
    #[error("a histogram cutoff needs at least 1 bin")]
    ZeroBins,
    /// A fixed cutoff that is NaN or infinite.
    #[error("cutoff {0} is not a finite number; pass a cosine similarity such as 0.5")]
    BadCutoff(f32),
    /// A label slice whose length is not the node count.
    #[error("{labels} labels given for {n} nodes; pass exactly one label per node")]
    LabelCount {
        /// Number of labels passed.
        labels: usize,
        /// Number of nodes (or embedding rows).
        n: usize,
    },
    /// A graph whose node count is not the number of embedding rows.
    #[error(
        "the graph has {nodes} nodes but there are {n} embedding rows; build the graph from the same chips"
    )]
    GraphSize {
        /// Nodes in the graph.
        nodes: usize,
        /// Embedding rows.
        n: usize,
    },
    /// A configuration value out of range.
    #[error("{name} = {value} is out of range: {expected}")]
    BadParameter {
        /// Parameter name.
        name: &'static str,
        /// The value passed.
        value: f64,
        /// What is accepted.
        expected: &'static str,
    },
}
