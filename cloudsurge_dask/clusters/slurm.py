"""`run --cluster slurm`: Dask workers in Slurm jobs through dask-jobqueue's `SLURMCluster`.

The scheduler runs in the client process; each job starts `--slurm-processes` single-threaded
workers, one drain each. Workers retire before the job's time limit (`--lifetime` with a
stagger); as one starts retiring, a plugin gives its leases back and closes it without waiting
for its drain (which would run until the job is done), so its tasks are taken over at once.
A job that ends anyway (`scancel`, time limit, node failure) loses nothing: its leases expire
and other drains take its tasks over. A keeper thread re-asks for the configured number of
jobs every few seconds, so a job that ended is replaced (dask-jobqueue resubmits a job whose
workers are gone).
Closing the cluster (end of the run, Ctrl-C) cancels every job with `scancel`.

The Redis URL reaches the workers as an argument of their drain task and of the plugin,
through the scheduler's connection, never through a job script or the job's environment:
`sbatch` runs without `CLOUDSURGE_REDIS_URL` even when the client has it set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask.config
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import ClusterError, ConfigError
from ..paramtypes import walltime_seconds
from ..settings import ClusterKind, Settings
from .cluster import ClusterHandle
from .dashboard import routes_config
from .sizing import screen_processes
from .slurmscript import URL_VARIABLE

log = logging.getLogger(__name__)

KEEP_INTERVAL = 5.0  # seconds between the keeper's re-asks for the configured jobs
# a drain whose worker died (retired, cancelled, timed out) always runs again elsewhere: it is
# idempotent (its leases protect the tasks), and a long run outlives many jobs; and the
# in-process scheduler serves our page
RESCHEDULE = {"distributed.scheduler.allowed-failures": 1_000_000}


def retirement(walltime: str) -> tuple[int, int]:
    """Worker lifetime and stagger (seconds) for a time limit: with a margin of 10 % of it
    (30 s to 10 min), each worker retires between two margins and one margin before the
    limit, the workers of one job at different times, each with time left to close."""
    seconds = walltime_seconds(walltime)
    margin = min(max(seconds // 10, 30), 600)
    stagger = margin // 2
    return seconds - margin - stagger, stagger


def import_jobqueue() -> None:
    """Import dask-jobqueue from the main thread, keeping this process's SIGINT handler:
    dask-jobqueue installs its own as it is imported (which fails in any other thread, where
    the cluster starts), and the run's handler must stay the one that stops it cleanly."""
    previous = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--cluster slurm needs dask-jobqueue: pip install 'cloudsurge-dask[slurm]'"
        ) from None
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)


def _job_class() -> Any:
    """dask-jobqueue's Slurm job whose `sbatch` never exports the client's Redis URL."""
    import_jobqueue()
    from dask_jobqueue.slurm import SLURMJob

    class Job(SLURMJob):
        submit_command = f"env -u {URL_VARIABLE} sbatch"

    return Job


def cluster_options(settings: Settings) -> dict[str, Any]:
    """The `SLURMCluster` arguments of a run (also what its job script is made from)."""
    lifetime, stagger = retirement(settings.slurm_walltime)
    prologue = [settings.slurm_prologue] if settings.slurm_prologue else []
    options: dict[str, Any] = {
        "job_cls": _job_class(),
        "name": "cloudsurge",
        "job_name": "cloudsurge-dask",
        # one thread per worker process: each runs one drain; the job books all its cores
        "cores": settings.slurm_processes,
        "processes": settings.slurm_processes,
        "job_cpu": settings.slurm_cores,
        "memory": settings.slurm_memory,
        "walltime": settings.slurm_walltime,
        "queue": settings.slurm_partition,
        "account": settings.slurm_account,
        "job_extra_directives": list(settings.slurm_directives),
        "job_script_prologue": prologue,
        "interface": settings.slurm_interface,
        "log_directory": settings.slurm_log_directory,
        "python": sys.executable,
        "worker_extra_args": [
            f"--lifetime={lifetime}s", f"--lifetime-stagger={stagger}s",
            "--preload=cloudsurge_dask.clusters.preload",
        ],
        "scheduler_options": {"dashboard_address": ":0"},
    }  # fmt: skip
    return options


class LeaseReturn(WorkerPlugin):
    """Hands this worker process's leases back as it retires or closes, so its tasks are
    taken over at once (no attempt spent) instead of after the lease timeout.

    Dask's graceful retirement (`--lifetime`) waits for the tasks in hand to finish, and a
    drain only finishes with the job: left alone, a retiring worker would hold its drain
    until Slurm kills it at the time limit. So when the worker starts retiring, its leases go
    back (again every few tenths of a second, since the drain's thread may lease more until
    the process ends) and the worker closes without waiting for its executor; the scheduler
    reschedules the drain elsewhere. Redis unreachable: nothing to do, the leases expire."""

    name = "cloudsurge-lease-return"

    def __init__(self, redis_url: str | None, job: str) -> None:
        self.redis_url = redis_url
        self.job = job

    def setup(self, worker: Any) -> None:
        threading.Thread(
            target=self._watch, args=(worker,), name="cloudsurge-retire", daemon=True
        ).start()

    def teardown(self, worker: Any) -> None:
        self._give_back()

    def _watch(self, worker: Any) -> None:
        from distributed.core import Status

        while worker.status not in (Status.closing_gracefully, Status.closing, Status.closed):
            time.sleep(0.5)
        if worker.status != Status.closing_gracefully:
            return
        threading.Thread(target=self._keep_giving_back, name="cloudsurge-give-back",
                         daemon=True).start()  # fmt: skip
        worker.loop.add_callback(
            worker.close, executor_wait=False, nanny=True, reason="cloudsurge-retired"
        )

    def _keep_giving_back(self) -> None:
        while True:
            self._give_back()
            time.sleep(0.3)

    def _give_back(self) -> None:
        from ..queue.jobqueue import GROUP, JobQueue

        if not self.redis_url:
            return
        prefix = f"{socket.gethostname()}-{os.getpid()}-"  # worker.consumer_name()
        with contextlib.suppress(Exception):
            queue = JobQueue.open(self.redis_url, self.job)
            rows = queue.client.xpending_range(queue.stream_key, GROUP, "-", "+", 10_000)
            mine = [str(r["message_id"]) for r in rows if str(r["consumer"]).startswith(prefix)]
            queue.release(mine)


def _job_ids(cluster: Any) -> list[str]:
    return sorted(
        (str(job.job_id) for job in list(cluster.workers.values()) if job.job_id), key=int
    )


class _Keeper:
    """Prints the Slurm job ids as they are submitted and re-asks for the configured number
    of jobs every few seconds, so that jobs that ended are replaced."""

    def __init__(self, cluster: Any, jobs: int) -> None:
        self._cluster, self._jobs = cluster, jobs
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slurm-keeper", daemon=True)

    def start(self) -> None:
        self.report()
        self._thread.start()

    def report(self) -> None:
        new = [job for job in _job_ids(self._cluster) if job not in self._seen]
        if new:
            self._seen.update(new)
            print(f"Slurm jobs submitted: {' '.join(new)}", file=sys.stderr, flush=True)

    def _run(self) -> None:
        while not self._stop.wait(KEEP_INTERVAL):
            with contextlib.suppress(Exception):
                self._cluster.scale(jobs=self._jobs)
                self.report()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=KEEP_INTERVAL + 5)

    @property
    def submitted(self) -> list[str]:
        return sorted(self._seen, key=int)


def _check_submission(cluster: Any) -> None:
    """`sbatch --test-only` of the job script: a wrong partition, account or limit is one
    clear error now instead of jobs that never start (scale() submits in the background)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh") as script:
        script.write(cluster.job_script())
        script.flush()
        env = {k: v for k, v in os.environ.items() if k != URL_VARIABLE}
        try:
            done = subprocess.run(
                ["sbatch", "--test-only", script.name],
                capture_output=True, text=True, env=env, timeout=60,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"cannot run sbatch ({exc}): is Slurm installed here?") from None
    if done.returncode != 0:
        raise ClusterError(f"sbatch refuses the job: {_first_line(done.stderr or done.stdout)}")


@contextmanager
def slurm_cluster(settings: Settings) -> Iterator[ClusterHandle]:
    """A SLURMCluster scaled to `--slurm-jobs`, its scheduler in this process; waits for a
    first worker (bounded by --cluster-timeout); every job is cancelled on exit."""
    options = cluster_options(settings)
    from dask_jobqueue import SLURMCluster

    with _quiet_dask():
        try:
            with dask.config.set({**routes_config(), **RESCHEDULE}):
                cluster = SLURMCluster(**options, silence_logs=False)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"could not start the Dask scheduler for Slurm: {exc}") from exc
        with _cancelled_at_end(cluster, settings) as handle:
            yield handle


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """The in-process scheduler's INFO logs (a worker's connection closing as its job is
    cancelled, with a traceback) are noise beside the run's own lines: errors only, until the
    cluster is closed (SLURMCluster's own silencing ends before its close does)."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _cancelled_at_end(cluster: Any, settings: Settings) -> Iterator[ClusterHandle]:
    keeper = _Keeper(cluster, settings.slurm_jobs)
    try:
        _check_submission(cluster)
        cluster.scale(jobs=settings.slurm_jobs)
        with Client(cluster) as client:
            keeper.start()
            try:
                client.wait_for_workers(1, timeout=settings.cluster_timeout or None)
            except TimeoutError:
                raise ClusterError(
                    f"no Dask worker connected within {settings.cluster_timeout:g} s "
                    "(--cluster-timeout): see `squeue --me` (pending: partition or limits) and "
                    "the jobs' output files (--slurm-log-directory)"
                ) from None
            keeper.report()

            def setup(client: Client, url: str | None, job: str) -> None:
                client.register_plugin(LeaseReturn(url, job))

            drains = settings.slurm_jobs * settings.slurm_processes
            yield ClusterHandle(
                client, drains, _dashboard(cluster), ClusterKind.SLURM,
                screen_processes(settings, ClusterKind.SLURM), setup,
            )  # fmt: skip
    finally:
        keeper.stop()
        with contextlib.suppress(Exception):
            cluster.close(timeout=60)
        if keeper.submitted:
            print(f"Slurm jobs cancelled: {' '.join(keeper.submitted)}", file=sys.stderr)


def _dashboard(cluster: Any) -> str | None:
    try:
        return str(cluster.dashboard_link)
    except (KeyError, AttributeError, ValueError):
        return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return next((line for line in lines if "error" in line.lower()), lines[0] if lines else "?")
