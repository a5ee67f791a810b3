#!/bin/sh
# The last build step of the Dockerfile's runtime stages (run once, as root, then deleted with
# every shell): what a service needs at run time on a Debian or Ubuntu base (CA certificates,
# libstdc++ for ONNX Runtime, and the Debian packages named as arguments, e.g. libhdf5-103-1 for
# the `tessera` command's EMD reader), the unprivileged user 65532, and no shell left behind.
#
#   runtime-setup.sh [DEBIAN-PACKAGE ...]
set -eu
if ! [ -e /etc/ssl/certs/ca-certificates.crt ] || ! ldconfig -p | grep -q 'libstdc++\.so\.6' \
    || [ "$#" -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates libstdc++6 "$@"
    rm -rf /var/lib/apt/lists/*
fi
grep -q '^tessera:' /etc/passwd \
    || echo "tessera:x:65532:65532:tessera:/nonexistent:/usr/sbin/nologin" >> /etc/passwd
grep -q '^tessera:' /etc/group || echo "tessera:x:65532:" >> /etc/group
rm -f "$0"
# Every shell the base has (merged /usr: /bin is /usr/bin). Nothing in the images needs one; the
# health checks call `tessera-<service> --health URL`.
for sh in sh bash dash rbash; do
    rm -f "/bin/$sh" "/usr/bin/$sh"
done
