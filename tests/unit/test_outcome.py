"""A run's end: the summary it prints and the records and ledger it saves (real Redis)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import redis

from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.output.ledger import JobState, Ledger, read_ledger, write_ledger
from cloudsurge_dask.output.records import (
    TaskRecord,
    TaskStatus,
    read_records,
    records_frame,
    utcnow,
)
from cloudsurge_dask.queue.jobqueue import JobQueue
from cloudsurge_dask.run.outcome import LedgerProgress, Outcome, save_records, summary
from cloudsurge_dask.storage import open_store


def record(formula: str, status: TaskStatus, structures: int, generated: int) -> TaskRecord:
    now = utcnow()
    return TaskRecord(
        job="J", task=formula, formula=formula, worker="w", started=now, finished=now,
        generator_seconds=0.5, write_seconds=0.1, structures=structures, parts=1,
        raw_bytes=structures * 10, compressed_bytes=structures * 3, status=status,
        error=None if status == TaskStatus.OK else "no", generated=generated,
        kept=structures, screen_cpu_seconds=0.2 if generated != structures else 0.0,
    )  # fmt: skip


def test_ok_means_finished_and_nothing_failed() -> None:
    ok, rejected = TaskStatus.OK, TaskStatus.REJECTED
    fine = records_frame([record("C6H6", ok, 5, 5), record("C2", rejected, 0, 0)])
    assert Outcome("J", "out", fine, 1.0).ok  # a refused formula is not a failure
    failed = records_frame([record("C6H6", TaskStatus.FAILED, 0, 0)])
    assert not Outcome("J", "out", failed, 1.0).ok
    assert not Outcome("J", "out", fine, 1.0, state=JobState.INTERRUPTED).ok


def test_summary_says_what_screening_kept_only_when_it_screened() -> None:
    plain = summary(Outcome("J", "out", records_frame([record("C6H6", TaskStatus.OK, 5, 5)]), 2.0))
    assert "1 formulae in 1 tasks, 1 ok" in plain and "screening" not in plain
    ok = TaskStatus.OK
    screened = records_frame([record("C6H6", ok, 5, 50), record("C7H8", ok, 5, 50)])
    text = summary(Outcome("J", "out", screened, 2.0))
    assert "screening: 100 generated, 10 kept (10.00%)" in text
    empty = summary(Outcome("J", "out", records_frame([]), 0.0, message="nothing ran"))
    assert empty == "nothing ran"


def test_save_records_writes_parquet_and_the_ledger_counters(
    redis_client: redis.Redis, job_id: str, tmp_path: Path
) -> None:
    queue = JobQueue(redis_client, job_id)
    queue.create([Task("C6H6")], {"output": str(tmp_path)})
    (lease,) = queue.lease("w", 1)
    done = record("C6H6", TaskStatus.OK, 5, 7)
    queue.complete(lease, done)
    root = str(tmp_path / job_id)
    save_records(queue, root, records_frame(queue.records()), JobState.FINISHED, resume="again")
    store = open_store(root)
    frame = read_records(store)
    assert frame is not None and list(frame["formula"]) == ["C6H6"]
    assert isinstance(frame, pd.DataFrame) and int(frame["generated"].sum()) == 7
    ledger = read_ledger(store)
    assert ledger is not None and ledger.state == JobState.FINISHED
    assert (ledger.done, ledger.structures, ledger.generated, ledger.resume) == (1, 5, 7, "again")


def test_a_running_client_notes_its_counts_in_the_ledger_now_and_then(
    redis_client: redis.Redis, job_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `status` reads from the output alone while a (detached) run goes on."""
    queue = JobQueue(redis_client, job_id)
    queue.create([Task("C6H6"), Task("C2H6")], {"output": str(tmp_path)})
    root = str(tmp_path / job_id)
    store = open_store(root)
    write_ledger(store, Ledger(job=job_id, created=utcnow(), updated=utcnow(),
                               state=JobState.QUEUED, formulae=2, tasks=2))  # fmt: skip
    noted = LedgerProgress(root)
    (lease,) = queue.lease("w", 1)
    queue.complete(lease, record(lease.task.formula, TaskStatus.OK, 5, 5))
    noted.note(queue.progress())  # too soon: nothing written
    ledger = read_ledger(store)
    assert ledger is not None and (ledger.state, ledger.done) == (JobState.QUEUED, 0)
    monkeypatch.setattr("cloudsurge_dask.run.outcome.LEDGER_SECONDS", 0.0)
    noted.note(queue.progress())
    ledger = read_ledger(store)
    assert ledger is not None
    assert (ledger.state, ledger.done, ledger.formulae_final, ledger.structures) == (
        JobState.RUNNING, 1, 1, 5
    )
