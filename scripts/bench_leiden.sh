#!/usr/bin/env bash
# Compares tessera-graph's Leiden with igraph's on the same 100k-node k-NN graph.
# Builds and runs the Rust benchmark (which writes the edge list), sets up a venv with
# python-igraph, runs scripts/bench_leiden.py on that edge list, and prints the speed ratio
# (igraph time / ours) and the modularity difference.
# Env: CARGO_TARGET_DIR (default: target), BENCH_VENV (default: $CARGO_TARGET_DIR/venv-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
edges="$target/bench-leiden-edges.txt"
venv="${BENCH_VENV:-$target/venv-bench}"

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import igraph' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet python-igraph
fi

cargo bench -p tessera-graph --bench leiden -- "$edges" | tee "$target/bench-leiden-ours.txt"
"$venv/bin/python" scripts/bench_leiden.py "$edges" | tee "$target/bench-leiden-igraph.txt"
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
