"""Throughput of the provisioned EfficientNet-Lite0 (or its INT8 twin, --model efficientnet-lite0-int8)
in onnxruntime (Python), chips/s per input side.

    DIR/venv/bin/python scripts/tests/bench_efficientnet.py --cache DIR [--model NAME] [--threads 2] [--batch 64]
"""
import argparse
import os
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default=os.environ.get("TESSERA_CACHE", os.path.expanduser("~/.cache/tessera")))
    ap.add_argument("--model", default="efficientnet-lite0", help="a provisioned model's folder name")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sizes", default="64,96,128,224")
    ap.add_argument("--no-spin", action="store_true", help="session.intra_op.allow_spinning = 0")
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds per size")
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    if a.no_spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(a.cache, "models", a.model, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    print("%s: onnxruntime %s, threads %d, batch %d" % (a.model, ort.__version__, a.threads, a.batch))
    for size in [int(s) for s in a.sizes.split(",")]:
        x = rng.uniform(-1, 1, (a.batch, 3, size, size)).astype(np.float32)
        out = sess.run(["features"], {"input": x})[0]  # warm-up
        assert out.shape == (a.batch, 1280), out.shape
        times, t0, c0 = [], time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < a.seconds or len(times) < 3:
            t = time.perf_counter()
            sess.run(["features"], {"input": x})
            times.append(time.perf_counter() - t)
        cpu = time.process_time() - c0  # all threads; includes the runtime's spin-waiting
        med, best = float(np.median(times)), min(times)
        # on a shared machine the median suffers from other load; the best batch is the closest
        # to an idle machine
        print("side %3d: %7.1f chips/s median, %7.1f best  (%.0f ms median per batch of %d, %d batches; "
              "%.0f chips per CPU-second)" % (size, a.batch / med, a.batch / best, 1000 * med, a.batch,
                                               len(times), a.batch * len(times) / cpu))

if __name__ == "__main__":
    main()
