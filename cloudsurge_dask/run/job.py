"""A whole run on the client side: formulae in, verified parts and a records table out.

A run ends one of three ways, each leaving the job's ledger (`job.json`), the records so far
(`records.parquet`) and, unless finished, a state to resume from: finished; interrupted
(SIGINT, SIGTERM: exit 130, 143); stopped by a fault the workers cannot get past (the output
full or unreachable, Redis gone). Before any of it, the generator is probed and the output
checked, so a wrong `--surge` or an unwritable output fails before anything is queued.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..clusters.kubeforward import redis_url
from ..clusters.sizing import expected_drains
from ..errors import CloudSurgeError, ConfigError, QueueError, RunInterrupted, StorageError
from ..formulae.formula import Formula
from ..formulae.plan import SCREEN_WEIGHT, PlanOptions, plan_tasks
from ..generate.formats import get_format
from ..generate.generator import probe, resolve_executable
from ..output.layout import job_url
from ..output.ledger import JobState, Ledger, read_ledger, write_ledger
from ..output.records import TaskRecord, read_records, records_frame, utcnow
from ..queue.jobqueue import Counters, JobQueue, new_job_id
from ..queue.presence import Presence
from ..queue.redisclient import connect, redacted_url
from ..queue.state import LocalState
from ..screen.preflight import check_screening, provenance
from ..settings import ClusterKind, JobMeta, Settings
from ..storage import Store, check_writable, open_store
from .interruption import Interrupted, SignalGuard
from .launch import Launch, drain_here, drains_here, needs_cluster
from .outcome import LedgerProgress, Outcome, mark_running, save_finished
from .progress import ProgressView
from .resumption import refuse_contradictions, resume_command
from .stopping import Stop, fault_of, requested, stop_run

STOP_GRACE = 10.0  # seconds a stopping run waits for drains to finish their task in hand
STOP_GRACE_SCHEDULER = 120.0


def enqueue(
    client_url: str,
    settings: Settings,
    formulae: Sequence[Formula],
    job: str,
    state: str = JobState.QUEUED,
    store: Store | None = None,
) -> JobMeta:
    """Put a new job on the queue and its ledger in its folder; the output is checked first
    (unless `store`, the job's folder, was checked already)."""
    from ..formulae.estimate import estimate_many

    meta = JobMeta.of(settings, job)
    store = store or check_writable(meta.root)
    queue = JobQueue(connect(client_url), job)
    options = PlanOptions(
        settings.split_structures,
        settings.shard_structures,
        settings.shard_formulae,
        drains=expected_drains(settings),
        weight=SCREEN_WEIGHT if settings.screening.active else 1,
    )
    estimates = [float(e) for e in estimate_many(list(formulae))] if formulae else []
    plan = plan_tasks(formulae, options, estimates)
    tasks = queue.create(plan, meta.to_dict(), int(sum(estimates)))
    write_ledger(store, Ledger(
        job=job, created=utcnow(), updated=utcnow(), state=state, formulae=len(formulae),
        tasks=tasks, settings=meta.to_dict(), resume=resume_command(job, settings),
        screening=provenance(settings.screening),
    ))  # fmt: skip
    return meta


def run_job(
    settings: Settings,
    formulae: Sequence[Formula] | Callable[[], Sequence[Formula]],
    *,
    job: str | None = None,
    quiet: bool = False,
    given: frozenset[str] = frozenset(),
) -> Outcome:
    """Enqueue (unless resuming `job`), drain on the cluster, gather, reconcile and save.

    `formulae` may be a function, called while the cluster starts. `given` names the settings
    the user set (flags or variables): on a resume those that contradict the job are refused.
    Without --redis-url the job's Redis is a private server keeping its state on disk."""
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr))
    started = time.monotonic()
    with SignalGuard() as guard:
        if job is None:
            return _new(settings, formulae, new_job_id(), guard, say, started, quiet)
        try:
            return _resume(settings, job, guard, given, say, started, quiet)
        except Interrupted as exc:  # before it drove the job (then it ends as interrupted)
            raise RunInterrupted(
                f"interrupted by {exc.name} while resuming job {job}; resume with: "
                f"{resume_command(job, settings)}", exc.exit_code,
            ) from None


def _new(
    settings: Settings,
    formulae: Sequence[Formula] | Callable[[], Sequence[Formula]],
    job: str,
    guard: SignalGuard,
    say: Callable[[str], None],
    started: float,
    quiet: bool,
) -> Outcome:
    executable = resolve_executable(settings.surge)
    state = None if settings.redis_url else LocalState.of(settings.output, job)
    queued = False
    try:
        with Launch(settings, start=not drains_here(settings)) as cluster:
            # nothing touches the output before the input is known good
            chosen = formulae() if callable(formulae) else formulae
            check_screening(settings.screening)
            store = check_writable(job_url(settings.output, job))
            probe(executable, settings.generator_options, get_format(settings.format).option)
            with _redis(settings, state) as url:
                with guard.deferred():
                    meta = enqueue(url, settings, chosen, job, JobState.RUNNING, store)
                    queued = True
                    queue = JobQueue.open(url, job)
                    say(f"job {job}: {len(chosen)} formulae queued on {redacted_url(url)}")
                if needs_cluster(settings, queue.progress().estimate):
                    cluster.start()
                with Presence(queue):  # `status` and `stop` see the job driven
                    ending = _drive(url, settings, meta, queue, cluster, guard, quiet)
                    return _end(ending, settings, meta, queue, state, started, cluster)
    except BaseException as exc:
        if not queued and state is not None:
            state.remove()  # nothing was queued: nothing to resume
        if isinstance(exc, Interrupted):
            then = f"; resume with: {resume_command(job, settings)}" if queued else ""
            raise RunInterrupted(
                f"interrupted by {exc.name} while starting job {job}{then}", exc.exit_code
            ) from None
        raise


def _resume(
    settings: Settings,
    job: str,
    guard: SignalGuard,
    given: frozenset[str],
    say: Callable[[str], None],
    started: float,
    quiet: bool,
) -> Outcome:
    state = None if settings.redis_url else LocalState.of(settings.output, job)
    if state is not None and not state.exists():
        store = open_store(job_url(settings.output, job))
        ledger = read_ledger(store)
        if ledger is not None and ledger.state == JobState.FINISHED:
            records = read_records(store)
            if records is None:
                raise StorageError(f"job {job} had finished, but its records.parquet is missing")
            return Outcome(
                job, store.url, records, 0.0, JobState.FINISHED, f"job {job} had finished"
            )
        raise ConfigError(
            f"job {job} has no saved state under {settings.output} (looked in {state.folder}): "
            "give the --output it ran with, or --redis-url if it ran on a shared Redis"
        )
    with _redis(settings, state) as url:
        queue = JobQueue.open(url, job)
        meta = JobMeta.from_dict(queue.meta())
        refuse_contradictions(given, settings, meta, job)
        executable = resolve_executable(meta.settings.surge)
        fmt = get_format(meta.settings.format)
        probe(executable, meta.settings.generator_options, fmt.option)
        mark_running(check_writable(meta.root), resume_command(job, settings))
        if state is not None:
            queue.release()  # a private Redis: every lease in it belongs to a worker now gone
        queue.clear_stop()
        say(f"job {job}: resumed, {_left(queue.progress())} on {redacted_url(url)}")
        with Presence(queue), Launch(settings) as cluster:
            ending = _drive(url, settings, meta, queue, cluster, guard, quiet)
            return _end(ending, settings, meta, queue, state, started, cluster)


def _left(progress: Counters) -> str:
    return f"{progress.formulae - progress.formulae_final:,} of {progress.formulae:,} formulae left"


@contextlib.contextmanager
def _redis(settings: Settings, state: LocalState | None) -> Iterator[str]:
    """The configured Redis (through the client's own forward with --redis-forward), or the
    job's private one started from (or with) its state."""
    if state is None:
        with redis_url(settings) as url:
            yield url
        return
    state.create()
    state.lock()
    try:
        with state.server(settings.redis_bind) as server:
            yield server.url
    finally:
        state.release()


def _drive(
    url: str,
    settings: Settings,
    meta: JobMeta,
    queue: JobQueue,
    cluster: Launch,
    guard: SignalGuard,
    quiet: bool,
) -> list[TaskRecord] | Stop:
    """Drain the queued job: the records the drains returned, or why the run must stop (a
    signal, `stop JOB`, a fault of the storage or the queue, a cluster that cannot start).
    The client drains too while a local cluster starts (or alone, for a small job). The
    caller ends it once the cluster, and with it every worker of this run, is gone."""
    view, noted = ProgressView(quiet), LedgerProgress(meta.root)
    gathered: list[TaskRecord] = []
    kind = ClusterKind.LOCAL
    stop: Stop | None = None
    futures: list[Any] = []  # Dask futures of the drains
    try:
        guard.check()
        if drains_here(settings):
            if not cluster.started:
                view.say(
                    f"a small job (~{queue.progress().estimate:,} structures estimated, "
                    f"--inline-structures {settings.inline_structures:,}): drained in this "
                    "process, no Dask cluster started"
                )
            gathered.extend(
                drain_here(url, queue.job, settings, cluster, queue.progress, view.update)
            )
            stop = requested(queue, kind)
        if stop is None and cluster.started and not queue.finished():
            from distributed import wait as distributed_wait

            futures, kind = _start_drains(url, queue, cluster, view)
            while stop is None and not all(f.done() for f in futures):
                current = queue.progress()
                view.update(current)
                noted.note(current)
                with contextlib.suppress(TimeoutError):
                    distributed_wait(futures, timeout=0.5)
                stop = fault_of(futures, kind) or requested(queue, kind)
            stop = stop or requested(queue, kind)  # the drains may all have stopped on it first
            for future in futures if stop is None else ():
                if future.status == "finished":
                    gathered.extend(future.result().records)
                else:
                    view.say(
                        f"a drain ended with {future.exception()!r}; its records come from Redis"
                    )
    except Interrupted as exc:
        stop = Stop(f"interrupted by {exc.name}", JobState.INTERRUPTED, exc.exit_code, kind)
    except CloudSurgeError as exc:
        stop = Stop.fault(exc, kind)
    if stop is None:
        view.close(queue.progress())
        return gathered
    guard.stopping()
    view.close()
    if not stop.queue:
        with contextlib.suppress(QueueError):  # each drain stops once its task in hand is done
            queue.request_stop(stop.reason)
    # give them that long before the cluster goes: the workers of another scheduler outlive
    # this client (and would keep a thread each on a queue about to vanish); with Redis gone
    # they cannot read the request, and waiting would only add to the outage
    grace = STOP_GRACE_SCHEDULER if kind == ClusterKind.SCHEDULER else STOP_GRACE
    if futures:
        from distributed import wait as distributed_wait

        with contextlib.suppress(Exception):
            distributed_wait(futures, timeout=0 if stop.queue else grace)
    return stop


def _start_drains(
    url: str, queue: JobQueue, cluster: Launch, view: ProgressView
) -> tuple[list[Any], ClusterKind]:
    """Wait for the cluster, show the job on its dashboard, and start one drain per worker
    process; returns their futures and the cluster's kind."""
    from ..clusters.dashboard import announce, page_link
    from .worker import drain

    handle = cluster()
    progress = queue.progress()
    announce(
        handle.client, queue.job, progress.formulae, progress.total,
        formulae_done=progress.formulae_final, tasks_done=progress.done + progress.failed,
        structures=progress.structures, generated=progress.generated,
    )  # fmt: skip
    if handle.dashboard:
        view.say(f"dashboard: {handle.dashboard} (this job: {page_link(handle.dashboard)})")
    worker_url = None if handle.kind == ClusterKind.KUBERNETES else url
    if handle.setup is not None:
        handle.setup(handle.client, worker_url, queue.job)
    futures = [
        handle.client.submit(drain, worker_url, queue.job, handle.screen_processes,
                             pure=False, key=f"drain-{queue.job}-{i}")
        for i in range(handle.drains)
    ]  # fmt: skip
    return futures, handle.kind


def _end(
    ending: list[TaskRecord] | Stop,
    settings: Settings,
    meta: JobMeta,
    queue: JobQueue,
    state: LocalState | None,
    started: float,
    cluster: Launch,
) -> Outcome:
    """Save the records and the ledger of a finished run (one may finish while it stops);
    hand any other to `stop_run`. Every worker of the run is gone before its end is
    recorded; when every drain returned, the cluster closes while the records are saved."""
    if isinstance(ending, Stop) or not queue.finished():
        cluster.close()
    else:
        cluster.release()
    if (isinstance(ending, Stop) and ending.queue) or not queue.finished():
        if not isinstance(ending, Stop):
            why = queue.stop_requested() or "the drains ended early"
            ending = Stop(f"stopped: {why}", JobState.STOPPED, 1)
        return stop_run(ending, queue, meta, resume_command(queue.job, settings), state, started)
    gathered = [] if isinstance(ending, Stop) else ending
    frame = records_frame(_reconcile(gathered, queue.records()))
    save_finished(queue, meta.root, frame)
    cluster.close()  # while the private Redis still answers its workers
    if state is not None:
        state.remove()
    return Outcome(queue.job, meta.root, frame, time.monotonic() - started)


def _reconcile(gathered: list[TaskRecord], stored: list[TaskRecord]) -> list[TaskRecord]:
    """Redis holds the final records of every task, including those whose drain was lost."""
    by_item = {(record.task, record.formula): record for record in stored}
    missing = {(record.task, record.formula) for record in gathered} - set(by_item)
    if missing:
        raise CloudSurgeError(
            f"records returned by drains but missing in Redis: {sorted(missing)[:5]}"
        )
    return list(by_item.values())
