"""Shared fixtures live in one module per real component (all under tests/).

Tests marked `full` (the whole reference table, the full fault campaign) and `kubernetes` (a
real test cluster, ~10 minutes to build) are deselected unless the marker expression names
them: `pytest -m full`, `pytest -m kubernetes`. The `containers` suite (the worker image
built and run across containers, ~2 minutes cold, under 1 warm) is part of the default run;
`pytest -m containers` runs it alone. So is the `slurm` suite (a real single-node Slurm from
scripts/test-slurm.sh, ~1.5 minutes); `pytest -m slurm` runs it alone.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["support.fixture_redis", "support.fixture_gcs", "support.fixture_faults"]


OPT_IN = ("full", "kubernetes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = config.option.markexpr or ""
    skipped = [marker for marker in OPT_IN if marker not in named]

    def opted_out(item: pytest.Item) -> bool:
        return any(item.get_closest_marker(marker) is not None for marker in skipped)

    chosen = [item for item in items if not opted_out(item)]
    dropped = [item for item in items if opted_out(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
