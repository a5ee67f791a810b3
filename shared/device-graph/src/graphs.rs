//! The ONNX graphs, built with ONNX Runtime's Model Editor API.

use ort::{
    editor::{Graph, Model, Node, ONNX_DOMAIN, Opset},
    memory::Allocator,
    operator::Attribute,
    session::{Session, builder::SessionBuilder},
    value::{Outlet, Shape, SymbolicDimensions, Tensor, TensorElementType, ValueType},
};

/// The opset the graphs are written against (`ReduceMax` takes its axes as an input).
const OPSET: u32 = 21;

/// A tensor outlet with named symbolic dimensions.
fn outlet(name: &str, ty: TensorElementType, dims: &[&str]) -> Outlet {
    Outlet::new(
        name,
        ValueType::Tensor {
            ty,
            shape: Shape::new(dims.iter().map(|_| -1i64)),
            dimension_symbols: SymbolicDimensions::new(dims.iter().map(|d| d.to_string())),
        },
    )
}

fn model(graph: Graph, builder: &SessionBuilder) -> ort::Result<Session> {
    let mut model = Model::new([Opset::new(ONNX_DOMAIN, OPSET)?])?;
    model.set_graph(graph)?;
    model.into_session(builder)
}

/// `queries` (q × d) and `base` (n × d) unit-length rows, `k` (one int64) in; the `k` largest
/// cosines of each query against the base rows out, descending, ties to the lower index (the
/// ONNX `TopK` rule): `values` (q × k) and `indices` (q × k, int64).
pub(crate) fn knn(builder: &SessionBuilder) -> ort::Result<Session> {
    let f32_ = TensorElementType::Float32;
    let i64_ = TensorElementType::Int64;
    let mut graph = Graph::new()?;
    graph.set_inputs([
        outlet("queries", f32_, &["q", "d"]),
        outlet("base", f32_, &["n", "d"]),
        outlet("k", i64_, &["one"]),
    ])?;
    graph.set_outputs([
        outlet("values", f32_, &["q", "k"]),
        outlet("indices", i64_, &["q", "k"]),
    ])?;
    graph.add_node(Node::new(
        "Gemm",
        ONNX_DOMAIN,
        "cosines",
        ["queries", "base"],
        ["cosines"],
        [Attribute::new("transB", 1i64)?],
    )?)?;
    graph.add_node(Node::new(
        "TopK",
        ONNX_DOMAIN,
        "nearest",
        ["cosines", "k"],
        ["values", "indices"],
        [
            Attribute::new("axis", 1i64)?,
            Attribute::new("largest", 1i64)?,
            Attribute::new("sorted", 1i64)?,
        ],
    )?)?;
    model(graph, builder)
}

/// `features` (n × d), `centroids` (c × d) and `labels` (n × 1, int64) in; each chip's cosine
/// to its own centroid (`own`, n × 1) and the largest to any other (`other`, n × 1; −∞ when
/// there is only one community) out.
pub(crate) fn margins(builder: &SessionBuilder) -> ort::Result<Session> {
    let f32_ = TensorElementType::Float32;
    let i64_ = TensorElementType::Int64;
    let mut graph = Graph::new()?;
    graph.set_inputs([
        outlet("features", f32_, &["n", "d"]),
        outlet("centroids", f32_, &["c", "d"]),
        outlet("labels", i64_, &["n", "one"]),
    ])?;
    graph.set_outputs([
        outlet("own", f32_, &["n", "one"]),
        outlet("other", f32_, &["n", "one"]),
    ])?;
    let mut neg_inf = Tensor::<f32>::new(&Allocator::default(), [1i64])?;
    neg_inf.extract_tensor_mut().1[0] = f32::NEG_INFINITY;
    graph.add_initializer("neg_inf", neg_inf, false)?;
    let mut axis = Tensor::<i64>::new(&Allocator::default(), [1i64])?;
    axis.extract_tensor_mut().1[0] = 1;
    graph.add_initializer("axis", axis, false)?;
    let nodes = [
        ("Gemm", ["features", "centroids"].as_slice(), "scores"),
        ("GatherElements", &["scores", "labels"], "own"),
        ("Shape", &["labels"], "labels_shape"),
        ("Expand", &["neg_inf", "labels_shape"], "fill"),
        ("ScatterElements", &["scores", "labels", "fill"], "masked"),
        ("ReduceMax", &["masked", "axis"], "other"),
    ];
    for (op, inputs, output) in nodes {
        let attributes = match op {
            "Gemm" => vec![Attribute::new("transB", 1i64)?],
            "GatherElements" | "ScatterElements" => vec![Attribute::new("axis", 1i64)?],
            "ReduceMax" => vec![Attribute::new("keepdims", 1i64)?],
            _ => Vec::new(),
        };
        graph.add_node(Node::new(
            op,
            ONNX_DOMAIN,
            output,
            inputs,
            [output],
            attributes,
        )?)?;
    }
    model(graph, builder)
}
