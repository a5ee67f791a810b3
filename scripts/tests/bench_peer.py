"""The peer of shared/embedding/examples/embed_bench.rs: the same model, batch sizes and provider
through the ONNX Runtime Python API, chips/s per batch size (for scripts/bench_gpu.sh).

    PY scripts/tests/bench_peer.py --manifest DIR/manifest.toml [--provider cpu|cuda[:N]|tensorrt[:N]]
        [--precision fp32|fp16|int8] [--batches 1,8,64] [--chips 256] [--chip 64] [--engine-cache DIR]
        [--threads 0]

The input is made once per batch size, already in the model's input form (a [batch, 3, S, S] float32
tensor, or [batch, 1, chip, chip] chips for a [raw_input] model), so the peer times session.run only:
data preparation is not counted against it. A provider that does not load is an error.
Prints one line per batch size: `peer model=... provider=... precision=... batch=... chips=...
seconds=... chips_per_s=...`.
"""
import argparse
import os
import sys
import time
import tomllib

import numpy as np
import onnxruntime as ort


def providers(name, precision, engine_cache):
    kind, _, dev = name.lower().partition(":")
    dev = int(dev or 0)
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    cuda = ("CUDAExecutionProvider", {"device_id": dev})
    if kind == "cuda":
        return [cuda]
    if kind in ("tensorrt", "trt"):
        trt = {"device_id": dev, "trt_fp16_enable": precision != "fp32", "trt_int8_enable": precision == "int8"}
        if engine_cache:
            os.makedirs(engine_cache, exist_ok=True)
            trt.update(trt_engine_cache_enable=True, trt_engine_cache_path=engine_cache,
                       trt_timing_cache_enable=True, trt_timing_cache_path=engine_cache)
        return [("TensorrtExecutionProvider", trt), cuda]
    raise SystemExit("unknown provider %s" % name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--provider", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batches", default="1,8,64")
    ap.add_argument("--chips", type=int, default=256)
    ap.add_argument("--chip", type=int, default=64)
    ap.add_argument("--engine-cache")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    with open(a.manifest, "rb") as f:
        m = tomllib.load(f)
    path = os.path.join(os.path.dirname(a.manifest), m["file"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as Tessera's default
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    wanted = providers(a.provider, a.precision, a.engine_cache)
    sess = ort.InferenceSession(path, so, providers=wanted)
    first = wanted[0] if isinstance(wanted[0], str) else wanted[0][0]
    if sess.get_providers()[0] != first:
        raise SystemExit("peer: %s did not load (session has %s)" % (first, sess.get_providers()))
    raw = m.get("raw_input")
    side = m["input_size"] if raw or not m.get("dynamic_size") else a.chip
    rng = np.random.default_rng(0)
    for batch in [int(b) for b in a.batches.split(",")]:
        if raw:
            x = rng.uniform(0, 1, (batch, 1, raw["chip"], raw["chip"]))
            x = np.round(x * 255).astype(np.uint8) if raw["dtype"] == "uint8" else x.astype(np.float32)
        else:
            x = rng.uniform(-1, 1, (batch, 3, side, side)).astype(np.float32)
        feed = {m["input"]: x}
        sess.run([m["output"]], feed)  # warm-up: engine build, allocations
        calls = max(1, -(-a.chips // batch))
        t = time.perf_counter()
        for _ in range(calls):
            sess.run([m["output"]], feed)
        seconds = time.perf_counter() - t
        print("peer model=%s provider=%s precision=%s batch=%d chips=%d side=%d seconds=%.4f chips_per_s=%.1f"
              % (m["name"], a.provider, a.precision, batch, calls * batch, side, seconds, calls * batch / seconds))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
