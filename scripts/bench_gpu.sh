#!/usr/bin/env bash
# The embedding benchmark for a GPU machine (issue 6); it also runs on a CPU-only one with
# PROVIDERS=cpu. Prints, from one run:
#  1. chips/s against batch size for each provider (cpu, cuda, tensorrt), precision (fp32; fp16
#     and int8 on TensorRT; fp16 on CUDA through the FP16 model) and model (ResNet50-shaped with
#     random weights, EfficientNet-Lite0), from Tessera (shared/embedding/examples/embed_bench.rs,
#     chips in [0,1] to embeddings, host preparation included) and beside it the ONNX Runtime
#     Python API on the same model, batch and provider (scripts/tests/bench_peer.py, session.run
#     on a ready input), with the ratio Tessera / Python; on a GPU also Tessera one batch at a
#     time (--staging plain), to show what overlapping the uploads with compute gains;
#     On CUDA, each of CUDA_TUNINGS (cuDNN's convolution search, NHWC) against the same
#     default Python session, with the first (warm-up) batch's time, where the exhaustive
#     search is paid;
#  2. the same for the in-graph preprocessing variant of each model (<model>@u8x<chip>: the chips
#     go up as bytes, resampled and normalised by the graph on the device);
#  3. `tessera segment` on a 4096x4096 frame cut into 4096 chips of 64 px, end to end (process
#     start included), with the stage times of its report, once with the chip graph's k-NN and
#     margins on the host and once beside the model (--graph-on host / device).
#
# Settings (environment):
#   PROVIDERS   "cpu cuda tensorrt"       (default: cpu, plus cuda and tensorrt when nvidia-smi works)
#   MODELS      "resnet50 efficientnet-lite0"
#   BATCHES     comma list, default 64,256,512,1024 on a GPU, 8,32,64 on the CPU
#   CHIPS       chips timed per batch size, default 4096 on a GPU, 64 on the CPU
#   CHIP        chip side, default 64
#   E2E         1 to run part 3 (default 1); E2E_RUNS, model:provider:precision per run (default on a GPU:
#               ResNet50 FP16 and FP32 on CUDA and TensorRT, with and without in-graph preprocessing;
#               on the CPU efficientnet-lite0:cpu:fp32); E2E_BATCH (default: the provider's default)
#   FRAME       side of the end-to-end frame, default 4096
#   GRAPH_ON    where part 3 runs the k-NN and margins, default "host device" (both, in turn)
#   THREADS     intra-op threads for both sides (0: one per core)
#   CUDA_TUNINGS  search:nhwc pairs tried on CUDA (default "exhaustive:0 heuristic:0
#               exhaustive:1 heuristic:1"; the first is ONNX Runtime's default session)
#   BENCH_QUICK=1  CPU only, EfficientNet-Lite0, batch 8, 16 chips, a 256² frame, built with
#               the test profile: a check that every step still runs (the test command makes
#               it); its figures mean nothing
#   STEP_TIMEOUT  seconds one measurement may take before it is reported as timed out (default 300)
# For a machine without Rust or network access (a lent GPU box), with everything carried there:
#   BIN_DIR     folder holding prebuilt `tessera` and `embed_bench` (skips cargo build)
#   NO_PROVISION=1  the models are already in $TESSERA_CACHE/models (skips scripts/provision.py)
#   GPU_LIB     the onnxruntime-gpu libonnxruntime.so.1.31.1 (default $TESSERA_CACHE/runtime-gpu/)
#   PEER_PY     a Python whose onnxruntime is onnxruntime-gpu 1.31.1 (default: a venv made here)
# The GPU parts need `tessera provision --gpu` (the onnxruntime-gpu runtime in
# $TESSERA_CACHE/runtime-gpu/) and CUDA 13, cuDNN 9 and TensorRT 10 libraries on LD_LIBRARY_PATH;
# the Python peer for GPUs gets its own venv ($TESSERA_CACHE/venv-gpu, onnxruntime-gpu==1.31.1).
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    : "${BENCH_PROFILE:=test}" "${PROVIDERS:=cpu}" "${MODELS:=efficientnet-lite0}"
    : "${BATCHES:=8}" "${CHIPS:=16}" "${FRAME:=256}"
fi
FRAME="${FRAME:-4096}"
profile="${BENCH_PROFILE:-release}"
bin="$target/$([ "$profile" = release ] && echo release || echo debug)"
data="$target/bench-gpu"
mkdir -p "$data"

gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=1; fi
PROVIDERS="${PROVIDERS:-$([ $gpu = 1 ] && echo "cpu cuda tensorrt" || echo cpu)}"
MODELS="${MODELS:-resnet50 efficientnet-lite0}"
on_gpu=0
for p in $PROVIDERS; do [ "$p" != cpu ] && on_gpu=1; done
BATCHES="${BATCHES:-$([ $on_gpu = 1 ] && echo 64,256,512,1024 || echo 8,32,64)}"
CHIPS="${CHIPS:-$([ $on_gpu = 1 ] && echo 4096 || echo 64)}"
CHIP="${CHIP:-64}"
THREADS="${THREADS:-0}"
CUDA_TUNINGS="${CUDA_TUNINGS:-exhaustive:0 heuristic:0 exhaustive:1 heuristic:1}"
E2E="${E2E:-1}"
GRAPH_ON="${GRAPH_ON:-host device}"
# model:provider:precision per end-to-end run; on CUDA the FP16 model carries the precision
gpu_e2e="resnet50-fp16@u8x$CHIP:cuda:fp32 resnet50@u8x$CHIP:cuda:fp32 resnet50-fp16:cuda:fp32"
gpu_e2e="$gpu_e2e resnet50@u8x$CHIP:tensorrt:fp16 resnet50:tensorrt:fp16"
E2E_RUNS="${E2E_RUNS:-$([ $on_gpu = 1 ] && echo "$gpu_e2e" || echo efficientnet-lite0:cpu:fp32)}"

steps=runtime,models
case " $MODELS " in *" resnet50 "*) steps="$steps,resnet50" ;; esac
[ $on_gpu = 1 ] && steps="$steps,runtime-gpu"
raw=""
for m in $MODELS; do raw="$raw${raw:+,}$m@u8x$CHIP"; done
[ $on_gpu = 1 ] && raw="$raw,resnet50-fp16@u8x$CHIP"
if [ "${NO_PROVISION:-0}" != 1 ]; then
    python3 scripts/provision.py --cache "$TESSERA_CACHE" --only "$steps,raw-input" --raw-input "$raw" >/dev/null
fi
if [ -n "${BIN_DIR:-}" ]; then
    bench="$BIN_DIR/embed_bench" cli="$BIN_DIR/tessera"
else
    if [ "${BENCH_QUICK:-0}" = 1 ]; then
        # The whole workspace, as the test command builds it (the same features).
        cargo build --profile "$profile" --quiet --workspace --bins --examples
    else
        cargo build --profile "$profile" --quiet -p tessera-embedding --example embed_bench
        cargo build --profile "$profile" --quiet -p tessera-cli
    fi
    bench="$bin/examples/embed_bench" cli="$bin/tessera"
fi
STEP_TIMEOUT="${STEP_TIMEOUT:-300}"

cpu_lib="$TESSERA_CACHE/runtime/libonnxruntime.so.1.31.1"
gpu_lib="${GPU_LIB:-$TESSERA_CACHE/runtime-gpu/libonnxruntime.so.1.31.1}"
cpu_py="$TESSERA_CACHE/venv/bin/python"
gpu_py="${PEER_PY:-$TESSERA_CACHE/venv-gpu/bin/python}"
if [ $on_gpu = 1 ] && [ -z "${PEER_PY:-}" ] && [ ! -x "$gpu_py" ]; then
    python3 -m venv "$TESSERA_CACHE/venv-gpu"
    "$gpu_py" -m pip install -q --only-binary=:all: onnxruntime-gpu==1.31.1 numpy
fi
[ $gpu = 1 ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "cpu: $(nproc) cores; batches $BATCHES; $CHIPS chips of $CHIP px per batch size; threads $THREADS"

# precisions per provider, and the model file for a precision
precisions() { case $1 in cpu) echo fp32 ;; cuda) echo "fp16 fp32" ;; *) echo "fp16 fp32 int8" ;; esac; }
model_for() {  # model provider precision -> model name, or nothing when there is none
    if [ "$2" = cuda ] && [ "$3" = fp16 ]; then
        case $1 in resnet50) echo resnet50-fp16 ;; esac  # CUDA runs FP16 only from an FP16 model
    else echo "$1"; fi
}

# runs Tessera and the peer; prints both lines and the ratio per batch size
compare() {  # model provider precision [search:nhwc]
    local model=$1 provider=$2 precision=$3 lib=$cpu_lib py=$cpu_py trt_precision=$3
    local tuning=${4:-exhaustive:0}
    [ "$provider" != cpu ] && lib=$gpu_lib py=$gpu_py
    [ "$provider" = cuda ] && trt_precision=fp32  # the FP16 model carries its precision
    local manifest="$TESSERA_CACHE/models/$model/manifest.toml" cache="$TESSERA_CACHE/trt-engines/bench"
    local ours theirs plain=""
    ours=$(timeout "$STEP_TIMEOUT" "$bench" --runtime "$lib" --manifest "$manifest" --provider "$provider" \
        --precision "$trt_precision" --batches "$BATCHES" --chips "$CHIPS" --chip "$CHIP" \
        --engine-cache "$cache" --threads "$THREADS" --conv-search "${tuning%%:*}" --nhwc "${tuning##*:}" \
        2>&1) || { echo "tessera $model $provider $precision $tuning FAILED: $ours"; ours=""; }
    if [ "$provider" != cpu ] && [ "$tuning" = exhaustive:0 ]; then
        plain=$(timeout "$STEP_TIMEOUT" "$bench" --runtime "$lib" --manifest "$manifest" --provider "$provider" \
            --precision "$trt_precision" --batches "$BATCHES" --chips "$CHIPS" --chip "$CHIP" \
            --engine-cache "$cache" --threads "$THREADS" --staging plain 2>&1) || plain=""
    fi
    theirs=$(timeout "$STEP_TIMEOUT" "$py" scripts/tests/bench_peer.py --manifest "$manifest" --provider "$provider" \
        --precision "$trt_precision" --batches "$BATCHES" --chips "$CHIPS" --chip "$CHIP" \
        --engine-cache "$cache-py" --threads "$THREADS" 2>&1) || { echo "peer $model $provider $precision FAILED: $theirs"; return 0; }
    python3 - "$precision" <<PY
import re, sys
def rows(text, tag):
    out = {}
    for line in text.splitlines():
        if line.startswith(tag + " "):
            kv = dict(re.findall(r"(\w+)=(\S+)", line))
            out[int(kv["batch"])] = kv
    return out
ours, theirs = rows("""$ours""", "embed"), rows("""$theirs""", "peer")
plain = rows("""$plain""", "embed")
for b in sorted(set(theirs) - set(ours)):
    t = theirs[b]
    print("%-26s %-10s %-4s batch %5d: tessera FAILED  python %9s chips/s" % (
        t["model"], t["provider"], sys.argv[1], b, t["chips_per_s"]))
for b in sorted(ours):
    o, t, p = ours[b], theirs.get(b), plain.get(b)
    ratio = "%.2f" % (float(o["chips_per_s"]) / float(t["chips_per_s"])) if t else "n/a"
    line = ("%-26s %-10s %-4s batch %5d side %3s: tessera %9.1f chips/s (%s, pinned %s, host %6.1f us, "
            "upload %6d B a chip, cuda %s, first batch %s ms)  python %9s chips/s  ratio %s"
            % (o["model"], o["provider"], sys.argv[1], b, o["side"], float(o["chips_per_s"]), o["staging"],
               o["pinned"], float(o["host_us_per_chip"]), int(o["upload_bytes_per_chip"]), o["cuda"],
               o["first_batch_ms"], t["chips_per_s"] if t else "n/a", ratio))
    if p:
        line += "  plain %9.1f chips/s (overlap gain %.2fx)" % (
            float(p["chips_per_s"]), float(o["chips_per_s"]) / float(p["chips_per_s"]))
    print(line)
PY
}

echo "== 1-2. chips/s against batch size (tessera vs the ONNX Runtime Python API)"
for provider in $PROVIDERS; do
    for precision in $(precisions "$provider"); do
        for base in $MODELS; do
            model=$(model_for "$base" "$provider" "$precision")
            if [ -z "$model" ]; then echo "$base $provider $precision: no FP16 model for CUDA (skipped)"; continue; fi
            tunings=exhaustive:0
            [ "$provider" = cuda ] && tunings=$CUDA_TUNINGS
            for tuning in $tunings; do
                compare "$model" "$provider" "$precision" "$tuning"
                compare "$model@u8x$CHIP" "$provider" "$precision" "$tuning"
            done
        done
    done
done

if [ "$E2E" = 1 ]; then
    echo "== 3. tessera segment, ${FRAME}x$FRAME frame, $(( (FRAME / 64) ** 2 )) chips of 64 px: $E2E_RUNS"
    frame="$data/frame-$FRAME.png"
    frame_py=$cpu_py
    [ -x "$frame_py" ] || frame_py=python3
    [ -f "$frame" ] || "$frame_py" - "$frame" "$FRAME" <<'PY'
import sys
import numpy as np
from PIL import Image
# two textures in a checkerboard of 512-px tiles, plus noise: something to segment
side = int(sys.argv[2])
y, x = np.mgrid[0:side, 0:side]
tile = ((y // 512 + x // 512) % 2).astype(bool)
img = np.where(tile, 0.5 + 0.3 * np.sin(x / 3.0), 0.5 + 0.2 * np.sin((x + y) / 11.0))
img += np.random.default_rng(7).normal(0, 0.05, img.shape)
Image.fromarray((np.clip(img, 0, 1) * 65535).astype(np.uint16)).save(sys.argv[1])
PY
    batch_flag=()
    [ -n "${E2E_BATCH:-}" ] && batch_flag=(--batch "$E2E_BATCH")
    for spec in $E2E_RUNS; do
      for graph_on in $GRAPH_ON; do
        IFS=: read -r model provider precision <<<"$spec"
        lib=$cpu_lib
        [ "$provider" != cpu ] && lib=$gpu_lib
        out="$data/out-${spec//[:@]/-}-$graph_on"
        for run in 1 2; do  # the first run may build TensorRT engines; the second uses the cache
            start=$(date +%s%N)
            if ! ORT_DYLIB_PATH="$lib" timeout "$STEP_TIMEOUT" "$cli" segment "$frame" --chip 64 --stride 64 \
                    --model "$model" --provider "$provider" --precision "$precision" --graph-on "$graph_on" \
                    "${batch_flag[@]}" --threads "$THREADS" --out "$out" >"$data/segment.log" 2>&1; then
                echo "$spec graph on $graph_on: tessera segment FAILED:"; tail -5 "$data/segment.log"; break
            fi
            end=$(date +%s%N)
            python3 - "$out/frame-$FRAME.json" "$(( (end - start) / 1000000 ))" "$spec" "$run" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = float(sys.argv[2])
st = r["timings_ms"]["stages"]
total = sum(v for _, v in st)
names = [k for k, _ in st]
# the label map exists once painted; summary, encode and write make the report and files
labels = sum(v for _, v in st[:names.index("paint") + 1]) if "paint" in names else float("nan")
print("%s graph on %s, run %s: %d chips, batch %s: wall %.0f ms (process start and model load %.0f ms "
      "included), image to labels %.0f ms, with summary and output files %.0f ms"
      % (sys.argv[3], r["model"]["graph_on"], sys.argv[4], r["chips"], r["model"]["batch"], wall,
         r["model"]["load_ms"], labels, total))
print("    stages (ms): " + " ".join("%s=%.1f" % (k, v) for k, v in st))
PY
        done
      done
    done
fi
