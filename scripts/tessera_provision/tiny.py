"""A tiny deterministic ONNX image encoder for fast tests (needs numpy + onnx).

input  ``input``    float32 [N,3,H,W] (H, W dynamic, values ~0..1)
output ``features`` float32 [N,32]:
  - 16 learned-looking channels: conv3x3 s2 3->8 + ReLU, conv3x3 s2 8->16 + ReLU, global mean
    (seeded random weights, so the same file comes out on every machine)
  - 16 texture channels: the grey image through a fixed bank of 3x3 filters (no padding: |Laplacian|,
    |Sobel x|, |Sobel y|, two diagonals, 11 seeded zero-mean filters), absolute value, global mean
Smooth, noisy and striped chips get clearly different embeddings (see :func:`texture_check`).

Usage: python -m tessera_provision.tiny --out model.onnx [--check]
"""
import argparse
import json
import sys

import numpy as np

from .onnx_util import GraphBuilder, save_atomic

SEED = 20240611
DIM = 32


def weights():
    rng = np.random.default_rng(SEED)
    he = lambda *s: (rng.standard_normal(s) * np.sqrt(2.0 / np.prod(s[1:]))).astype(np.float32)
    w1, b1 = he(8, 3, 3, 3), np.full(8, -0.05, np.float32)
    w2, b2 = he(16, 8, 3, 3), np.full(16, 0.02, np.float32)
    fixed = [[[0, 1, 0], [1, -4, 1], [0, 1, 0]], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
             [[-1, -2, -1], [0, 0, 0], [1, 2, 1]], [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],
             [[2, 1, 0], [1, 0, -1], [0, -1, -2]]]
    rand = rng.standard_normal((11, 3, 3))
    rand -= rand.mean(axis=(1, 2), keepdims=True)  # zero-mean: blind to flat regions
    bank = np.concatenate([np.array(fixed, np.float64), rand]).astype(np.float32)[:, None]
    return w1, b1, w2, b2, bank


def build():
    w1, b1, w2, b2, bank = weights()
    g = GraphBuilder()
    x = g.op("Relu", [g.conv("input", w1, b1, stride=2, prefix="c1")])
    x = g.op("Relu", [g.conv(x, w2, b2, stride=2, prefix="c2")])
    learned = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    grey = g.op("ReduceMean", ["input"], axes=[1], keepdims=1)
    tex = g.op("Abs", [g.conv(grey, bank, prefix="tex", valid=True)])
    tex = g.op("Flatten", [g.op("GlobalAveragePool", [tex])], axis=1)
    tex = g.op("Mul", [tex, g.const("tex_gain", np.array(4.0, np.float32))])
    g.op("Concat", [learned, tex], out="features", axis=1)
    return g.model([("input", ["N", 3, "H", "W"])], [("features", ["N", DIM])],
                   doc="Tessera tiny test encoder (seeded random conv + fixed texture filters).")


def chips(size=32, seed=0):
    """smooth / noisy / striped grey chips, two instances each, [6,3,size,size] in 0..1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(2):
        ph = rng.uniform(0, 2 * np.pi)
        out.append(0.5 + 0.1 * np.sin(2 * np.pi * (xx + yy) / 2 + ph))      # smooth
        out.append(np.clip(0.5 + 0.2 * rng.standard_normal((size, size)), 0, 1))  # noisy
        out.append(0.5 + 0.4 * np.sign(np.sin(2 * np.pi * 4 * xx + ph)))      # striped
    order = [0, 3, 1, 4, 2, 5]  # smooth, smooth, noisy, noisy, striped, striped
    return np.repeat(np.array([out[i] for i in order], np.float32)[:, None], 3, axis=1)


def texture_check(onnx_path):
    """Embeddings of the same texture must be closer than those of different textures."""
    import onnxruntime as ort

    f = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(
        ["features"], {"input": chips()})[0]
    assert f.shape == (6, DIM), f.shape
    d = np.linalg.norm(f[:, None] - f[None], axis=-1)
    same = max(d[0, 1], d[2, 3], d[4, 5])
    diff = min(d[i, j] for i in range(6) for j in range(6) if i // 2 != j // 2)
    print("  tiny: max same-texture L2 %.3f, min cross-texture L2 %.3f" % (same, diff), file=sys.stderr)
    if not diff > 2 * same:
        raise SystemExit("tiny texture check FAILED: same %.3f vs different %.3f" % (same, diff))
    return {"same_texture_max_l2": float(same), "cross_texture_min_l2": float(diff)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    save_atomic(build(), a.out)
    print(json.dumps(texture_check(a.out) if a.check else {}))


if __name__ == "__main__":
    main()
