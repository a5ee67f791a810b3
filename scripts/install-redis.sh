#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing (and $TESSERA_REDIS_SERVER is unset).
# Tests and benchmarks start their own instances on free loopback ports, so a system
# instance does not get in the way.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || [[ -n "${TESSERA_REDIS_SERVER:-}" ]]; then
    exit 0
fi
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
