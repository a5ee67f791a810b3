#!/usr/bin/env bash
# Compares tessera-graph's Leiden with igraph's on the same 100k-node k-NN graph.
# Builds and runs the Rust benchmark (which writes the edge list), sets up a venv with
# python-igraph, runs scripts/bench_leiden.py on that edge list, and prints the speed ratio
# (igraph time / ours) and the modularity difference.
# Env: CARGO_TARGET_DIR (default: target), BENCH_VENV (default: $CARGO_TARGET_DIR/venv-bench),
# BENCH_QUICK=1 (a 5000-node graph and one seed, built with the test profile: a check that the
# benchmark runs, which the test command makes; its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${CARGO_TARGET_DIR:-target}"
# Absolute: `cargo bench` runs the benchmark in the crate's folder, not here.
target="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
edges="$target/bench-leiden-edges.txt"
runs=5
run=(cargo bench -p tessera-graph --bench leiden --)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    export TESSERA_BENCH_QUICK=1
    runs=1
    # --workspace: the features of the test command's build, so nothing is compiled again.
    run=(cargo test --quiet --workspace --bench leiden --)
fi
venv="${BENCH_VENV:-$target/venv-bench}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import igraph' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet python-igraph
fi

"${run[@]}" "$edges" | tee "$target/bench-leiden-ours.txt"
"$venv/bin/python" scripts/bench_leiden.py "$edges" "$runs" | tee "$target/bench-leiden-igraph.txt"
ours=$(grep '^RESULT ours' "$target/bench-leiden-ours.txt")
theirs=$(grep '^RESULT igraph' "$target/bench-leiden-igraph.txt")

python3 - "$ours" "$theirs" <<'PY'
import re
import sys

def fields(line):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.eE+-]+)", line)}

o, t = fields(sys.argv[1]), fields(sys.argv[2])
print(f"mean time: ours {o['ours_mean_s']:.4f} s, igraph {t['igraph_mean_s']:.4f} s: "
      f"igraph/ours = {t['igraph_mean_s'] / o['ours_mean_s']:.2f}x")
print(f"best time: ours {o['ours_best_s']:.4f} s, igraph {t['igraph_best_s']:.4f} s: "
      f"igraph/ours = {t['igraph_best_s'] / o['ours_best_s']:.2f}x")
oq, tq = o["ours_modularity"], t["igraph_modularity"]
print(f"mean modularity: ours {oq:.6f}, igraph {tq:.6f}: difference {100 * (oq - tq) / tq:+.3f}%")
PY
