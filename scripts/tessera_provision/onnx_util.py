"""Small helpers for building ONNX graphs with numpy weights (needs numpy + onnx)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; keeps the file readable by older runtimes


class GraphBuilder:
    """Accumulates nodes and initializers; names are made unique with a counter."""

    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

    def name(self, prefix):
        self._n += 1
        return "%s_%d" % (prefix, self._n)

    def const(self, prefix, array):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, prefix=None, out=None, **attrs):
        out = out or self.name(prefix or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, w, b=None, stride=1, group=1, prefix="conv", valid=False):
        """Conv with TF "SAME" padding (or none if valid). Stride 1 and odd kernel: symmetric
        explicit pads; strided: auto_pad=SAME_UPPER (the extra row/column goes at the end, like TF)."""
        k = w.shape[-1]
        ins = [x, self.const(prefix + "_w", w.astype(np.float32))]
        if b is not None:
            ins.append(self.const(prefix + "_b", b.astype(np.float32)))
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], group=group)
        if valid:
            attrs["pads"] = [0] * 4
        elif stride == 1 and k % 2 == 1:
            attrs["pads"] = [k // 2] * 4
        else:
            attrs["auto_pad"] = "SAME_UPPER"
        return self.op("Conv", ins, prefix=prefix, **attrs)

    def clip(self, x, lo, hi, prefix="clip"):
        return self.op("Clip", [x, self.const("min", np.array(lo, np.float32)),
                                self.const("max", np.array(hi, np.float32))], prefix=prefix)

    def model(self, inputs, outputs, doc):
        """inputs/outputs: lists of (name, shape) with str entries for dynamic dims."""
        graph = helper.make_graph(
            self.nodes, "tessera_encoder",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
            initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tessera-provision", doc_string=doc)
        m.ir_version = IR_VERSION
        onnx.checker.check_model(m, full_check=True)
        return m


def save_atomic(model, path):
    """Serialize to path.tmp, fsync, rename: a crash never leaves a partial model.onnx."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
