#!/usr/bin/env bash
# Runs every test of Tessera on a fresh machine: provisions what the tests need (the ONNX
# Runtime library, the default and tiny models, the sample images) into the cache, then runs
# formatting and lint checks and the whole test suite. CI runs exactly this (.ci/run).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p NAME    # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

echo "== provisioning runtime, models, samples and nats-server into $TESSERA_CACHE"
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,samples,servers,clients

# The cache and live-pipeline tests run a real redis-server (Debian's 7.0); each test starts
# its own on a free loopback port, as it does nats-server.
bash scripts/install-redis.sh
bash scripts/install-browser.sh

echo "== provisioning script unit tests"
python3 -m unittest discover -s scripts/tests

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace "$@"
