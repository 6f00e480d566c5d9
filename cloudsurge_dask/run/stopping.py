"""Ending a run that cannot finish: once the cluster (every worker of this run) is gone,
return the leases, save the records so far and the ledger, and say how to go on.

Nothing is lost either way: a final record is in Redis (whose state the embedded default
keeps on disk) before its task is acknowledged, and an unacknowledged task is simply done
again on resume (its parts are rewritten byte for byte). After a full local disk the job's
reserve is freed first, so Redis can flush its last writes and the records fit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import QueueError, StorageError
from ..output.layout import RECORDS_FILE
from ..output.ledger import JobState
from ..output.records import records_frame
from ..queue.redisclient import connect
from ..settings import ClusterKind
from ..storage import is_local
from .interruption import EXIT_CODES
from .outcome import Outcome, save_records

if TYPE_CHECKING:
    import pandas as pd

    from ..queue.jobqueue import JobQueue
    from ..queue.state import LocalState
    from ..settings import JobMeta

STOP_EXIT_CODE = EXIT_CODES[signal.SIGINT]  # `stop JOB` ends a run as Ctrl-C does
REDIS_WRITABLE_SECONDS = 10.0  # after a full disk is relieved, Redis retries its AOF each 1 s


@dataclass(frozen=True)
class Stop:
    """Why a run stops: `reason` (printed), the ledger `state`, the exit code, the cluster
    kind it ran on, and whether the storage or Redis failed (then neither is asked again:
    each try would wait out its retries)."""

    reason: str
    state: str
    exit_code: int
    cluster: str = ClusterKind.LOCAL
    storage: bool = False
    queue: bool = False

    @classmethod
    def fault(cls, exc: Exception, cluster: str) -> Stop:
        return cls(
            f"stopped: {exc}", JobState.STOPPED, 1, cluster,
            storage=isinstance(exc, StorageError), queue=isinstance(exc, QueueError),
        )  # fmt: skip


def _answers(state: LocalState) -> bool:
    """The job's private Redis answers a PING at once (a single try, no retry budget)."""
    url = state.live_url()
    if url is None:
        return False
    try:
        connect(url).close()
    except QueueError:
        return False
    return True


def _release(queue: JobQueue) -> int:
    """Every lease back to the queue; after a full disk Redis refuses writes (MISCONF) until
    its append-only file could be flushed, so it is given a few seconds for that."""
    deadline = time.monotonic() + REDIS_WRITABLE_SECONDS
    while True:
        try:
            return queue.release()
        except QueueError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _save(
    stop: Stop, queue: JobQueue, meta: JobMeta, resume: str, frame: pd.DataFrame
) -> str | None:
    """records.parquet and the ledger in the output, unless the storage is what failed and
    is remote (each try would wait out the storage's own retries); why not, if so."""
    if stop.storage and not is_local(meta.root):
        return "the storage failed"
    try:
        save_records(queue, meta.root, frame, stop.state, stop.reason, resume, retries=1)
    except StorageError as exc:
        return str(exc)
    return None


def stop_run(
    stop: Stop,
    queue: JobQueue,
    meta: JobMeta,
    resume: str,
    state: LocalState | None,
    started: float,
) -> Outcome:
    """The stopped run's outcome; its message says what was done and the resume command."""
    seconds = time.monotonic() - started
    if state is not None and stop.state == JobState.STOPPED:
        state.free_reserve()  # a full disk may have hit Redis' own writes first
        if stop.queue and _answers(state):
            stop = dataclasses.replace(stop, queue=False)  # it refused writes, it is there
    if stop.queue:
        lines = [
            f"job {queue.job} {stop.reason} after {seconds:.1f} s; its records so far stay in "
            "Redis (not reachable now)",
            f"resume with: {resume}",
        ]
        return Outcome(
            queue.job, meta.root, records_frame([]), seconds, stop.state, "\n".join(lines),
            stop.exit_code,
        )  # fmt: skip
    returned = None
    if state is not None:  # a private Redis: every lease in it was held by a worker now gone
        with contextlib.suppress(QueueError):
            returned = _release(queue)
    frame = records_frame(queue.records())
    count, unsaved = len(frame), _save(stop, queue, meta, resume, frame)
    progress = queue.progress()
    lines = [
        f"job {queue.job} {stop.reason} after {seconds:.1f} s: {progress.formulae_final:,} of "
        f"{progress.formulae:,} formulae final, {progress.structures:,} structures"
        + (f"; {returned} task(s) in progress went back to the queue" if returned else ""),
    ]
    if unsaved is None:
        lines.append(f"records so far ({count:,}): {meta.root}/{RECORDS_FILE}")
    else:
        where = f"the job's state {state.folder}" if state is not None else "Redis"
        lines.append(f"records so far ({count:,}) are kept in {where}; not saved: {unsaved}")
    if state is not None:
        lines.append(f"the job's state: {state.folder}")
    lines.append(f"resume with: {resume}")
    return Outcome(
        queue.job, meta.root, frame, seconds, stop.state, "\n".join(lines), stop.exit_code
    )


def requested(queue: JobQueue, kind: str) -> Stop | None:
    """A stop asked for from outside the run (`stop JOB`, from any machine that reaches the
    job's Redis): the run then stops as on Ctrl-C. Only the client itself asks otherwise, and
    only once it is stopping already."""
    asked = queue.stop_requested()
    if asked is None:
        return None
    return Stop(f"interrupted by {asked}", JobState.INTERRUPTED, STOP_EXIT_CODE, kind)


def fault_of(futures: Sequence[object], kind: str) -> Stop | None:
    """A drain that failed on the job's storage stops the run (every other drain would meet
    the same). A drain lost with its worker does not (its leases expire and others take its
    tasks over), nor one that lost Redis: whether Redis is gone for good the client learns
    from its own calls, which wait out a restart."""
    for future in futures:
        if getattr(future, "status", "") != "error":
            continue
        exc = future.exception()  # type: ignore[attr-defined]
        if isinstance(exc, StorageError):
            return Stop.fault(exc, kind)
    return None
