#!/usr/bin/env bash
# Installs Debian's libhdf5-dev when it is missing: tessera-formats reads Velox/Berkeley EMD
# and HyperSpy files through the hdf5-metno crate, which links the system libhdf5 (found
# with pkg-config, 'hdf5' → hdf5-serial.pc on Debian) at build time and needs its shared
# library at run time. Idempotent: does nothing when the library is already there, or
# when HDF5_DIR points at another installation.
set -euo pipefail
if [[ -n "${HDF5_DIR:-}" ]]; then
    echo "== HDF5_DIR=$HDF5_DIR is set: using that HDF5, installing nothing"
    exit 0
fi
have_hdf5() {
    if command -v dpkg-query >/dev/null 2>&1; then
        [[ "$(dpkg-query -W -f='${Status}' libhdf5-dev 2>/dev/null || true)" == "install ok installed" ]]
    else
        command -v pkg-config >/dev/null 2>&1 && pkg-config --exists hdf5
    fi
}
if have_hdf5 && command -v pkg-config >/dev/null 2>&1; then
    echo "== libhdf5-dev $(pkg-config --modversion hdf5 2>/dev/null || echo '(version unknown)') already installed"
    exit 0
fi
packages=(libhdf5-dev pkg-config)
echo "== installing ${packages[*]} from Debian"
if [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
else
    echo "libhdf5-dev is missing: install it (apt-get install libhdf5-dev pkg-config) or set HDF5_DIR" >&2
    exit 1
fi
echo "== installed libhdf5-dev $(pkg-config --modversion hdf5)"
