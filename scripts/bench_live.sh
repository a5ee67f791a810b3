#!/usr/bin/env bash
# The live pipeline's benchmark. Prints, from one run on this machine, for 2048² frames:
#  - the single-process core (`tessera segment`'s stages and output encoding) per frame;
#  - the live path (nats-server + redis-server + ingest, clusterer and publisher in one
#    process, one or two `tessera-embedder` processes): sequential publish-to-result latency,
#    pipelined time per frame and its ratio to the single-process time, and a warm-cache
#    re-run against the cold run.
# Usage: scripts/bench_live.sh [FRAMES] [SIZE]. Figures are ratios measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,servers >/dev/null
bash scripts/install-redis.sh
cargo build --release --quiet -p tessera-embedder -p tessera-tests --examples --bins
"$target/release/examples/bench_live" "${1:-6}" "${2:-2048}"
