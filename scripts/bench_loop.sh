#!/usr/bin/env bash
# The closed loop's benchmark. Prints, from one run on this machine, for 1024² frames of a
# synthetic irradiation series run by an instrument that obeys (each frame waits for its
# decision), with nats-server and every service in one process: last chip embedded →
# decision, result → decision, and instrument publish → decision, per frame and p50/p99.
# Usage: scripts/bench_loop.sh [FRAMES] [SIZE].
# BENCH_QUICK=1: three 256² frames, built with the test profile: a check that it still runs
# (the test command makes it); its figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
profile=release bin="$target/release" frames="${1:-21}" size="${2:-1024}"
packages=(-p tessera-tests)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    # The whole workspace, as the test command builds it (the same features).
    profile=test bin="$target/debug" frames="${1:-3}" size="${2:-256}" packages=(--workspace)
fi
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,servers >/dev/null
cargo build --profile "$profile" --quiet "${packages[@]}" --examples
"$bin/examples/bench_loop" "$frames" "$size"
