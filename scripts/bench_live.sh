#!/usr/bin/env bash
# The live pipeline's benchmark. Prints, from one run on this machine, for 2048² frames:
#  - the single-process core (`tessera segment`'s stages and output encoding) per frame;
#  - the live path (nats-server + redis-server + ingest, clusterer and publisher in one
#    process, one or two `tessera-embedder` processes): sequential publish-to-result latency,
#    pipelined time per frame and its ratio to the single-process time, and a warm-cache
#    re-run against the cold run.
# Usage: scripts/bench_live.sh [FRAMES] [SIZE]. Figures are ratios measured in one run.
# BENCH_QUICK=1: two 256² frames, built with the test profile: a check that it still runs
# (the test command makes it); its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
profile=release bin="$target/release" frames="${1:-6}" size="${2:-2048}"
packages=(-p tessera-embedder -p tessera-tests)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    # The whole workspace, as the test command builds it (the same features).
    profile=test bin="$target/debug" frames="${1:-2}" size="${2:-256}" packages=(--workspace)
fi
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,servers >/dev/null
bash scripts/install-redis.sh
cargo build --profile "$profile" --quiet "${packages[@]}" --examples --bins
"$bin/examples/bench_live" "$frames" "$size"
