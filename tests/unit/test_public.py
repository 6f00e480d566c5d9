"""The public surface: every exported name resolves, and importing the package is free."""

from __future__ import annotations

import subprocess
import sys

import cloudsurge_dask


def test_every_exported_name_resolves() -> None:
    for name in cloudsurge_dask.__all__:
        value = getattr(cloudsurge_dask, name)
        assert value is not None and getattr(value, "__name__", name) == name, name


def test_importing_the_package_loads_neither_dask_nor_rdkit() -> None:
    code = (
        "import sys, cloudsurge_dask; "
        "print(sorted(m for m in ('distributed', 'rdkit', 'pandas', 'redis') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
