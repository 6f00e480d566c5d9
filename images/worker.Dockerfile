# syntax=docker/dockerfile:1.7
# Worker image for cloudsurge-dask: the package (with its compiled C engine) plus Dask.
# Build it with scripts/build-image.sh (podman or docker; a local Debian base where no image
# registry is reachable), or from the repository root:
#   docker build -f images/worker.Dockerfile -t IMAGE .
# Optional upstream Surge (else the built-in engine is used):
#   --build-arg SURGE_VERSION=1.0 --build-arg SURGE_SHA256=<sha256 of surge-linux-v1.0>
# No SHELL instruction: buildah ignores it in the OCI format, so every RUN here is plain
# POSIX sh with `set -eu` and without pipes.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# nauty provides /usr/share/nauty/geng.c and libnauty2-dev the library that setup.py
# compiles and links the built-in engine against; nauty is pinned because it shapes results.
# gcc, libc6-dev, binutils, zlib1g-dev (the engine's -z) and libzstd-dev (its -Z: the
# pipeline's compressed parts) follow Debian security updates, so they are not pinned;
# zlib1g itself is part of every Debian base.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev binutils zlib1g-dev \
        libzstd-dev nauty=2.8.6+ds-2 libnauty2-dev=2.8.6+ds-2 \
    && rm -rf /var/lib/apt/lists/*
# Everything the runtime needs goes into one virtualenv, /opt/venv, copied whole into the
# runtime stage (same base image, so the same interpreter path).
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Optional upstream Surge, verified before it is kept: /opt/venv/bin/surge (on PATH).
ARG SURGE_VERSION=""
ARG SURGE_SHA256=""
ARG SURGE_URL="https://github.com/StructureGenerator/surge/releases/download/v${SURGE_VERSION}/surge-linux-v${SURGE_VERSION}"
RUN set -eu; \
    if [ -n "${SURGE_VERSION}" ]; then \
        if [ -z "${SURGE_SHA256}" ]; then echo "SURGE_SHA256 is required with SURGE_VERSION" >&2; exit 1; fi; \
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "${SURGE_URL}" /tmp/surge; \
        printf '%s  %s\n' "${SURGE_SHA256}" /tmp/surge > /tmp/surge.sha256; \
        sha256sum -c /tmp/surge.sha256; \
        install -m 0755 /tmp/surge /opt/venv/bin/surge; \
        rm /tmp/surge /tmp/surge.sha256; \
    fi
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY cloudsurge_dask ./cloudsurge_dask
# The build tools are pinned here and used without isolation (tests/test_image.py runs the
# same `--no-build-isolation` build of the package in a fresh venv). Then the venv is made
# lean: no pip/setuptools/wheel; of pyarrow only what writes Parquet (the plain Job's last
# worker saves records.parquet): its Flight and S3 libraries (~50 MB) go; no test
# suites, headers or Cython sources of dependencies; debug symbols stripped from shared
# objects (not from auditwheel's `*.libs` folders, which patchelf rewrote). A smoke test
# proves that what is left imports and runs, a Parquet round trip included.
RUN set -eu; \
    pip install --no-cache-dir setuptools==80.9.0 wheel==0.45.1; \
    pip install --no-cache-dir --no-build-isolation .; \
    python -m pip uninstall -q -y wheel setuptools pip; \
    site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
    rm -rf "$site"/pyarrow/include "$site"/pyarrow/src "$site"/pyarrow/*flight* \
        "$site"/pyarrow/*s3*; \
    find "$site" -depth -type d -name tests -exec rm -rf {} +; \
    find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.h' \
        -o -name '*.c' -o -name '*.cc' -o -name '*.cpp' \) ! -path '*/cloudsurge_dask/*' -delete; \
    find "$site" -type f -name '*.so*' ! -path '*.libs/*' -exec strip --strip-debug {} +; \
    "$site"/cloudsurge_dask/bin/cloudsurge-surge -u C6H6; \
    "$site"/cloudsurge_dask/bin/cloudsurge-surge -S -Z1:100 C6H6 > /dev/null; \
    python -c 'import cloudsurge_dask.cli, cloudsurge_dask.run.worker, cloudsurge_dask.run.job, distributed, gcsfs, bokeh'; \
    python -c 'import io, pandas as pd; f = pd.DataFrame({"a": [1]}); assert pd.read_parquet(io.BytesIO(f.to_parquet())).equals(f)'; \
    python -c 'from cloudsurge_dask.screen import Screener, ScreenSpec; s = ("np_likeness >= -5", "sa_score <= 10", "qed >= 0", "catalog brenk"); out, t = Screener(ScreenSpec(s, stereo=True)).screen([b"CC(O)CN"]); assert t.kept == 1 and t.stored == 2, t'

FROM ${PYTHON_IMAGE} AS runtime
# libnauty2 and libzstd1: the engine's shared libraries; tini: PID 1 that reaps generator
# subprocesses.
# The user is uid/gid 10001 (numeric USER below, so runAsNonRoot can check it).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini libzstd1 libnauty2=2.8.6+ds-2 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /scratch --no-create-home \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app /scratch
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/scratch \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false
WORKDIR /scratch
USER 10001:10001
# The Dask operator passes `dask worker ...` / `dask scheduler ...` as args, and the plain
# Job `python -m cloudsurge_dask worker JOB`; tini runs whichever it is given.
ENTRYPOINT ["tini", "--"]
CMD ["python", "-m", "cloudsurge_dask", "--help"]
