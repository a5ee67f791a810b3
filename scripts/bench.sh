#!/usr/bin/env bash
# The segmentation benchmark. Prints, from one run on this machine:
#  1. `tessera segment` end to end (process start included) on a 2048² frame (64-px chips,
#     stride 64: 1024 chips) and a 4096² frame (stride 32: 16129 chips), 3 runs each, with
#     the stage times from the report and the share of the time spent outside the model;
#  2. the model's own throughput (Rust, ort) and the same model through the ONNX Runtime
#     Python API at 64 px and at 224 px (the published method's input size);
#  3. Leiden against python-igraph on the same 100k-node k-NN graph (scripts/bench_leiden.sh).
# Figures are ratios measured in one run: this machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
data="$target/bench-data"

python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,samples >/dev/null
cargo build --release --quiet -p tessera-cli -p tessera-tests --examples --bins
"$target/release/examples/bench_pipeline" write "$data"

echo "== tessera segment, end to end (process start included)"
for spec in "2048 64" "4096 32"; do
    set -- $spec
    size=$1 stride=$2
    for run in 1 2 3; do
        out="$data/out-$size-$run"
        start=$(date +%s%N)
        "$target/release/tessera" segment "$data/bench-$size.png" --stride "$stride" --out "$out" >/dev/null 2>&1
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
"$target/release/examples/bench_pipeline" model 64 1024
echo "== the same model through the ONNX Runtime Python API (peer), 2 threads, batch 64"
"$TESSERA_CACHE/venv/bin/python" scripts/tests/bench_efficientnet.py --cache "$TESSERA_CACHE" \
    --sizes 64,224 --seconds 3 --no-spin

echo "== Leiden against igraph"
bash scripts/bench_leiden.sh 2>&1 | grep -v '^RESULT'
