# nats-server and redis-server images for scripts/check_images.sh, which runs compose.yaml's stack
# with podman where no registry is reachable to pull compose.yaml's nats:2.10-alpine and
# redis:7.0-alpine. Users of compose.yaml do not need these.
#
#   podman build -f deploy/docker/infra.Dockerfile --target nats -t localhost/tessera/nats:ci \
#       --build-arg BASE=localhost/tessera-base:bookworm \
#       --build-context tessera-cache=$HOME/.cache/tessera .
#
# `nats`: the official nats-server 2.15 binary from the provisioning cache's venv
# (`scripts/provision.py --only servers`), and wget for compose.yaml's health check.
# `redis`: Debian's redis-server 7.0, whose package brings redis-cli for the health check.
# Both run as an unprivileged user; they keep the base's shell (the health checks do not use it).

ARG BASE=debian:bookworm-slim

FROM ${BASE} AS nats
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && echo "nats:x:65532:65532:nats:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && echo "nats:x:65532:" >> /etc/group \
 && mkdir -p /data && chown 65532:65532 /data
COPY --from=tessera-cache venv/bin/nats-server /usr/local/bin/nats-server
USER 65532:65532
EXPOSE 4222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]

FROM ${BASE} AS redis
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
# compose.yaml's command starts with "redis-server" itself, as the official image expects.
ENTRYPOINT []
CMD ["redis-server"]
