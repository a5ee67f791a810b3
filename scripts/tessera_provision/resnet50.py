"""A ResNet50-shaped ONNX encoder with seeded random weights, for throughput runs (needs numpy + onnx).

input  ``input``    float32 [N,3,224,224]
output ``features`` float32 [N,2048]: the global-average-pooled output of the last stage

The layers are ResNet50 v1.5's (stem conv 7x7/2 + max pool 3x3/2, bottleneck stages of 3, 4, 6, 3
blocks at widths 64, 128, 256, 512 with 4x expansion, stride in the 3x3 conv), with batch norm
folded into the convolutions, as an exported model has it: 25.5 M parameters, about 4.1 GFLOPs a
chip. The weights are random (He-scaled, each block's last conv damped so the residual sum stays
finite), so the embeddings mean nothing; the arithmetic and memory traffic are ResNet50's.

With --fp16 the weights are stored as float16 and the graph computes in float16, between a Cast of
the float32 input and a Cast back of the float32 output: the model a CUDA provider needs to run
FP16 (TensorRT can also build FP16 engines from the float32 model).

Usage: python -m tessera_provision.resnet50 --out model.onnx [--fp16] [--check]
"""
import argparse
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .onnx_util import GraphBuilder, save_atomic

SEED = 20250117
DIM = 2048
SIDE = 224
STAGES = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # width, blocks, first stride


def build():
    rng = np.random.default_rng(SEED)

    def he(cout, cin, k, gain=1.0):
        return (rng.standard_normal((cout, cin, k, k)) * gain * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)

    def conv(x, cout, cin, k, stride=1, relu=True, gain=1.0, prefix="conv"):
        y = g.conv(x, he(cout, cin, k, gain), np.zeros(cout, np.float32), stride=stride, prefix=prefix)
        return g.op("Relu", [y]) if relu else y

    g = GraphBuilder()
    x = conv("input", 64, 3, 7, stride=2, prefix="stem")
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for si, (width, blocks, stride) in enumerate(STAGES):
        for b in range(blocks):
            s = stride if b == 0 else 1
            p = "s%db%d" % (si + 1, b)
            y = conv(x, width, cin, 1, prefix=p + "_a")
            y = conv(y, width, width, 3, stride=s, prefix=p + "_b")
            y = conv(y, width * 4, width, 1, relu=False, gain=0.2, prefix=p + "_c")
            short = conv(x, width * 4, cin, 1, stride=s, relu=False, prefix=p + "_down") if b == 0 else x
            x = g.op("Relu", [g.op("Add", [y, short])])
            cin = width * 4
    pooled = g.op("GlobalAveragePool", [x])
    g.op("Flatten", [pooled], out="features", axis=1)
    return g.model([("input", ["N", 3, SIDE, SIDE])], [("features", ["N", DIM])],
                   doc="Tessera ResNet50-shaped encoder, seeded random weights (throughput runs only).")


def to_fp16(model):
    """Store float initializers as float16 and compute in float16, keeping float32 input/output."""
    g = model.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in g.node:
        node.input[:] = ["input_fp16" if i == "input" else i for i in node.input]
        node.output[:] = ["features_fp16" if o == "features" else o for o in node.output]
    g.node.insert(0, helper.make_node("Cast", ["input"], ["input_fp16"], name="cast_in", to=TensorProto.FLOAT16))
    g.node.append(helper.make_node("Cast", ["features_fp16"], ["features"], name="cast_out", to=TensorProto.FLOAT))
    model.doc_string += " Float16 weights and arithmetic."
    onnx.checker.check_model(model, full_check=True)
    return model


def check(onnx_path):
    """The model runs in onnxruntime and gives finite, input-dependent 2048-d rows."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, SIDE, SIDE)).astype(np.float32)
    f = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(["features"], {"input": x})[0]
    if f.shape != (2, DIM) or not np.isfinite(f).all():
        raise SystemExit("resnet50 check FAILED: shape %s, finite %s" % (f.shape, np.isfinite(f).all()))
    spread = float(np.abs(f[0] - f[1]).max())
    if not spread > 0:
        raise SystemExit("resnet50 check FAILED: two different inputs gave the same embedding")
    print("  resnet50: [2, %d] finite, max |row0 - row1| %.3g" % (DIM, spread), file=sys.stderr)
    return {"dim": DIM, "row_difference": spread}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--fp16", action="store_true")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    model = build()
    if a.fp16:
        model = to_fp16(model)
    save_atomic(model, a.out)
    print(json.dumps(check(a.out) if a.check else {}))


if __name__ == "__main__":
    main()
