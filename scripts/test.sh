#!/usr/bin/env bash
# Runs every test of Tessera on a fresh machine: provisions what the tests need (the ONNX
# Runtime library, the default and tiny models, the sample images, the real instrument files,
# nats-server, redis-server, Chromium, libhdf5) into the cache and the system, then runs
# formatting and lint checks and the whole test suite. CI runs exactly this (.ci/run).
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p NAME    # extra arguments go to `cargo test`
#
# After the tests, every benchmark script in its quick mode (BENCH_QUICK=1: tiny sizes, one
# run), then the deployment checks: scripts/check_deploy.sh (compose.yaml, Helm, NATS
# configurations) and scripts/check_images.sh (the container images, made from the binaries
# this run built, and the stack run from them; needs root). Only an explicit
# TESSERA_SKIP_BENCH=1, TESSERA_SKIP_DEPLOY=1 or TESSERA_SKIP_IMAGES=1 leaves one out, and the
# output says so.
#
# When it ends, pass or fail, it prints how long each phase took and the ten slowest test
# binaries (every binary's time is in $TESSERA_TIMINGS_DIR, default target/test-timings/). A
# run longer than TESSERA_CI_BUDGET_MIN minutes (default 45; CI stops at 90) fails, so that an
# overrun shows while there is still room.
set -euo pipefail
cd "$(dirname "$0")/.."

export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# No incremental compilation: the run builds each crate once, from scratch in CI, where the
# incremental caches are only overhead (set CARGO_INCREMENTAL=1 to keep them while iterating).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
BUDGET_MIN="${TESSERA_CI_BUDGET_MIN:-45}"
TIMINGS_DIR="${TESSERA_TIMINGS_DIR:-target/test-timings}"
mkdir -p "$TIMINGS_DIR"
BINARIES_TSV="$TIMINGS_DIR/test-binaries.tsv"
: >"$BINARIES_TSV"

run_t0="$EPOCHREALTIME"
phases=()
phase_name=""
phase_t0=""
# phase NAME: ends the phase under way (if any) and starts NAME.
phase() {
    phase_end ok
    phase_name="$1"
    phase_t0="$EPOCHREALTIME"
    echo "== $phase_name"
}
phase_end() {
    if [[ -n "$phase_name" ]]; then
        phases+=("$(awk -v a="$phase_t0" -v b="$EPOCHREALTIME" -v n="$phase_name" -v s="$1" \
            'BEGIN { printf "%8.1f s  %-6s %s", b - a, s, n }')")
    fi
    phase_name=""
}
report() {
    local rc=$?
    phase_end "$( ((rc == 0)) && echo ok || echo FAILED)"
    local total
    total="$(awk -v a="$run_t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
    echo
    echo "== time per phase"
    printf '%s\n' "${phases[@]}"
    if [[ -s "$BINARIES_TSV" ]]; then
        echo "== ten slowest test binaries (all $(wc -l <"$BINARIES_TSV") in $BINARIES_TSV)"
        sort -t$'\t' -k1,1 -rn "$BINARIES_TSV" | head -n 10 \
            | awk -F'\t' '{ printf "%8.1f s  %-6s %s\n", $1, $3, $2 }'
    fi
    printf '== total %d min %02d s' $((total / 60)) $((total % 60))
    if ((rc == 0 && total > BUDGET_MIN * 60)); then
        printf '\n\nFAILED: the run took %d min, over its budget of %d min (CI stops at 90).\n' \
            $((total / 60)) "$BUDGET_MIN"
        echo "The phases above say where the time went: make the slowest faster before adding more"
        echo "(TESSERA_CI_BUDGET_MIN raises the budget for a run on a slower machine)."
        rc=1
    else
        printf ' (budget %d min)\n' "$BUDGET_MIN"
    fi
    exit "$rc"
}
trap report EXIT

phase "provisioning: runtime, models, samples, instrument files, nats-server, clients"
python3 scripts/provision.py --cache "$TESSERA_CACHE" \
    --only runtime,models,samples,servers,clients,instrument-files
# The cache and live-pipeline tests run a real redis-server (Debian's 7.0); each test starts
# its own on a free loopback port, as it does nats-server. libhdf5 (Debian's) is what the EMD
# reader builds against.
phase "provisioning: redis-server, Chromium, libhdf5-dev"
bash scripts/install-redis.sh
bash scripts/install-browser.sh
bash scripts/install-hdf5.sh

phase "provisioning script unit tests"
python3 -m unittest discover -s scripts/tests

phase "cargo fmt --check"
cargo fmt --all -- --check

phase "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Libraries, binaries and test files; the examples (benchmarks, the soak, the tuning sweep:
# release-mode tools that their scripts build) are left out, as clippy --all-targets above has
# already checked that they compile, and the doc tests run on their own below.
TARGETS=(--lib --bins --tests)
phase "build: cargo test --no-run"
cargo test --workspace "${TARGETS[@]}" --no-run --quiet "$@"

# The build above made every service binary (each service package has an integration test):
# the live tests run those, instead of a `cargo build` of their own with another feature set.
# (With extra arguments, e.g. -p NAME, the build may not have made them: the tests build them.)
target_dir="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
if (($# == 0)); then
    export TESSERA_SERVICE_BINARIES="${TESSERA_SERVICE_BINARIES:-$target_dir/debug}"
fi
phase "cargo test (every test binary; times in $BINARIES_TSV)"
cargo test --workspace "${TARGETS[@]}" --no-fail-fast "$@" 2>&1 | python3 -u scripts/test_timings.py "$BINARIES_TSV"

phase "cargo test --doc"
cargo test --workspace --doc --no-fail-fast "$@" 2>&1 | python3 -u scripts/test_timings.py "$BINARIES_TSV"

if [[ "${TESSERA_SKIP_BENCH:-0}" == 1 ]]; then
    phase "SKIPPED benchmarks: TESSERA_SKIP_BENCH=1 (scripts/bench*.sh did not run)"
else
    # Every benchmark script in its quick mode (tiny sizes, one run, the test profile): not
    # figures, a check that none of them broke. The full runs are by hand (README, Benchmarks).
    phase "benchmarks, quick mode (scripts/bench.sh, bench_live.sh, bench_loop.sh, bench_gpu.sh; BENCH_QUICK=1)"
    BENCH_QUICK=1 bash scripts/bench.sh
    BENCH_QUICK=1 bash scripts/bench_live.sh
    BENCH_QUICK=1 bash scripts/bench_loop.sh
    BENCH_QUICK=1 bash scripts/bench_gpu.sh
fi

if [[ "${TESSERA_SKIP_DEPLOY:-0}" == 1 ]]; then
    phase "SKIPPED deployment checks: TESSERA_SKIP_DEPLOY=1 (scripts/check_deploy.sh did not run)"
else
    phase "deployment checks (scripts/check_deploy.sh)"
    bash scripts/check_deploy.sh
fi

if [[ "${TESSERA_SKIP_IMAGES:-0}" == 1 ]]; then
    phase "SKIPPED container images: TESSERA_SKIP_IMAGES=1 (scripts/check_images.sh did not run)"
else
    # The binaries the tests ran (the test profile, target/debug) go into the images: nothing
    # is compiled again. The Dockerfile's own build stage is what `docker compose build` uses.
    phase "container images from this run's binaries, and a containerised run (scripts/check_images.sh)"
    TESSERA_IMAGES_BINARIES="${TESSERA_IMAGES_BINARIES:-$target_dir/debug}" \
        bash scripts/check_images.sh
fi
phase_end ok
