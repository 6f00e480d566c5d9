#!/usr/bin/env bash
# Installs everything cloudsurge-dask needs on a fresh Debian machine, idempotently:
# Debian packages (redis-server, CDK + a JRE, nauty for the built-in engine, a C compiler),
# then a virtual environment in .venv with the package (editable, engine compiled into
# cloudsurge_dask/bin/) and its test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium (+ a font, as recommends are not installed) loads the dashboard page in the tests
# (libzstd-dev: the engine compresses the pipeline's parts itself, its -Z)
packages=(redis-server libcdk-java default-jre-headless nauty libnauty2-dev zlib1g-dev
          libzstd-dev gcc chromium fonts-liberation)
# shellcheck source=scripts/apt.sh
. scripts/apt.sh
apt_install "${packages[@]}"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# editable: the engine is compiled into cloudsurge_dask/bin/ of this tree, so
# `python -m cloudsurge_dask` works from here as well as from anywhere else
.venv/bin/python -m pip install -q -e '.[test]'
echo "setup: ready (.venv)" >&2
