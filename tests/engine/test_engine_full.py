"""Whole reference table (9,937 rows) against the installed engine: run with `-m full`."""

from __future__ import annotations

import csv
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudsurge_dask.engine import engine_path

REFERENCE = Path(
    os.environ.get(
        "CLOUDSURGE_REFERENCE", Path(__file__).resolve().parents[3] / "shared" / "reference"
    )
)
Z_LINE = re.compile(r"^>Z generated \d+ -> \d+ -> (\d+) in \d+\.\d\d sec$")


def _check(row: dict[str, str]) -> str | None:
    proc = subprocess.run(
        [str(engine_path()), "-u", *row["options"].split(), row["formula"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if row["count"] == "error":
        ok = proc.returncode != 0 and proc.stderr.startswith(">E ")
        return None if ok else f"{row}: expected >E, got {proc.stderr!r}"
    lines = proc.stderr.strip().splitlines()
    m = Z_LINE.match(lines[-1]) if lines else None
    if proc.returncode != 0 or m is None or int(m.group(1)) != int(row["count"]):
        return f"{row}: rc={proc.returncode} stderr={proc.stderr!r}"
    return None


@pytest.mark.full
def test_whole_reference_table() -> None:
    with open(REFERENCE / "surge_counts_le7.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9937
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        bad = [b for b in pool.map(_check, rows) if b is not None]
    assert not bad, f"{len(bad)} of {len(rows)} rows differ:\n" + "\n".join(bad[:20])
