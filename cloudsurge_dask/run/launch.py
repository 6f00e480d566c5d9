"""The run's cluster, started in a thread, and the client's own drain while it starts.

A Dask cluster takes a second or more to start (its worker processes import Dask, NumPy and
the project), longer than a small job's work. So a local run's client drains the queue
itself while its cluster starts, and hands over after the task in hand once the cluster is
up; a local run estimated below `--inline-structures` never starts one. Nothing here imports
Dask until a cluster is started: a small run never loads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ..clusters.sizing import screen_processes
from ..output.records import TaskRecord
from ..queue.jobqueue import Counters
from ..settings import ClusterKind, Settings
from .worker import Worker

if TYPE_CHECKING:
    from ..clusters.cluster import ClusterHandle

PROGRESS_EVERY = 0.5  # seconds between progress updates from the client's own drain


def drains_here(settings: Settings) -> bool:
    """Whether the client drains too: a local cluster of its own (its machine's cores are
    the workers'; another scheduler's or Kubernetes' workers may not even see its Redis)."""
    return (
        settings.cluster == ClusterKind.LOCAL
        and not settings.scheduler
        and settings.inline_structures > 0
    )


def needs_cluster(settings: Settings, estimate: int) -> bool:
    """A run drained by the client alone: local, and estimated below --inline-structures."""
    return not drains_here(settings) or estimate >= settings.inline_structures


class Launch:
    """The cluster, started in a thread now or on `start()` (while formulae are made and
    checked, or the client drains). Calling it starts it if need be and waits for it (start
    errors surface there); `close()` ends it, from the thread that opened it, as Dask's client
    context demands; a run closes it before its end, while its Redis still answers."""

    def __init__(self, settings: Settings, start: bool = True) -> None:
        self.settings = settings
        self._ready: Future[ClusterHandle] = Future()
        self._release = threading.Event()
        self._abort = threading.Event()  # a start still under way is given up on close()
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start the cluster (once; from the main thread: some kinds prepare there first)."""
        if self._thread is not None:
            return
        from ..clusters.cluster import prepare_cluster

        prepare_cluster(self.settings)
        self._thread = threading.Thread(target=self._hold, name="cluster", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def ready(self) -> bool:
        """Started and up (or failed to start: the caller learns which by calling it)."""
        return self._ready.done()

    def _hold(self) -> None:
        from ..clusters.cluster import open_cluster

        try:
            with open_cluster(self.settings, self._abort) as handle:
                self._ready.set_result(handle)
                self._release.wait()
        except Exception as exc:
            if self._ready.done():
                raise
            self._ready.set_exception(exc)

    def __call__(self) -> ClusterHandle:
        self.start()
        return self._ready.result()

    def release(self) -> None:
        """Let the cluster close in its thread while this one goes on (`close` waits)."""
        self._release.set()

    def close(self) -> None:
        """End the cluster; one still starting (a Kubernetes run stopped meanwhile) is given up
        at once and removed rather than waited for."""
        self._abort.set()
        self._release.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def drain_here(
    url: str,
    job: str,
    settings: Settings,
    cluster: Launch,
    progress: Callable[[], Counters],
    show: Callable[[Counters], None],
) -> list[TaskRecord]:
    """The client's own drain, in this thread (so Ctrl-C reaches it like any other wait):
    until the job is finished or, when the cluster was started, until it is up."""
    worker = Worker(url, job, screen_processes=screen_processes(settings, ClusterKind.LOCAL))
    shown = [time.monotonic()]

    def on_record(record: TaskRecord) -> None:
        now = time.monotonic()
        if now - shown[0] >= PROGRESS_EVERY:
            shown[0] = now
            show(progress())

    return worker.run(on_record, until=lambda: cluster.started and cluster.ready())
