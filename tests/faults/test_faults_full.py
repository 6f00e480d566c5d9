"""The full fault campaign (run with `-m full`): 20 SIGKILL trials, Redis down beyond the retry
budget then resumed, repeated Redis restarts, harsh storage faults, a 10-million-line file.

Each test prints a one-line summary (`-s` shows it) with trials, faults and lost/duplicated.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.faults import (
    KILL_MODES,
    SMALL,
    GeneratorFaults,
    check_job,
    generator_wrapper,
    injected,
    job_keys,
    kill_trial,
    on_cluster,
    own_redis,
    reset,
    shell_wrapper,
    storage_faults,
    wait_for_records,
)

from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.run.job import run_job

pytestmark = pytest.mark.full
TRIALS = 20


@pytest.mark.timeout(900)
def test_sigkill_campaign(cluster: Any, state: Path, tmp_path: Path) -> None:
    trials = []
    for number in range(TRIALS):
        mode = KILL_MODES[number % len(KILL_MODES)]
        trial = kill_trial(cluster, tmp_path / f"trial-{number}", state, 1000 + number, mode)
        assert trial.kills, f"trial {number} ({mode}) killed nothing"
        assert trial.check.lost == 0 and trial.check.duplicated == 0
        assert trial.check.ok == trial.check.tasks
        trials.append(trial)
    kills = sum(len(t.kills) for t in trials)
    retried = sum(1 for t in trials if t.check.max_attempts >= 2)
    print(
        f"\nSIGKILL campaign: {len(trials)} trials, {kills} kills, "
        f"{sum(t.check.tasks for t in trials)} tasks, "
        f"{sum(t.check.structures for t in trials):,} structures, "
        f"{sum(t.check.parts for t in trials)} parts verified, "
        f"lost {sum(t.check.lost for t in trials)}, "
        f"duplicated {sum(t.check.duplicated for t in trials)}, "
        f"{retried} trials with a taken-over lease; modes "
        + ", ".join(f"{m}={sum(1 for t in trials if t.mode == m)}" for m in KILL_MODES)
    )
    assert kills == TRIALS
    assert retried >= TRIALS * 3 // 4  # the random mode may hit an idle worker


@pytest.mark.timeout(300)
def test_redis_down_beyond_retry_budget_then_resume(
    cluster: Any, state: Path, tmp_path: Path
) -> None:
    reset(state)
    names = ["C3H4N2OS", *SMALL, "C5H12", "C4H8", "C3H6", "C2H7N", "CH5N"]
    surge = generator_wrapper(state, GeneratorFaults(delay=0.3))
    stopped: list[str] = []
    with own_redis(tmp_path / "redis") as server:
        password = server.url.split(":")[2].split("@")[0]

        def stopper() -> None:
            job = wait_for_records(server.url, 2, 60)
            if job is not None:
                server.stop()
                stopped.append(job)

        thread = threading.Thread(target=stopper, daemon=True)
        thread.start()
        settings = on_cluster(cluster, tmp_path, surge=surge, redis_url=server.url)
        started = time.monotonic()
        ended = run_job(settings, [parse_formula(n) for n in names], quiet=True)
        failed_after = time.monotonic() - started
        thread.join(10)
        assert stopped, "Redis was never stopped"
        job = stopped[0]
        message = ended.message
        assert (ended.state, ended.exit_code) == ("stopped", 1)
        assert "Redis" in message and job in message and "resume with:" in message, message
        assert password not in message
        time.sleep(3)  # the drains give up too (same retry budget) before Redis returns
        server.start()
        outcome = run_job(settings, [], job=job, quiet=True)
    check = check_job(settings, outcome, names)
    print(
        f"\nRedis down: run failed after {failed_after:.1f} s with {message[:90]!r}; "
        f"resume finished {check.ok}/{len(names)}, lost {check.lost}, dup {check.duplicated}"
    )
    assert check.ok == len(names)


@pytest.mark.timeout(300)
def test_repeated_redis_restarts(cluster: Any, state: Path, tmp_path: Path) -> None:
    reset(state)
    names = ["C3H4N2OS", "C4H4N2O", *SMALL, "C5H12", "C4H8", "C3H6", "C2H7N", "CH5N"]
    surge = generator_wrapper(state, GeneratorFaults(delay=0.3))
    restarts: list[int] = []
    with own_redis(tmp_path / "redis") as server:

        def restarter() -> None:
            for target in (2, 6, 10):
                if wait_for_records(server.url, target, 60) is None:
                    return
                server.restart()
                restarts.append(target)

        thread = threading.Thread(target=restarter, daemon=True)
        thread.start()
        settings = on_cluster(cluster, tmp_path, surge=surge, redis_url=server.url)
        outcome = run_job(settings, [parse_formula(n) for n in names], quiet=True)
        thread.join(30)
    check = check_job(settings, outcome, names)
    print(f"\nRedis restarts: {len(restarts)}, lost {check.lost}, dup {check.duplicated}")
    assert restarts == [2, 6, 10]
    assert check.ok == len(names)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["oserror", "timeout", "torn"])
def test_harsh_storage_faults(cluster: Any, state: Path, tmp_path: Path, kind: str) -> None:
    reset(state)
    storage_faults(state, every=2, kind=kind, scope="all")
    names = ["C3H4N2OS", "C4H4N2O", "C4H6N2O", *SMALL]
    settings = on_cluster(cluster, tmp_path, surge=generator_wrapper(state, GeneratorFaults()))
    outcome = run_job(settings, [parse_formula(n) for n in names], quiet=True)
    check = check_job(settings, outcome, names)
    faults = len(injected(state))
    print(f"\nstorage {kind} every 2nd write: {faults} faults, {check.parts} parts verified")
    assert faults >= 20 and check.ok == len(names)


@pytest.mark.timeout(600)
def test_ten_million_line_file_is_refused_quickly(tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    surge = shell_wrapper(tmp_path / "bin", "canary-surge", f"touch {canary}\nexit 0\n")
    listing = tmp_path / "huge.txt"
    block = "".join(f"{SMALL[i % len(SMALL)]}\n" for i in range(100_000)).encode()
    with open(listing, "wb") as handle:
        for _ in range(100):
            handle.write(block)
        handle.write(b"-oFILE\n")
    with own_redis(tmp_path / "redis") as server:
        env = {**os.environ, "CLOUDSURGE_REDIS_URL": server.url}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae", str(listing),
             "--output", str(tmp_path / "out"), "--surge", surge, "--quiet"],
            capture_output=True, text=True, timeout=500, cwd=tmp_path, env=env,
        )  # fmt: skip
        seconds = time.monotonic() - started
        keys = job_keys(server.url)
    print(f"\n10,000,001-line file refused in {seconds:.1f} s: {done.stderr.strip()[:120]}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "line 10000001" in done.stderr
    assert not canary.exists() and keys == []
    assert not (tmp_path / "out").exists()
    assert seconds < 300
