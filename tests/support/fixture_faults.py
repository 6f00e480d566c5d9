"""Fixtures of the fault suites: the fault state folder and a two-worker Dask cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.faults import STATE_ENV, scheduler


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fault state folder, exported before any worker process starts."""
    folder = tmp_path_factory.mktemp("fault-state")
    saved = os.environ.get(STATE_ENV)
    os.environ[STATE_ENV] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop(STATE_ENV, None)
    else:
        os.environ[STATE_ENV] = saved


@pytest.fixture(scope="module")
def cluster(state: Path) -> Iterator[Any]:
    with scheduler(2) as running:
        yield running
