"""Prepend Tessera's chip preprocessing to an encoder, so it runs in the graph (on the GPU there).

The new model takes the chips as they are: input ``chips`` [N, 1, CHIP, CHIP], uint8 (v * 255,
rounded) or float32 (v in 0..1), one grey channel at the chip's own side. The graph
resamples each chip to the network side S with the separable triangle filter of Tessera's host
path (shared/embedding/src/preprocess.rs: half-pixel centres, support widened when shrinking,
taps clipped at the borders and renormalised), as two MatMuls with fixed weight matrices, then
writes the plane into every channel through the manifest's affine normalisation by broadcasting.
The upload per chip is CHIP*CHIP bytes (uint8) instead of 3*S*S float32s.

The manifest of the new model is the old one with ``input = "chips"`` and a table

    [raw_input]
    dtype = "uint8"     # uint8 | float32
    chip = 64           # the chip side the graph resamples from

Usage: python -m tessera_provision.raw_input --src DIR --out DIR --chip 64 --dtype uint8
(DIR: a folder with manifest.toml and its model). NCHW models only.
"""
import argparse
import json
import os
import sys
import tomllib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .onnx_util import save_atomic

# float16 would halve float32's upload too, but the Rust side has no f16 tensors yet (ort's "half" feature)
DTYPES = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}


def axis_weights(src, dst):
    """[dst, src] resampling matrix, the same taps as preprocess.rs `axis_taps` (in float64)."""
    scale = src / dst
    support = max(scale, 1.0)
    w = np.zeros((dst, src), np.float64)
    for o in range(dst):
        centre = (o + 0.5) * scale - 0.5
        lo = max(int(np.ceil(centre - support)), 0)
        hi = min(int(np.floor(centre + support)), src - 1)
        taps = np.array([max(1.0 - abs(i - centre) / support, 0.0) for i in range(lo, hi + 1)])
        if taps.sum() > 0:
            w[o, lo:hi + 1] = taps / taps.sum()
        else:
            w[o, min(max(int(round(centre)), 0), src - 1)] = 1.0
    return w.astype(np.float32)


def affine(manifest):
    """Per-channel (a, b) with x = v * a + b for v in 0..1, as ModelManifest::affine."""
    n = manifest["normalize"]
    count = 1 if manifest["channels"] == "GRAY" else 3
    out = []
    for c in range(count):
        mean = n["mean"][min(c, len(n["mean"]) - 1)]
        std = n["std"][min(c, len(n["std"]) - 1)]
        out.append((n["scale"] / std, -mean / std))
    return np.array(out, np.float32)


def prepend(model, manifest, chip, dtype):
    if manifest.get("layout") != "NCHW":
        raise SystemExit("raw_input: only NCHW models are supported, not %s" % manifest.get("layout"))
    side = manifest["input_size"]
    name = manifest["input"]
    ab = affine(manifest)
    if dtype == "uint8":
        ab[:, 0] /= 255.0  # the chips arrive as v * 255
    g = model.graph
    inits = [numpy_helper.from_array(axis_weights(chip, side).T.copy(), "raw_wh_t"),
             numpy_helper.from_array(axis_weights(chip, side), "raw_wv"),
             numpy_helper.from_array(ab[:, 0].reshape(1, -1, 1, 1), "raw_a"),
             numpy_helper.from_array(ab[:, 1].reshape(1, -1, 1, 1), "raw_b")]
    src = "chips"
    nodes = []
    if dtype != "float32":
        nodes.append(helper.make_node("Cast", [src], ["raw_f32"], name="raw_cast", to=TensorProto.FLOAT))
        src = "raw_f32"
    if chip != side:
        nodes += [helper.make_node("MatMul", [src, "raw_wh_t"], ["raw_rows"], name="raw_resize_h"),
                  helper.make_node("MatMul", ["raw_wv", "raw_rows"], ["raw_plane"], name="raw_resize_v")]
        src = "raw_plane"
    nodes += [helper.make_node("Mul", [src, "raw_a"], ["raw_scaled"], name="raw_scale"),
              helper.make_node("Add", ["raw_scaled", "raw_b"], [name], name="raw_shift")]
    old_inputs = [i for i in g.input if i.name != name]
    g.ClearField("input")
    g.input.extend([helper.make_tensor_value_info("chips", DTYPES[dtype], ["N", 1, chip, chip])] + old_inputs)
    g.initializer.extend(inits)
    for n in reversed(nodes):
        g.node.insert(0, n)
    model.doc_string += " Chip preprocessing in the graph: %s chips of side %d." % (dtype, chip)
    onnx.checker.check_model(model, full_check=True)
    return model


def manifest_text(src_text, name, chip, dtype):
    lines = []
    for line in src_text.splitlines():
        if line.split("=")[0].strip() == "name":
            line = 'name = "%s"' % name
        if line.split("=")[0].strip() == "input":
            line = 'input = "chips"'
        if line.split("=")[0].strip() == "dynamic_size":
            line = "dynamic_size = false"
        lines.append(line)
    table = "[raw_input]        # the graph resizes and normalises: feed it chips as they are\n" \
            "dtype = \"%s\"\nchip = %d\n" % (dtype, chip)
    return "\n".join(lines).rstrip() + "\n" + table


def check(path, chip, dtype):
    """The model runs and gives finite rows of the manifest's width."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 1, chip, chip))
    x = np.round(x * 255).astype(np.uint8) if dtype == "uint8" else x.astype(dtype)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    f = s.run(None, {"chips": x})[0]
    if not np.isfinite(f).all():
        raise SystemExit("raw_input check FAILED: non-finite output")
    print("  raw_input: %s chips %dx%d -> %s" % (dtype, chip, chip, list(f.shape)), file=sys.stderr)
    return {"output_shape": list(f.shape)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="folder of the model: manifest.toml + model")
    ap.add_argument("--out", required=True, help="folder to write the new model.onnx + manifest.toml into")
    ap.add_argument("--chip", type=int, required=True)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="uint8")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    with open(os.path.join(a.src, "manifest.toml"), "rb") as f:
        src_text = f.read().decode()
    manifest = tomllib.loads(src_text)
    model = onnx.load(os.path.join(a.src, manifest["file"]))
    model = prepend(model, manifest, a.chip, a.dtype)
    os.makedirs(a.out, exist_ok=True)
    onnx_out = os.path.join(a.out, "model.onnx")
    save_atomic(model, onnx_out)
    info = check(onnx_out, a.chip, a.dtype) if a.check else {}
    text = manifest_text(src_text, os.path.basename(os.path.normpath(a.out)), a.chip, a.dtype).replace('file = "%s"' % manifest["file"], 'file = "model.onnx"')
    tmp = os.path.join(a.out, "manifest.toml.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(a.out, "manifest.toml"))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
