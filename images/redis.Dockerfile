# A stand-in for the official `redis` image where no image registry is reachable (tests and
# the test Kubernetes of scripts/test-kubernetes.sh): Debian's redis-server on the same local
# Debian base as the worker image, laid out like the official image where our manifests rely
# on it: `redis-server` and `redis-cli` on PATH, uid/gid 999, /data as the working directory.
# Built by `scripts/build-image.sh --redis`; wherever a registry answers, that script uses the
# official image instead.
ARG BASE_IMAGE=localhost/cloudsurge-base:bookworm
FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid redis --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
    && install -d -o redis -g redis /data
WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
