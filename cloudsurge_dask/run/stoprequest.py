"""`stop JOB`: ask a running job's client, wherever it runs, to stop as Ctrl-C stops it.

The request is the job's stop key in its Redis, the one the client itself sets when it stops:
the drains stop after the task in hand and give their leases back, and the client, which reads
the key with its progress, ends the run as interrupted (records and ledger saved, the resume
command printed). The job's Redis is `--redis-url`, or the private Redis of a run on this
machine, found through the job's state folder. Whether a client drives the job is its presence
key (`queue.presence`): a job nobody drives is refused in one line rather than waited for.
`stop` then waits until the client has let go of the job: its records are saved by then.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import ClusterError, ConfigError, QueueError
from ..output.layout import job_url
from ..output.ledger import JobState, read_ledger
from ..queue.jobqueue import JobQueue
from ..queue.presence import holder
from ..queue.state import LocalState
from ..settings import Settings
from ..storage import open_store

STOP_REASON = "the stop command"  # the run then says "interrupted by the stop command"
POLL_SECONDS = 0.2


def _not_running(settings: Settings, job: str, state: LocalState | None) -> ConfigError:
    """One line: the job is unknown, finished, or stands still (and how to go on with it)."""
    ledger = read_ledger(open_store(job_url(settings.output, job)))
    if ledger is None and (state is None or not state.exists()):
        where = "on that Redis" if state is None else f"under {settings.output}"
        return ConfigError(f"no job {job} {where}: nothing to stop")
    if ledger is not None and ledger.state == JobState.FINISHED:
        return ConfigError(f"job {job} has finished: nothing to stop")
    stands = "is not running" if ledger is None else f"is not running (it is {ledger.state})"
    resume = f"; resume with: {ledger.resume}" if ledger is not None and ledger.resume else ""
    return ConfigError(f"job {job} {stands}: no client drives it{resume}")


def _target(settings: Settings, job: str) -> tuple[JobQueue, LocalState | None]:
    """The job's queue, and its state folder when it runs on a private Redis."""
    if settings.redis_url:
        try:
            return JobQueue.open(settings.redis_url, job), None
        except QueueError as exc:
            if "is not on the queue" in str(exc):
                raise _not_running(settings, job, None) from None
            raise
    state = LocalState.of(settings.output, job)
    url = state.live_url()
    if url is None:
        raise _not_running(settings, job, state)
    return JobQueue.open(url, job), state


def _driven(queue: JobQueue, state: LocalState | None) -> bool:
    """Whether the client still holds the job: a private Redis ends with its client (its lock
    says it), a shared one outlives it (its presence key says it)."""
    if state is not None:
        return state.holder() is not None
    return holder(queue) is not None


def stop_job(
    settings: Settings, job: str, timeout: float, say: Callable[[str], None]
) -> str:
    """Ask the client of `job` to stop and wait (at most `timeout` s, 0: no limit) until it
    has saved the records; returns who it was."""
    queue, state = _target(settings, job)
    who = holder(queue)
    if who is None:
        raise _not_running(settings, job, state)
    queue.request_stop(STOP_REASON)
    limit = f" (at most {timeout:g} s)" if timeout else ""
    say(f"job {job}: asked its client ({who}) to stop; waiting for it{limit}")
    deadline = time.monotonic() + timeout
    while _driven(queue, state):
        if timeout and time.monotonic() > deadline:
            raise ClusterError(
                f"job {job}: its client ({who}) had not stopped after {timeout:g} s "
                "(--stop-timeout); it was asked to, and stops once its drains have given "
                f"their tasks back: see `status {job}`"
            )
        time.sleep(POLL_SECONDS)
    return who
