"""The whole pipeline for real: CDK or a formula file -> Redis -> Dask processes -> engine ->
compressed parts (local files and the GCS emulator) -> records, then `verify`."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from support.processes import descendants
from support.refdata import hill_counts

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.results.verify import verify_output
from cloudsurge_dask.run.job import run_job
from cloudsurge_dask.settings import Settings


def sample(n: int, seed: int = 7) -> list[str]:
    table = hill_counts()
    chosen = random.Random(seed).sample(sorted(table), n)
    return chosen


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {
        "output": str(tmp_path / "out"),
        "workers": 2,
        "lease_seconds": 5.0,
        "inline_structures": 0,  # the Dask workers' path (tests/pipeline/test_launch.py: the other)
    }
    values.update(changes)
    return Settings.build({k: v for k, v in values.items()}, env={})


def test_run_local_matches_reference_and_verifies(tmp_path: Path) -> None:
    formulae = [parse_formula(f) for f in sample(60)]
    settings = settings_for(tmp_path, part_size=500)
    outcome = run_job(settings, formulae, quiet=True)
    frame = outcome.records
    assert len(frame) == len(formulae)
    assert frame["formula"].is_unique
    assert (frame["status"] == TaskStatus.OK).all(), frame[frame["status"] != TaskStatus.OK]
    table = hill_counts()
    for formula, structures in zip(frame["formula"], frame["structures"], strict=True):
        assert structures == table[formula], formula
    assert set(frame["worker"]) and frame["finished"].ge(frame["started"]).all()
    # the generator's CPU time is real (the sample has work) and never above its wall time
    assert frame["generator_cpu_seconds"].sum() > 0
    assert (frame["generator_cpu_seconds"] <= frame["generator_seconds"] + 0.02).all()
    assert str(frame["started"].dtype).startswith("datetime64") and "UTC" in str(
        frame["started"].dtype
    )
    saved = pd.read_parquet(Path(outcome.output) / "records.parquet")
    assert sorted(saved["formula"]) == sorted(frame["formula"])
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems
    assert report.structures == sum(table[f.hill] for f in formulae)


def test_run_to_gcs_emulator(tmp_path: Path, gcs_bucket: str) -> None:
    formulae = [parse_formula(f) for f in sample(12, seed=3)]
    settings = settings_for(tmp_path, output=gcs_bucket, codec="gz")
    outcome = run_job(settings, formulae, quiet=True)
    assert (outcome.records["status"] == TaskStatus.OK).all()
    assert outcome.output.startswith("gs://")
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems
    assert report.structures == sum(hill_counts()[f.hill] for f in formulae)


def slow_generator(tmp_path: Path, delay: float) -> str:
    """A real generator behind a delay, so a worker can be killed while it runs."""
    script = tmp_path / "slow-surge"
    script.write_text(f'#!/bin/sh\nsleep {delay}\nexec {engine_path()} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_sigkill_worker_mid_formula_loses_nothing(tmp_path: Path) -> None:
    names = sample(16, seed=11)
    formulae = [parse_formula(f) for f in names]
    script = slow_generator(tmp_path, 0.4)
    settings = settings_for(tmp_path, surge=script, lease_seconds=1.5, batch_size=1)
    killed: list[int] = []

    def killer() -> None:
        # kill the first worker process (a child of this test's cluster) that has a generator
        # of this test running: found among this process's descendants, never by pattern
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for parent, command in descendants(os.getpid()).values():
                if script in command and parent != os.getpid():
                    os.kill(parent, signal.SIGKILL)
                    killed.append(parent)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    outcome = run_job(settings, formulae, quiet=True)
    thread.join()
    assert killed, "no worker was killed"
    frame = outcome.records
    assert sorted(frame["formula"]) == sorted(f.hill for f in formulae)
    assert (frame["status"] == TaskStatus.OK).all(), frame[frame["status"] != TaskStatus.OK]
    assert frame["attempts"].max() >= 2
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems


def test_cli_run_with_formula_file(tmp_path: Path) -> None:
    names = sample(10, seed=5)
    listing = tmp_path / "formulae.txt"
    listing.write_text("# a comment\n\n" + "\n".join(names) + "\n")
    out = tmp_path / "results"
    env = {**os.environ, "CLOUDSURGE_WORKERS": "2"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudsurge_dask",
            "run",
            "--formulae",
            str(listing),
            "--output",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    job = done.stdout.strip().splitlines()[-1]
    assert (out / job / "records.parquet").exists()
    assert "structures" in done.stderr
    check = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "verify", job, "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout
    csv = tmp_path / "records.csv"
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudsurge_dask",
            "export",
            job,
            "--output",
            str(out),
            "--to",
            str(csv),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert len(pd.read_csv(csv)) == len(names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--redis-url", "redis://:pw@127.0.0.1:1/0"], "redis"),
        (["run", "--codec", "rar"], "--codec"),
        (["run", "--surge-options", "-oX"], "-oX"),
        (["run", "--workers", "0"], "--workers"),
        (["run", "--surge", "/nonexistent/surge"], "--surge"),
    ],
)
def test_cli_bad_settings_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    listing = tmp_path / "f.txt"
    listing.write_text("CH4\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloudsurge_dask",
            *args,
            "--formulae",
            str(listing),
            "--output",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert message.lower() in done.stderr.lower()
    assert "pw" not in done.stderr


def test_split_slices_and_shards_add_up(tmp_path: Path) -> None:
    table = hill_counts()
    names = ["C7H8", "C6H6", "C5H5N", "C2", "CH4", "C2H6O", "C3H6O", "BrH", "C2H2Cl2"]
    formulae = [parse_formula(f) for f in names]
    settings = settings_for(tmp_path, split_structures=300, shard_structures=400, part_size=100)
    outcome = run_job(settings, formulae, quiet=True)
    frame = outcome.records
    split = frame[frame["task"].str.contains("~", regex=False)]
    assert not split.empty, "no formula was split"
    shards = frame[frame["task"].str.contains("+", regex=False)]
    assert not shards.empty, "no shard was made"
    for formula, group in frame.groupby("formula"):
        if formula == "C2":
            assert list(group["status"]) == ["rejected"]
            assert "no structure" in str(group["error"].iloc[0])
            continue
        assert (group["status"] == TaskStatus.OK).all()
        assert int(group["structures"].sum()) == table[str(formula)], formula
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems
    assert report.structures == sum(table[n] for n in names if n != "C2")
