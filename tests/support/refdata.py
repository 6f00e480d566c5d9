"""Reading ../shared/reference: counts per formula (and options) as upstream Surge gave them."""

from __future__ import annotations

import csv
import functools
import os
from pathlib import Path


def find_reference() -> Path:
    """`CLOUDSURGE_REFERENCE` if set, else the first `shared/reference` folder found beside
    this checkout or any folder above it (a worktree may sit deeper than ../shared)."""
    named = os.environ.get("CLOUDSURGE_REFERENCE")
    if named:
        return Path(named)
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    return here.parents[3] / "shared" / "reference"  # absent: errors name the usual place


REFERENCE = find_reference()


@functools.cache
def reference_counts() -> dict[tuple[str, str], str]:
    """(formula as written in the table, options) -> count ('error' where Surge refused)."""
    with open(REFERENCE / "surge_counts_le7.csv", newline="") as handle:
        return {(row["formula"], row["options"]): row["count"] for row in csv.DictReader(handle)}


@functools.cache
def hill_counts() -> dict[str, int]:
    """Hill formula -> structure count, for the rows without options that Surge accepted."""
    from cloudsurge_dask.formulae.formula import parse_formula

    table: dict[str, int] = {}
    for (formula, options), count in reference_counts().items():
        if not options and count != "error":
            table[parse_formula(formula).hill] = int(count)
    return table


@functools.cache
def surge2_counts() -> dict[tuple[str, str], str]:
    """(formula, options) -> Surge 2.0's count (its `>Z` line's last number) or 'error'."""
    with open(REFERENCE / "surge2" / "surge2_counts.csv", newline="") as handle:
        return {(row["formula"], row["options"]): row["count"] for row in csv.DictReader(handle)}
