"""What a run ends with: the job's records, how it ended, and the summary printed for it."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import pandas as pd

from ..errors import StorageError
from ..output.layout import RECORDS_FILE
from ..output.ledger import JobState, Ledger, read_ledger, write_ledger
from ..output.records import TaskStatus, records_frame, utcnow
from ..queue.jobqueue import Counters, JobQueue
from ..storage import STORAGE_ATTEMPTS, Store, open_store


@dataclass(frozen=True)
class Outcome:
    """A run's end: `state` is the ledger's (finished, interrupted, stopped)."""

    job: str
    output: str
    records: pd.DataFrame
    seconds: float
    state: str = JobState.FINISHED
    message: str = ""  # what stopped a run that did not finish, and how to go on
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        """Finished, no task failed; formulae the generator refused (C2) are not failures."""
        if self.state != JobState.FINISHED:
            return False
        return not bool((self.records["status"] == TaskStatus.FAILED).any())


def summary(outcome: Outcome) -> str:
    frame = outcome.records
    if frame.empty:
        return outcome.message or f"job {outcome.job}: no records"
    counts = frame["status"].value_counts()
    structures = int(frame["structures"].sum())
    spans = frame.groupby("task").first()  # the formulae of a shard share one span
    busy = float((spans["finished"] - spans["started"]).dt.total_seconds().sum())
    generator = float(frame["generator_cpu_seconds"].sum())
    share = generator / busy if busy > 0 else 0.0
    lines = [
        f"job {outcome.job}: {len(frame)} formulae in {frame['task'].nunique()} tasks, "
        f"{int(counts.get(TaskStatus.OK, 0))} ok, "
        f"{int(counts.get(TaskStatus.FAILED, 0))} failed, "
        f"{int(counts.get(TaskStatus.REJECTED, 0))} rejected",
        f"structures: {structures:,} in {outcome.seconds:.1f} s "
        f"({structures / max(outcome.seconds, 1e-9):,.0f}/s); "
        f"generator share of worker time {share:.0%} (its CPU time / busy time)",
        f"compressed: {int(frame['compressed_bytes'].sum()):,} bytes "
        f"({int(frame['compressed_bytes'].sum()) / max(structures, 1):.2f} bytes/structure)",
        f"output: {outcome.output}/",
    ]
    if "generated" in frame and int(frame["generated"].sum()) != structures:
        lines.insert(2, screening_line(frame))
    for _, row in frame[frame["status"] != TaskStatus.OK].head(10).iterrows():
        where = "" if row["task"] == row["formula"] else f" (task {row['task']})"
        lines.append(f"  {row['formula']}{where}: {row['status']}: {row['error']}")
    if outcome.message:
        lines.append(outcome.message)
    return "\n".join(lines)


def screening_line(frame: pd.DataFrame) -> str:
    """Generated against kept: what the screens cost and left."""
    generated = int(frame["generated"].sum())
    kept = int(frame["kept"].sum())
    stored = int(frame["structures"].sum())
    seconds = float(frame["screen_cpu_seconds"].sum())
    text = (
        f"screening: {generated:,} generated, {kept:,} kept ({kept / max(generated, 1):.2%}), "
        f"{int(frame['unparsable'].sum()):,} unparsable; {seconds:,.1f} CPU s "
        f"({seconds / max(generated, 1) * 1e6:,.0f} us/structure)"
    )
    return text + (f"; {stored:,} stereoisomers stored" if stored != kept else "")


def save_records(
    queue: JobQueue,
    root: str,
    frame: pd.DataFrame,
    state: str,
    reason: str = "",
    resume: str = "",
    retries: int = STORAGE_ATTEMPTS,
) -> None:
    """records.parquet and the ledger (its state, counts, reason and resume command) in the
    job's folder: how every run ends, finished or not, and the plain `worker` path too."""
    store = open_store(root, retries=retries)
    store.write_bytes(RECORDS_FILE, frame.to_parquet(index=False))
    progress = queue.progress()
    ledger = read_ledger(store) or Ledger(
        job=queue.job, created=utcnow(), updated=utcnow(), state=state,
        formulae=progress.formulae, tasks=progress.total,
    )  # fmt: skip
    write_ledger(store, ledger.moved(
        state=state, done=progress.done, failed=progress.failed,
        formulae_final=progress.formulae_final, structures=progress.structures,
        generated=progress.generated, reason=reason, resume=resume,
    ))  # fmt: skip


def save_finished(queue: JobQueue, root: str, frame: pd.DataFrame | None = None) -> str:
    """A finished job's records (from Redis unless given) and ledger; returns its folder."""
    frame = records_frame(queue.records()) if frame is None else frame
    save_records(queue, root, frame, JobState.FINISHED)
    return root


def mark_running(store: Store, resume: str) -> None:
    """A resumed job's ledger says it runs again (and how to go on from where it is run now),
    so `status` read from the output alone, as for a detached run, tells the truth."""
    ledger = read_ledger(store)
    if ledger is not None and ledger.state != JobState.FINISHED:
        write_ledger(store, ledger.moved(state=JobState.RUNNING, reason="", resume=resume))


LEDGER_SECONDS = 30.0  # how often a running client writes its counts into job.json


class LedgerProgress:
    """A running client's counts in job.json every LEDGER_SECONDS, so that `status` read
    from the output alone (a detached run's, from a machine without its Redis) says how far
    the job got. Best effort: a failing write is the workers' fault to report, not this."""

    def __init__(self, root: str) -> None:
        self._root = root
        self._last = time.monotonic()

    def note(self, progress: Counters) -> None:
        if time.monotonic() - self._last < LEDGER_SECONDS:
            return
        self._last = time.monotonic()
        with contextlib.suppress(StorageError):
            store = open_store(self._root, retries=1)
            ledger = read_ledger(store)
            if ledger is not None:
                write_ledger(store, ledger.moved(
                    state=JobState.RUNNING, done=progress.done, failed=progress.failed,
                    formulae_final=progress.formulae_final, structures=progress.structures,
                    generated=progress.generated,
                ))  # fmt: skip
