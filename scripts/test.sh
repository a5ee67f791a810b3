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
python3 scripts/provision.py --cache "$TESSERA_CACHE" --only runtime,models,samples,servers

# The cache tests run a real redis-server (Debian's 7.0); each test starts its own on a free
# loopback port, so a system instance does not get in the way.
if ! command -v redis-server >/dev/null 2>&1 && [[ -z "${TESSERA_REDIS_SERVER:-}" ]]; then
    echo "== installing redis-server from Debian"
    if [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    else
        echo "redis-server is missing: install it (apt-get install redis-server) or set TESSERA_REDIS_SERVER" >&2
        exit 1
    fi
fi

echo "== provisioning script unit tests"
python3 -m unittest discover -s scripts/tests

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== cargo test"
cargo test --workspace "$@"
