"""The client drains too: a small local run starts no Dask cluster at all, and a larger one
is drained by the client while its cluster starts, which takes over after the client's task
in hand. Through the real command line, with counts checked against the reference table."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
from support.faults import ONE_TASK_PER_FORMULA, engine
from support.refdata import hill_counts

DELAY = 0.1  # seconds a wrapped generator waits per formula: the run outlasts a cluster start


def run_cli(
    tmp_path: Path, names: list[str], **env: str
) -> tuple[subprocess.CompletedProcess[str], str, pd.DataFrame]:
    listing = tmp_path / "formulae.txt"
    listing.write_text("\n".join(names) + "\n")
    environment = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg"), **env}
    environment.pop("CLOUDSURGE_REDIS_URL", None)
    done = subprocess.Popen(
        [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae", str(listing),
         "--output", str(tmp_path / "out")],
        env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = done.communicate(timeout=240)
    assert done.returncode == 0, stderr
    job = stdout.strip().splitlines()[-1]
    records = pd.read_parquet(tmp_path / "out" / job / "records.parquet")
    result = subprocess.CompletedProcess(done.args, done.returncode, stdout, stderr)
    verified = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "verify", job, "--output", str(tmp_path / "out")],
        env=environment, text=True, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    records.attrs["client"] = done.pid
    return result, job, records


def pid_of(worker: str) -> int:
    """The PID in a drain's consumer name (`HOST-PID-SUFFIX`)."""
    return int(worker.rsplit("-", 2)[1])


def exact(records: pd.DataFrame, names: list[str]) -> None:
    counts = hill_counts()
    stored = records.groupby("formula")["structures"].sum().to_dict()
    assert stored == {name: counts[name] for name in names}
    assert set(records["status"]) == {"ok"}


def test_a_small_run_starts_no_cluster(tmp_path: Path) -> None:
    counts = hill_counts()
    names = sorted(counts, key=lambda name: (counts[name], name))[200:260]
    done, _, records = run_cli(tmp_path, names)
    assert "no Dask cluster started" in done.stderr
    assert "dashboard:" not in done.stderr
    exact(records, names)
    assert {pid_of(w) for w in records["worker"]} == {records.attrs["client"]}


def test_the_client_drains_until_its_cluster_is_up(tmp_path: Path) -> None:
    counts = hill_counts()
    names = sorted(counts, key=lambda name: (counts[name], name))[300:360]
    slow = tmp_path / "slow-engine"
    slow.write_text(f'#!/bin/sh\nsleep {DELAY}\nexec {engine()} "$@"\n')
    slow.chmod(slow.stat().st_mode | stat.S_IEXEC)
    done, _, records = run_cli(
        tmp_path, names, **ONE_TASK_PER_FORMULA, CLOUDSURGE_WORKERS="2",
        CLOUDSURGE_SURGE=str(slow), CLOUDSURGE_INLINE_STRUCTURES="1",
    )  # fmt: skip
    assert "no Dask cluster started" not in done.stderr
    assert "dashboard:" in done.stderr
    exact(records, names)
    client = records.attrs["client"]
    by_client = records[[pid_of(w) == client for w in records["worker"]]]
    on_cluster = records[[pid_of(w) != client for w in records["worker"]]]
    assert len(by_client) >= 1, "the client drained nothing while its cluster started"
    assert len(on_cluster) >= 1, "the cluster's workers took nothing over"
    # the client hands over after its task in hand, before the cluster's drains begin
    assert by_client["started"].max() < on_cluster["started"].min()
