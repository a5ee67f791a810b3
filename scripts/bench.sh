#!/usr/bin/env bash
# The segmentation benchmark. Prints, from one run on this machine:
#  1. `tessera segment` end to end (process start included) on a 2048² frame (64-px chips,
#     stride 64: 1024 chips) and a 4096² frame (stride 32: 16129 chips), 3 runs each with the
#     FP32 model and with the INT8 one, alternating, with the stage times from the
#     report, the share of the time spent outside the model, and a before/after table;
#  2. `tessera segment` on a folder of 4 copies of the 2048² frame (reading the next file,
#     the model and writing the last file's outputs overlap), per frame against one frame alone;
#  3. the chip graph's dense steps (k-NN and confidence margins) on the host and as ONNX graphs
#     on the CPU provider (what --graph-on device runs);
#  4. the model's own throughput (Rust, ort), FP32 and INT8, and the same models through the
#     ONNX Runtime Python API at 64 px and at 224 px (the published method's input size);
#  5. Leiden against python-igraph on the same 100k-node k-NN graph (scripts/bench_leiden.sh).
# Figures are ratios measured in one run: this machine is shared and noisy.
# BENCH_QUICK=1: a 256² frame, one run, a few chips and the quick Leiden benchmark, built with
# the test profile: a check that every step still runs (the test command makes it); its
# figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
data="$target/bench-data"
profile=release bin="$target/release" frames=("2048 64" "4096 32") runs="1 2 3"
packages=(-p tessera-cli -p tessera-tests)
model_chips=1024 peer_sizes=64,224 peer_seconds=3 dense_chips=4096 folder_copies=4
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    # The whole workspace, as the test command builds it: the same features, so nothing of
    # its test build is compiled again.
    profile=test bin="$target/debug" frames=("256 32") runs=1 packages=(--workspace)
    model_chips=128 peer_sizes=64 peer_seconds=0.2 dense_chips=256 folder_copies=2
fi

python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,samples >/dev/null
cargo build --profile "$profile" --quiet "${packages[@]}" --examples --bins
sizes=()
for spec in "${frames[@]}"; do sizes+=("${spec%% *}"); done
"$bin/examples/bench_pipeline" write "$data" "${sizes[@]}"

echo "== tessera segment, end to end (process start included): FP32 (--precision fp32) and the"
echo "   quantised INT8 model (--precision int8: the CPU default where the CPU has 8-bit dot"
echo "   products, VNNI or DOTPROD), alternating"
results="$data/segment-results.tsv"
: > "$results"
for spec in "${frames[@]}"; do
    set -- $spec
    size=$1 stride=$2
    for run in $runs; do
        for precision in fp32 int8; do
            out="$data/out-$size-$precision-$run"
            start=$(date +%s%N)
            "$bin/tessera" segment "$data/bench-$size.png" --stride "$stride" --precision "$precision" \
                --out "$out" >/dev/null 2>&1
            end=$(date +%s%N)
            python3 - "$out/bench-$size.json" "$(( (end - start) / 1000000 ))" "$run" "$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); run = sys.argv[3]
st = dict(r["timings_ms"]["stages"])
embed = st.get("embed", 0.0)
inproc = sum(st.values())
stages = " ".join(f"{k}={v:.0f}" for k, v in r["timings_ms"]["stages"])
stages += f" | model load (once per command) {r['model']['load_ms']:.0f}"
prec = r["model"]["precision"]
print(f"{r['width']}x{r['height']} stride {r['grid']['stride']} {prec}: "
      f"{r['chips']} chips, run {run}: wall {wall:.0f} ms, in-process {inproc:.0f} ms, "
      f"embed {embed:.0f} ms ({r['chips'] / embed * 1e3:.0f} chips/s), outside the model "
      f"{100 * (wall - embed) / wall:.1f}% of wall, {100 * (inproc - embed) / inproc:.1f}% in-process")
print(f"    stages (ms): {stages}")
with open(sys.argv[4], "a") as f:
    f.write(f"{r['width']}\t{prec}\t{wall}\t{embed}\t{inproc}\n")
PY
        done
    done
done
echo "== before (FP32) and after (INT8): medians of the runs above"
python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
print(f"{'frame':>6} {'':>10} {'fp32':>9} {'int8':>9} {'int8/fp32':>10}")
for side in sorted({int(r[0]) for r in rows}):
    for col, what in [(2, "wall ms"), (3, "embed ms"), (4, "in-proc ms")]:
        med = {p: statistics.median(float(r[col]) for r in rows if int(r[0]) == side and r[1] == p)
               for p in ("fp32", "int8")}
        print(f"{side:>6} {what:>10} {med['fp32']:>9.0f} {med['int8']:>9.0f} {med['int8'] / med['fp32']:>10.2f}")
PY

set -- ${frames[0]}
side=$1 stride=$2
echo "== tessera segment on a folder of $folder_copies copies of the ${side}² frame (stride $stride):"
echo "   the next file is read and the last one's outputs written while the model runs"
folder="$data/folder-$side"
rm -rf "$folder" && mkdir -p "$folder"
for i in $(seq "$folder_copies"); do cp "$data/bench-$side.png" "$folder/f$i.png"; done
for run in $runs; do
    start=$(date +%s%N)
    "$bin/tessera" segment "$data/bench-$side.png" --stride "$stride" --out "$data/one" >/dev/null 2>&1
    mid=$(date +%s%N)
    "$bin/tessera" segment "$folder" --stride "$stride" --out "$data/folder-out" >/dev/null 2>&1
    end=$(date +%s%N)
    one=$(( (mid - start) / 1000000 )) all=$(( (end - mid) / 1000000 ))
    python3 - "$one" "$all" "$folder_copies" <<'PY'
import sys
one, all_, n = map(int, sys.argv[1:])
each = (all_ - one) / max(n - 1, 1)
print(f"one frame {one} ms; a folder of {n}: {all_} ms, {each:.0f} ms for each frame after the "
      f"first ({each / one:.2f} of one frame alone)")
PY
done

echo "== the chip graph's dense steps: the host code against ONNX graphs on the CPU provider"
"$bin/examples/bench_pipeline" dense "$dense_chips" 1285 10

echo "== the model alone (Rust, ort), FP32 and INT8"
"$bin/examples/bench_pipeline" model 64 "$model_chips" efficientnet-lite0
"$bin/examples/bench_pipeline" model 64 "$model_chips" efficientnet-lite0-int8
echo "== the same models through the ONNX Runtime Python API (peer), 2 threads, batch 64"
for model in efficientnet-lite0 efficientnet-lite0-int8; do
    "$TESSERA_CACHE/venv/bin/python" scripts/tests/bench_efficientnet.py --cache "$TESSERA_CACHE" \
        --model "$model" --sizes "$peer_sizes" --seconds "$peer_seconds" --no-spin
done

echo "== Leiden against igraph"
bash scripts/bench_leiden.sh 2>&1 | grep -v '^RESULT'
