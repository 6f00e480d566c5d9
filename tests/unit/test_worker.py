"""The drain loop on a real Redis with the real engine: a task becomes parts, a checked
manifest and records; a generator that loses a line commits nothing; a stop request is
obeyed between tasks."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.layout import manifest_path
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.queue.jobqueue import JobQueue, new_job_id
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.run.job import enqueue
from cloudsurge_dask.run.worker import Worker
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import open_store


def queued(redis_url: str, tmp_path: Path, formulae: list[str], **values: object) -> str:
    settings = Settings.build({"output": str(tmp_path / "out"), **values}, env={})
    job = new_job_id()
    enqueue(redis_url, settings, [parse_formula(f) for f in formulae], job)
    return job


def count(formula: str) -> int:
    run = subprocess.run([str(engine_path()), "-S", formula], capture_output=True, check=True)
    return len(run.stdout.splitlines())


def test_a_shard_with_a_refused_formula(redis_url: str, tmp_path: Path) -> None:
    formulae = ["C2", "C3H6O", "C4H8O", "C5H8O"]
    job = queued(redis_url, tmp_path, formulae, part_size=300)
    records = Worker(redis_url, job).run()
    by_formula = {r.formula: r for r in records}
    assert by_formula["C2"].status == TaskStatus.REJECTED and "C2" in str(by_formula["C2"].error)
    for formula in formulae[1:]:
        record = by_formula[formula]
        assert record.status == TaskStatus.OK
        assert record.structures == record.generated == record.kept == count(formula)
    store = open_store(str(tmp_path / "out" / job))
    (key,) = {r.task for r in records}
    manifest = Manifest.from_json(store.read_bytes(manifest_path(key)))
    assert [f for f, _ in manifest.index] == [f for f in (r.formula for r in records) if f != "C2"]
    assert manifest.generated == manifest.structures == sum(count(f) for f in formulae[1:])
    assert verify_job(store).ok


def test_a_generator_that_loses_a_line_commits_nothing(redis_url: str, tmp_path: Path) -> None:
    script = tmp_path / "lossy-surge"
    script.write_text(f'#!/bin/sh\n{engine_path()} "$@" | sed 1d\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    job = queued(redis_url, tmp_path, ["C5H8O"], surge=str(script), max_attempts=1)
    (record,) = Worker(redis_url, job).run()
    assert record.status == TaskStatus.FAILED
    assert "reported" in str(record.error) and "wrote" in str(record.error)
    store = open_store(str(tmp_path / "out" / job))
    assert not store.exists(manifest_path("C5H8O"))  # the parts stay uncommitted orphans
    assert verify_job(store).orphans


def test_a_stop_request_ends_the_drain_between_tasks(redis_url: str, tmp_path: Path) -> None:
    job = queued(redis_url, tmp_path, ["C3H6O", "C4H8O", "C5H8O"], shard_structures=0,
                 batch_size=1)  # fmt: skip
    queue = JobQueue.open(redis_url, job)
    queue.request_stop("the user pressed Ctrl-C")
    assert Worker(redis_url, job).run() == []
    assert queue.progress().done == 0  # nothing taken while the stop stands
    queue.clear_stop()
    assert len(Worker(redis_url, job).run()) == 3
