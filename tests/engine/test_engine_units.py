"""The engine's C unit tests (cloudsurge_dask/engine/tests/run.sh) as part of the default suite.

run.sh builds test_output.c (output.c) and test_graphs.c (cycles.c, substruct.c, planar.c,
aromatic.c), plain and with ASan/UBSan when the compiler has them, and ends with one
"N passed, M failed" line summed over every binary; it exits non-zero on any failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parents[2] / "cloudsurge_dask" / "engine" / "tests" / "run.sh"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")

pytestmark = pytest.mark.skipif(
    shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler"
)


def run_units(**env: str) -> subprocess.CompletedProcess[str]:
    """Run run.sh with an argv list (never a shell string)."""
    return subprocess.run(
        ["sh", str(RUN_SH)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, **env},
    )


def summary(done: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    match = SUMMARY.match(lines[-1])
    assert match, f"no final summary line:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return int(match.group(1)), int(match.group(2))


def test_engine_c_unit_tests_pass() -> None:
    done = run_units()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    passed, failed = summary(done)
    assert failed == 0
    assert passed > 1000


def test_engine_c_unit_failures_are_reported() -> None:
    done = run_units(CS_TEST_FORCE_FAIL="1")
    assert done.returncode != 0
    _, failed = summary(done)
    assert failed >= 1
    assert "FAIL" in done.stdout
