"""Ending a run that cannot finish: which faults stop it, and what a stop saves (real Redis,
real files)."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from cloudsurge_dask.errors import QueueError, StorageError
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.output.ledger import JobState, read_ledger
from cloudsurge_dask.output.records import read_records
from cloudsurge_dask.queue.jobqueue import JobQueue
from cloudsurge_dask.run.stopping import Stop, fault_of, stop_run
from cloudsurge_dask.settings import ClusterKind, JobMeta, Settings
from cloudsurge_dask.storage import open_store


class Finished:
    """What `fault_of` reads of a Dask future: its status and exception."""

    def __init__(self, status: str, error: BaseException | None = None) -> None:
        self.status, self.error = status, error

    def exception(self) -> BaseException | None:
        return self.error


def test_only_a_storage_fault_stops_the_run() -> None:
    assert fault_of([Finished("finished"), Finished("pending")], ClusterKind.LOCAL) is None
    assert fault_of([Finished("error", QueueError("redis gone"))], ClusterKind.LOCAL) is None
    stop = fault_of([Finished("error", StorageError("disk full"))], ClusterKind.KUBERNETES)
    assert stop is not None and stop.state == JobState.STOPPED and stop.exit_code == 1
    assert stop.storage and not stop.queue and stop.cluster == ClusterKind.KUBERNETES
    assert Stop.fault(QueueError("x"), ClusterKind.LOCAL).queue


def test_a_stop_saves_records_and_ledger_and_says_how_to_resume(
    redis_client: redis.Redis, job_id: str, tmp_path: Path
) -> None:
    settings = Settings.build({"output": str(tmp_path)}, env={})
    meta = JobMeta.of(settings, job_id)
    queue = JobQueue(redis_client, job_id)
    queue.create([Task("C6H6"), Task("C7H8")], meta.to_dict())
    queue.lease("w", 1)  # one task in a worker's hands when the run stops
    stop = Stop("interrupted by SIGINT", JobState.INTERRUPTED, 130)
    outcome = stop_run(stop, queue, meta, "python -m cloudsurge_dask run --resume X", None,
                       time.monotonic())  # fmt: skip
    assert outcome.state == JobState.INTERRUPTED and outcome.exit_code == 130
    assert "resume with: python -m cloudsurge_dask run --resume X" in outcome.message
    assert "0 of 2 formulae final" in outcome.message
    store = open_store(meta.root)
    ledger = read_ledger(store)
    assert ledger is not None and ledger.state == JobState.INTERRUPTED
    assert ledger.reason == "interrupted by SIGINT" and ledger.resume.endswith("--resume X")
    assert read_records(store) is not None


def test_redis_gone_is_not_asked_again(
    redis_client: redis.Redis, job_id: str, tmp_path: Path
) -> None:
    settings = Settings.build({"output": str(tmp_path)}, env={})
    meta = JobMeta.of(settings, job_id)
    queue = JobQueue(redis_client, job_id)
    stop = Stop("stopped: Redis unreachable", JobState.STOPPED, 1, queue=True)
    outcome = stop_run(stop, queue, meta, "again", None, time.monotonic())
    assert "stay in Redis (not reachable now)" in outcome.message
    assert outcome.records.empty and not (tmp_path / job_id).exists()
