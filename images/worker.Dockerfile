# syntax=docker/dockerfile:1.7
# Worker image for cloudsurge-dask: the package (with its compiled C engine) plus Dask.
# Build from the repository root:
#   docker build -f images/worker.Dockerfile -t IMAGE .
# Optional upstream Surge (else the built-in engine is used):
#   --build-arg SURGE_VERSION=1.0 --build-arg SURGE_SHA256=<sha256 of surge-linux-v1.0>
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# nauty provides /usr/share/nauty/geng.c and libnauty2-dev the library that setup.py
# compiles and links the built-in engine against; nauty is pinned because it shapes results.
# gcc and libc6-dev follow Debian security updates, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
        nauty=2.8.6+ds-2 libnauty2-dev=2.8.6+ds-2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY cloudsurge_dask ./cloudsurge_dask
# One wheel for the package and one per dependency, so the runtime stage needs no compiler.
# The build tools are pinned here and used without isolation (tests/test_image.py runs the
# same `--no-build-isolation` build of the package in a fresh venv).
RUN pip install --no-cache-dir setuptools==80.9.0 wheel==0.45.1 \
    && pip wheel --no-cache-dir --no-build-isolation --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS runtime
ARG SURGE_VERSION=""
ARG SURGE_SHA256=""
ARG SURGE_URL="https://github.com/StructureGenerator/surge/releases/download/v${SURGE_VERSION}/surge-linux-v${SURGE_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# libnauty2: the engine's shared library; tini: PID 1 that reaps generator subprocesses.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini libnauty2=2.8.6+ds-2 \
    && rm -rf /var/lib/apt/lists/*
RUN if [ -n "${SURGE_VERSION}" ]; then \
        if [ -z "${SURGE_SHA256}" ]; then echo "SURGE_SHA256 is required with SURGE_VERSION" >&2; exit 1; fi; \
        python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
            "${SURGE_URL}" /tmp/surge \
        && echo "${SURGE_SHA256}  /tmp/surge" | sha256sum -c - \
        && install -m 0755 /tmp/surge /usr/local/bin/surge \
        && rm /tmp/surge; \
    fi
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels /wheels/cloudsurge_dask-*.whl
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app /scratch
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false
WORKDIR /scratch
USER 10001:10001
# The Dask operator passes `dask worker ...` / `dask scheduler ...` as args, and the plain
# Job `python -m cloudsurge_dask worker JOB`; tini runs whichever it is given.
ENTRYPOINT ["tini", "--"]
CMD ["python", "-m", "cloudsurge_dask", "--help"]
