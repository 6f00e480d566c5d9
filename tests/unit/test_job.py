"""The client's side of a job: what `enqueue` writes, and how a run's records are reconciled
with what Redis holds (real Redis, real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudsurge_dask.errors import CloudSurgeError, QueueError
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.ledger import JobState
from cloudsurge_dask.output.records import TaskRecord, TaskStatus, utcnow
from cloudsurge_dask.queue.jobqueue import JobQueue, new_job_id
from cloudsurge_dask.run.job import _reconcile, enqueue
from cloudsurge_dask.settings import Settings


def test_enqueue_writes_queue_meta_and_ledger(redis_url: str, tmp_path: Path) -> None:
    settings = Settings.build(
        {"output": str(tmp_path), "screen": ("MolWt < 100",), "shard_structures": 0}, env={}
    )
    job = new_job_id()
    meta = enqueue(redis_url, settings, [parse_formula(f) for f in ("C6H6", "C7H8")], job)
    queue = JobQueue.open(redis_url, job)
    counters = queue.progress()
    assert (counters.total, counters.formulae, counters.done) == (2, 2, 0)
    assert queue.meta()["screen"] == ["MolWt < 100"] and meta.root == str(tmp_path / job)
    ledger = json.loads((tmp_path / job / "job.json").read_text())
    assert ledger["state"] == JobState.QUEUED and ledger["tasks"] == 2
    assert ledger["screening"]["screens"] == ["MolWt < 100"] and ledger["screening"]["rdkit"]
    with pytest.raises(QueueError, match="already exists"):
        enqueue(redis_url, settings, [parse_formula("C6H6")], job)


def test_reconcile_trusts_redis_and_refuses_a_record_it_lacks() -> None:
    now = utcnow()

    def record(formula: str) -> TaskRecord:
        return TaskRecord.failure("J", formula, formula, "w", now, TaskStatus.OK, None, 1)

    stored = [record("C6H6"), record("C7H8")]
    assert _reconcile([record("C6H6")], stored) == stored  # a lost drain's records come too
    with pytest.raises(CloudSurgeError, match="missing in Redis"):
        _reconcile([record("C9H8")], stored)
