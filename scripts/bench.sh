#!/usr/bin/env bash
# The segmentation benchmark. Prints, from one run on this machine:
#  1. `tessera segment` end to end (process start included) on a 2048² frame (64-px chips,
#     stride 64: 1024 chips) and a 4096² frame (stride 32: 16129 chips), 3 runs each, with
#     the stage times from the report and the share of the time spent outside the model;
#  2. the model's own throughput (Rust, ort) and the same model through the ONNX Runtime
#     Python API at 64 px and at 224 px (the published method's input size);
#  3. Leiden against python-igraph on the same 100k-node k-NN graph (scripts/bench_leiden.sh).
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
model_chips=1024 peer_sizes=64,224 peer_seconds=3
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    # The whole workspace, as the test command builds it: the same features, so nothing of
    # its test build is compiled again.
    profile=test bin="$target/debug" frames=("256 32") runs=1 packages=(--workspace)
    model_chips=128 peer_sizes=64 peer_seconds=0.2
fi

python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,samples >/dev/null
cargo build --profile "$profile" --quiet "${packages[@]}" --examples --bins
sizes=()
for spec in "${frames[@]}"; do sizes+=("${spec%% *}"); done
"$bin/examples/bench_pipeline" write "$data" "${sizes[@]}"

echo "== tessera segment, end to end (process start included)"
for spec in "${frames[@]}"; do
    set -- $spec
    size=$1 stride=$2
    for run in $runs; do
        out="$data/out-$size-$run"
        start=$(date +%s%N)
        "$bin/tessera" segment "$data/bench-$size.png" --stride "$stride" --out "$out" >/dev/null 2>&1
        end=$(date +%s%N)
        python3 - "$out/bench-$size.json" "$(( (end - start) / 1000000 ))" "$run" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); run = sys.argv[3]
st = dict(r["timings_ms"]["stages"])
embed = st.get("embed", 0.0)
stages = " ".join(f"{k}={v:.0f}" for k, v in r["timings_ms"]["stages"])
stages += f" | model load (once per command) {r['model']['load_ms']:.0f}"
print(f"{r['width']}x{r['height']} stride {r['grid']['stride']}: "
      f"{r['chips']} chips, run {run}: wall {wall:.0f} ms, in-process {sum(st.values()):.0f} ms, "
      f"embed {embed:.0f} ms ({r['chips'] / embed * 1e3:.0f} chips/s), outside the model "
      f"{100 * (wall - embed) / wall:.1f}% of wall, {100 * (sum(st.values()) - embed) / sum(st.values()):.1f}% in-process")
print(f"    stages (ms): {stages}")
PY
    done
done

echo "== the model alone"
"$bin/examples/bench_pipeline" model 64 "$model_chips"
echo "== the same model through the ONNX Runtime Python API (peer), 2 threads, batch 64"
"$TESSERA_CACHE/venv/bin/python" scripts/tests/bench_efficientnet.py --cache "$TESSERA_CACHE" \
    --sizes "$peer_sizes" --seconds "$peer_seconds" --no-spin

echo "== Leiden against igraph"
bash scripts/bench_leiden.sh 2>&1 | grep -v '^RESULT'
