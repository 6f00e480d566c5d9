"""The one place that knows which Dask cluster a run uses: local, a given scheduler,
Kubernetes (`daskcluster.py`), or Slurm (`slurm.py`).

Everything else gets a `ClusterHandle`: a connected `Client` and how many drain tasks to
submit (one per worker process). Start-up failures become `ClusterError`s that say what to
do, and every wait is bounded by `--cluster-timeout` (0 means no limit), so a broken
kubeconfig or a pod that never schedules ends the run instead of hanging it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dask.config
from distributed import Client, LocalCluster

from ..errors import ClusterError
from ..settings import ClusterKind, Settings
from .dashboard import routes_config
from .sizing import expected_drains, screen_processes


@dataclass
class ClusterHandle:
    """A connected client plus the number of drain tasks that keeps every worker process busy."""

    client: Client
    drains: int
    dashboard: str | None
    kind: ClusterKind
    screen_processes: int = 1  # screening processes per drain, for a screened job
    # called with the client, the workers' Redis URL and the job before the drains start
    setup: Callable[[Client, str | None, str], None] | None = None


def prepare_cluster(settings: Settings) -> None:
    """What must happen in the main thread before the cluster starts in another one."""
    if settings.cluster == ClusterKind.SLURM and not settings.scheduler:
        from .slurm import import_jobqueue

        import_jobqueue()


class Abandoned(Exception):
    """The run stopped waiting for its cluster's start (Ctrl-C, `stop`, a small job already
    done); raised and caught inside `clusters/` only, where the half-made cluster is then
    removed and a ClusterError says so."""


@contextmanager
def open_cluster(
    settings: Settings, abort: threading.Event | None = None
) -> Iterator[ClusterHandle]:
    """Start (or reach) the cluster the settings ask for; close whatever was started on exit.
    Setting `abort` ends a Kubernetes start that is still waiting, its cluster removed."""
    abort = abort or threading.Event()
    if settings.scheduler:
        with _remote(settings) as handle:
            yield handle
    elif settings.cluster == ClusterKind.KUBERNETES:
        from .daskcluster import kubernetes_cluster

        with kubernetes_cluster(settings, abort) as handle:
            yield handle
    elif settings.cluster == ClusterKind.SLURM:
        from .slurm import slurm_cluster

        with slurm_cluster(settings) as handle:
            yield handle
    else:
        with _local(settings) as handle:
            yield handle


def start_limit(settings: Settings) -> float | None:
    return settings.cluster_timeout or None


def wait_for_workers(
    client: Client, count: int, settings: Settings, hint: str, abort: threading.Event | None = None
) -> None:
    """Wait up to --cluster-timeout for `count` workers; in steps of a second when the wait
    may be given up (`abort`)."""
    limit = start_limit(settings)
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        step = 1.0 if abort is not None else None
        if deadline is not None:
            left = max(0.01, deadline - time.monotonic())
            step = left if step is None else min(step, left)
        try:
            client.wait_for_workers(count, timeout=step)
            return
        except TimeoutError:
            if deadline is not None and time.monotonic() >= deadline:
                raise ClusterError(
                    f"{len(client.nthreads())} of {count} Dask worker(s) connected within "
                    f"{settings.cluster_timeout:g} s (--cluster-timeout); {hint}"
                ) from None
            if abort is not None and abort.is_set():
                raise Abandoned from None


def dashboard_of(source: Any) -> str | None:
    try:
        return str(source.dashboard_link)
    except (KeyError, AttributeError, ValueError):
        return None


@contextmanager
def _local(settings: Settings) -> Iterator[ClusterHandle]:
    try:
        with dask.config.set(routes_config()):  # the in-process scheduler serves our page
            cluster = LocalCluster(
                n_workers=settings.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                # a run that stops cancels its drains: the workers' warnings about that are
                # noise beside the run's own message
                silence_logs=logging.ERROR,
                preload=["cloudsurge_dask.clusters.preload"],  # a terminal's Ctrl-C is the client's
            )
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"could not start a local Dask cluster: {exc}") from exc
    with cluster, Client(cluster) as client:
        wait_for_workers(client, settings.workers, settings, "try fewer --workers")
        yield ClusterHandle(
            client, settings.workers, dashboard_of(cluster), ClusterKind.LOCAL,
            screen_processes(settings, ClusterKind.LOCAL),
        )  # fmt: skip


@contextmanager
def _remote(settings: Settings) -> Iterator[ClusterHandle]:
    address = settings.scheduler
    limit = start_limit(settings)
    try:
        client = Client(address, **({"timeout": limit} if limit else {}))
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}); check --scheduler and "
            f"that `dask scheduler` is running and reachable from here"
        ) from None
    with client:
        hint = f"start some with `dask worker {address} --nthreads 1`"
        wait_for_workers(client, 1, settings, hint)
        if settings.cluster == ClusterKind.KUBERNETES:  # a DaskJob's own, its pods still coming
            kind, drains = ClusterKind.KUBERNETES, expected_drains(settings)
        else:
            kind, drains = ClusterKind.SCHEDULER, len(client.nthreads())
        yield ClusterHandle(
            client, drains, dashboard_of(client), kind, screen_processes(settings, kind)
        )
