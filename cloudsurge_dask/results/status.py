"""`status JOB`: how far a job got, from wherever that is known.

Live from Redis when one is given (`--redis-url`) or when a client is running the job on its
embedded Redis right now (found through the job's state folder); otherwise from the output
folder alone: the ledger (`job.json`), `records.parquet` and whether a state to resume exists.
"""

from __future__ import annotations

from ..errors import QueueError, StorageError
from ..output.layout import RECORDS_FILE, job_url
from ..output.ledger import JobState, Ledger, read_ledger
from ..queue.jobqueue import Counters, JobQueue
from ..queue.presence import holder
from ..queue.state import LocalState
from ..settings import Settings
from ..storage import open_store


def kept(structures: int, generated: int) -> str:
    """'N structures', and what was generated for them where screens dropped some."""
    if generated in (0, structures):
        return f"{structures:,} structures"
    return f"{structures:,} structures kept of {generated:,} generated"


def _counts(progress: Counters) -> str:
    return (
        f"{progress.formulae_final:,} of {progress.formulae:,} formulae final "
        f"({progress.done} tasks done, {progress.failed} failed, {progress.pending} pending of "
        f"{progress.total}); {kept(progress.structures, progress.generated)}"
    )


def _live(url: str, job: str, how: str) -> str:
    queue = JobQueue.open(url, job)
    stop = queue.stop_requested()
    asked = f"; workers asked to stop: {stop}" if stop else ""
    who = holder(queue)
    driven = f"; its client: {who}" if who else "; no client drives it"
    return f"job {job}: {how}: {_counts(queue.progress())}{asked}{driven}"


def _from_files(settings: Settings, job: str, state: LocalState) -> str:
    store = open_store(job_url(settings.output, job))
    ledger: Ledger | None = read_ledger(store)
    if ledger is None:
        if store.exists(RECORDS_FILE):
            return f"job {job}: records.parquet present (no job.json: written by an older run)"
        raise StorageError(f"no job {job} under {settings.output} (no {store.url}/job.json)")
    lines = [
        f"job {job}: {ledger.state} (updated {ledger.updated:%Y-%m-%d %H:%M:%S} UTC): "
        f"{ledger.formulae_final:,} of {ledger.formulae:,} formulae final ({ledger.done} tasks "
        f"done, {ledger.failed} failed of {ledger.tasks}); "
        f"{kept(ledger.structures, ledger.generated)}"
    ]
    if ledger.screening:
        lines.append(f"screens: {'; '.join(ledger.screening.get('screens', []))}")
    if ledger.reason:
        lines.append(f"why: {ledger.reason}")
    if ledger.state != JobState.FINISHED:
        if ledger.state == JobState.RUNNING and state.exists():
            lines.append("its client is gone (no run holds the job): it was stopped abruptly")
        if ledger.resume:
            lines.append(f"resume with: {ledger.resume}")
        if not state.exists() and not settings.redis_url:
            lines.append(
                f"(no saved state in {state.folder}: if it ran on a shared Redis, give --redis-url)"
            )
    return "\n".join(lines)


def describe(settings: Settings, job: str) -> str:
    """What `status` prints."""
    if settings.redis_url:
        return _live(settings.redis_url, job, "live from Redis")
    state = LocalState.of(settings.output, job)
    url = state.live_url()
    if url is not None:
        try:
            return _live(url, job, f"running ({state.holder()})")
        except QueueError:
            pass  # the run ended between the two looks: the files tell the rest
    return _from_files(settings, job, state)


def ended(settings: Settings, job: str) -> str:
    """What `stop` prints once the client let go: the ledger it saved, or, where the output
    cannot be read from here (a volume inside a cluster), the counts in Redis."""
    state = LocalState.of(settings.output, job)
    try:
        return _from_files(settings, job, state)
    except StorageError:
        if not settings.redis_url:
            raise
        return _live(settings.redis_url, job, "stopped")
