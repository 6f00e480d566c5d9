"""A whole run on the client side: formulae in, verified parts and a records table out."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import pandas as pd
from distributed import wait as distributed_wait

from .cluster import ClusterHandle, expected_drains, open_cluster
from .errors import CloudSurgeError, QueueError
from .formula import Formula
from .generator import resolve_executable
from .jobqueue import JobQueue, Progress, new_job_id
from .layout import RECORDS_FILE
from .plan import PlanOptions, plan_tasks
from .records import FAILED, OK, REJECTED, TaskRecord, records_frame
from .redisserver import RedisServer, connect, redacted_url
from .settings import JobMeta, Settings
from .storage import check_writable, open_store
from .worker import drain


@contextlib.contextmanager
def redis_for(settings: Settings) -> Iterator[str]:
    """The configured Redis, or a private embedded one for the length of the run."""
    if settings.redis_url:
        yield settings.redis_url
        return
    with RedisServer() as server:
        yield server.url


def enqueue(client_url: str, settings: Settings, formulae: Sequence[Formula], job: str) -> JobMeta:
    """Put a new job on the queue; the output location is checked first."""
    meta = JobMeta.of(settings, job)
    check_writable(meta.root)
    queue = JobQueue(connect(client_url), job)
    options = PlanOptions(
        settings.split_structures,
        settings.shard_structures,
        settings.shard_formulae,
        drains=expected_drains(settings),
    )
    queue.create(plan_tasks(formulae, options), meta.to_dict())
    return meta


@dataclass(frozen=True)
class Outcome:
    job: str
    output: str
    records: pd.DataFrame
    seconds: float

    @property
    def ok(self) -> bool:
        """No task failed; formulae the generator refused (C2) are reported, not failures."""
        return not bool((self.records["status"] == FAILED).any())


def _bar(progress: Progress, started: float) -> str:
    total = max(progress.total, 1)
    finished = progress.done + progress.failed
    width = 30
    filled = int(width * finished / total)
    elapsed = max(time.monotonic() - started, 1e-9)
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {finished}/{progress.total} tasks, "
        f"{progress.structures:,} structures, {progress.structures / elapsed:,.0f}/s"
    )


@contextlib.contextmanager
def _cluster_started_early(settings: Settings) -> Iterator[Callable[[], ClusterHandle]]:
    """Start the cluster in a thread while formulae are made and queued (its start-up is the
    largest fixed cost of a small run); yields a wait for it, on which start errors surface.
    The thread that opens the cluster also closes it: Dask's client context demands it."""
    ready: Future[ClusterHandle] = Future()
    release = threading.Event()

    def hold() -> None:
        try:
            with open_cluster(settings) as handle:
                ready.set_result(handle)
                release.wait()
        except Exception as exc:
            if ready.done():
                raise
            ready.set_exception(exc)

    thread = threading.Thread(target=hold, name="cluster", daemon=True)
    thread.start()
    try:
        yield ready.result
    finally:
        release.set()
        thread.join()


def run_job(
    settings: Settings,
    formulae: Sequence[Formula] | Callable[[], Sequence[Formula]],
    *,
    job: str | None = None,
    quiet: bool = False,
) -> Outcome:
    """Enqueue (unless resuming `job`), drain on the cluster, gather, reconcile and save.

    `formulae` may be a function, called while the cluster starts."""
    say = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr))
    resolve_executable(settings.surge)
    started = time.monotonic()
    with _cluster_started_early(settings) as cluster, redis_for(settings) as url:
        if job is None:
            chosen = formulae() if callable(formulae) else formulae
            job = new_job_id()
            enqueue(url, settings, chosen, job)
            say(f"job {job}: {len(chosen)} formulae queued on {redacted_url(url)}")
        queue = JobQueue.open(url, job)
        meta = JobMeta.from_dict(queue.meta())
        handle = cluster()
        if handle.dashboard:
            say(f"dashboard: {handle.dashboard}")
        worker_url = None if handle.kind == "kubernetes" else url
        futures = [
            handle.client.submit(drain, worker_url, job, pure=False, key=f"drain-{job}-{i}")
            for i in range(handle.drains)
        ]
        while not all(f.done() for f in futures):
            if not quiet:
                sys.stderr.write(_bar(queue.progress(), started))
                sys.stderr.flush()
            with contextlib.suppress(TimeoutError):
                distributed_wait(futures, timeout=0.5)
        gathered: list[TaskRecord] = []
        for future in futures:
            if future.status == "finished":
                gathered.extend(future.result().records)
            else:
                say(f"\na drain task ended with {future.exception()!r}; records come from Redis")
        if not quiet:
            sys.stderr.write(_bar(queue.progress(), started) + "\n")
        stored = queue.records()
        if not queue.finished():
            raise QueueError(f"job {job} did not finish: {queue.progress()}")
    records = _reconcile(gathered, stored)
    frame = records_frame(records)
    store = open_store(meta.root)
    store.write_bytes(RECORDS_FILE, frame.to_parquet(index=False))
    return Outcome(job, meta.root, frame, time.monotonic() - started)


def _reconcile(gathered: list[TaskRecord], stored: list[TaskRecord]) -> list[TaskRecord]:
    """Redis holds the final records of every task, including those whose drain was lost."""
    by_item = {(record.task, record.formula): record for record in stored}
    missing = {(record.task, record.formula) for record in gathered} - set(by_item)
    if missing:
        raise CloudSurgeError(
            f"records returned by drains but missing in Redis: {sorted(missing)[:5]}"
        )
    return list(by_item.values())


def summary(outcome: Outcome) -> str:
    frame = outcome.records
    counts = frame["status"].value_counts()
    structures = int(frame["structures"].sum())
    spans = frame.groupby("task").first()  # the formulae of a shard share one span
    busy = float((spans["finished"] - spans["started"]).dt.total_seconds().sum())
    generator = float(frame["generator_cpu_seconds"].sum())
    share = generator / busy if busy > 0 else 0.0
    lines = [
        f"job {outcome.job}: {len(frame)} formulae in {frame['task'].nunique()} tasks, "
        f"{int(counts.get(OK, 0))} ok, "
        f"{int(counts.get(FAILED, 0))} failed, {int(counts.get(REJECTED, 0))} rejected",
        f"structures: {structures:,} in {outcome.seconds:.1f} s "
        f"({structures / max(outcome.seconds, 1e-9):,.0f}/s); "
        f"generator share of worker time {share:.0%} (its CPU time / busy time)",
        f"compressed: {int(frame['compressed_bytes'].sum()):,} bytes "
        f"({int(frame['compressed_bytes'].sum()) / max(structures, 1):.2f} bytes/structure)",
        f"output: {outcome.output}/",
    ]
    for _, row in frame[frame["status"] != OK].head(10).iterrows():
        where = "" if row["task"] == row["formula"] else f" (task {row['task']})"
        lines.append(f"  {row['formula']}{where}: {row['status']}: {row['error']}")
    return "\n".join(lines)
