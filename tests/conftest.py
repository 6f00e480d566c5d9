"""Shared fixtures live in one module per real component (all under tests/).

Tests marked `full` (the whole reference table, the full fault campaign) are deselected
unless the marker expression names them: `pytest -m full`.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["fixture_redis", "fixture_gcs", "fixture_faults"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "full" in (config.option.markexpr or ""):
        return
    chosen = [item for item in items if item.get_closest_marker("full") is None]
    dropped = [item for item in items if item.get_closest_marker("full") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
