#!/usr/bin/env bash
# The soak (issue 5): a steady stream of frames through the four services, each in its own
# process, with nats-server (file store), redis-server and the default model. It measures
# the rate the machine sustains, then publishes at 80 % of it for MINUTES and prints every
# 15 s the queue lags and each service's RSS; at the end throughput, latency p50/p90/p99,
# lost and duplicated frames, and each service's memory growth after the first minute.
# Usage: scripts/soak.sh [MINUTES=10] [SIZE=512] [FPS=auto]
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
target="${CARGO_TARGET_DIR:-target}"
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,servers >/dev/null
bash scripts/install-redis.sh
cargo build --release --quiet -p tessera-ingest -p tessera-embedder -p tessera-clusterer \
  -p tessera-publisher -p tessera-tests --examples --bins
"$target/release/examples/soak" "${1:-10}" "${2:-512}" ${3:+"$3"}
