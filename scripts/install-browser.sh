#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver when chromedriver is missing (and
# $TESSERA_CHROMEDRIVER is unset). Browser tests start their own chromedriver on a free
# loopback port, which runs a headless chromium ($TESSERA_CHROMIUM overrides its binary).
set -euo pipefail
if command -v chromedriver >/dev/null 2>&1 || [[ -n "${TESSERA_CHROMEDRIVER:-}" ]]; then
    exit 0
fi
echo "== installing chromium and chromium-driver from Debian"
if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
else
    echo "chromedriver is missing: install it (apt-get install chromium chromium-driver) or set TESSERA_CHROMEDRIVER" >&2
    exit 1
fi
