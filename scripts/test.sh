#!/usr/bin/env bash
# Runs every test of Tessera on a fresh machine: provisions what the tests need (the ONNX
# Runtime library, the default and tiny models, the sample images) into the cache, then runs
# formatting and lint checks and the whole test suite. CI runs exactly this (.ci/run).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p NAME    # extra arguments go to `cargo test`
#
# After the tests, the deployment checks: scripts/check_deploy.sh (compose.yaml, Helm, NATS
# configurations) and scripts/check_images.sh (the container images built with podman and the
# stack run from them; needs root). Only an explicit TESSERA_SKIP_DEPLOY=1 or
# TESSERA_SKIP_IMAGES=1 leaves one out, and the output says so.
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

if [[ "${TESSERA_SKIP_DEPLOY:-0}" == 1 ]]; then
    echo "== SKIPPED deployment checks: TESSERA_SKIP_DEPLOY=1 (scripts/check_deploy.sh did not run)"
else
    echo "== deployment checks (scripts/check_deploy.sh)"
    bash scripts/check_deploy.sh
fi

if [[ "${TESSERA_SKIP_IMAGES:-0}" == 1 ]]; then
    echo "== SKIPPED container images: TESSERA_SKIP_IMAGES=1 (scripts/check_images.sh did not run)"
else
    echo "== container images and a containerised run with podman (scripts/check_images.sh)"
    bash scripts/check_images.sh
fi
