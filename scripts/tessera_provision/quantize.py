"""A float ONNX encoder -> static INT8 (QDQ, per-channel weights), calibrated on chips of the
sample images, with ONNX Runtime's own quantisation tools (the onnxruntime wheel of the venv).

Calibration chips are cut as Tessera cuts them: each grey image clipped at its 0.5 and 99.5
percentiles and scaled to [0, 1], chips of the given sides overlapping by half (the default
grid), replicated to 3 channels and normalised as the manifest says. Activations are uint8,
their ranges chosen by entropy (KL) calibration, weights int8 per output channel. The
self-check embeds held-out chips (other offsets) with both models; when their mean cosine
similarity is under --min-cosine, the weights are quantised to uint8 instead (CPUs without
VNNI), and when that fails too, so does the script.

Measured on the tuning sets (README, "INT8 on the CPU"): entropy calibration on the
half-overlapping chips keeps every group's mean ARI within 0.01 of FP32; min-max or
percentile ranges, non-overlapping chips only, or keeping the depthwise convolutions or the
residual additions in float lose more (and the last two are slower than FP32).

Usage (inside the provisioning venv):
    python -m tessera_provision.quantize --src model.onnx --out int8.onnx --samples DIR \
        --scale 255 --mean 127 --std 128 [--sides 64] [--method Entropy] [--stride-div 2] [--min-cosine 0.95]
Prints one JSON line: the calibration chip count, the check's cosine similarities for each
weight type tried, and the weight type kept (`weights`).
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

IMAGE_EXTS = (".png", ".tif", ".tiff")
BATCH = 32


def grey_unit(path):
    """The image as float32 grey in [0, 1], clipped at its 0.5 and 99.5 percentiles."""
    im = Image.open(path)
    a = np.asarray(im if im.mode in ("F", "I", "I;16") else im.convert("L"), dtype=np.float32)
    if a.ndim == 3:
        a = a.mean(axis=2)
    lo, hi = np.percentile(a, [0.5, 99.5])
    return np.clip((a - lo) / max(hi - lo, 1e-12), 0.0, 1.0)


def chips(images, side, offset, stride=None):
    """Chips of `side` on a grid of `stride` (default `side`), starting at `offset` pixels."""
    out = []
    stride = stride or side
    for a in images:
        h, w = a.shape
        for y in range(offset, h - side + 1, stride):
            for x in range(offset, w - side + 1, stride):
                out.append(a[y:y + side, x:x + side])
    return out


def to_input(grey, scale, mean, std):
    """[N, side, side] in [0, 1] -> [N, 3, side, side] network input."""
    x = (np.stack(grey) * scale - mean) / std
    return np.repeat(x[:, None], 3, axis=1).astype(np.float32)


class Chips(CalibrationDataReader):
    def __init__(self, name, batches):
        self.name, self.it = name, iter(batches)

    def get_next(self):
        b = next(self.it, None)
        return None if b is None else {self.name: b}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--scale", type=float, required=True)
    p.add_argument("--mean", type=float, required=True)
    p.add_argument("--std", type=float, required=True)
    p.add_argument("--sides", default="64")
    p.add_argument("--min-cosine", type=float, default=0.95)
    p.add_argument("--method", default="Entropy", choices=["MinMax", "Percentile", "Entropy"])
    p.add_argument("--stride-div", type=int, default=2, help="calibration chips every side/N pixels")
    a = p.parse_args()

    files = sorted(f for f in os.listdir(a.samples) if f.lower().endswith(IMAGE_EXTS))
    # adf_stem.png is the same image as adf_stem.tif, min-max scaled
    files = [f for f in files if f != "adf_stem.png"]
    if not files:
        sys.exit("no sample images in %s" % a.samples)
    images = [grey_unit(os.path.join(a.samples, f)) for f in files]
    src = ort.InferenceSession(a.src, providers=["CPUExecutionProvider"])
    name = src.get_inputs()[0].name
    out_name = src.get_outputs()[0].name
    sides = [int(s) for s in a.sides.split(",")]
    batches = []
    for side in sides:
        x = to_input(chips(images, side, 0, side // a.stride_div), a.scale, a.mean, a.std)
        # whole batches only: the histogram calibrators stack them
        batches += [x[i:i + BATCH] for i in range(0, len(x) - BATCH + 1, BATCH)]
    n_cal = sum(len(b) for b in batches)

    held = to_input(chips(images, sides[0], sides[0] // 2)[::4], a.scale, a.mean, a.std)
    f = src.run([out_name], {name: held})[0]
    info = {"calibration_chips": n_cal, "sides": sides, "check_chips": len(held)}
    # int8 weights first (measured, see above); where they fail the check, uint8 weights. On
    # x86 CPUs without VNNI, ONNX Runtime's u8 x s8 kernels can saturate their 16-bit
    # intermediate sums, which the check sees as a mean cosine near 0.84; u8 x u8 does not.
    for weights, weight_type in (("int8", QuantType.QInt8), ("uint8", QuantType.QUInt8)):
        with tempfile.TemporaryDirectory() as tmp:
            pre = os.path.join(tmp, "pre.onnx")
            quant_pre_process(a.src, pre, skip_symbolic_shape=True)
            quantize_static(pre, a.out, Chips(name, batches), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=weight_type,
                            calibrate_method=getattr(CalibrationMethod, a.method))
        q = ort.InferenceSession(a.out, providers=["CPUExecutionProvider"])
        g = q.run([out_name], {name: held})[0]
        cos = (f * g).sum(1) / (np.linalg.norm(f, axis=1) * np.linalg.norm(g, axis=1) + 1e-12)
        info[weights] = {"cosine_mean": round(float(cos.mean()), 4),
                         "cosine_min": round(float(cos.min()), 4)}
        if cos.mean() >= a.min_cosine:
            info["weights"] = weights
            break
    else:
        sys.exit("INT8 model fails its check with int8 and with uint8 weights: mean cosine under "
                 "%.4f against the float model (%s)" % (a.min_cosine, json.dumps(info)))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
