"""`run --cluster kubernetes --detach`: a run whose client lives in the cluster, so the user's
machine may go away.

Here the job is queued (its formulae made with CDK on this machine, the output checked, the
ledger written) on the Redis that `--redis-url` reaches, or, with `--resume`, checked against
the queued job; then a DaskJob starts `run --resume JOB` in a pod beside its own scheduler
and workers (`clusters/daskjob.py`). What follows is the ordinary run, in that pod: the same
records, ledger, stop and resume. This command prints the job id and how to follow it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence

from ..clusters.daskjob import daskjob_name, render_daskjob, submit_daskjob
from ..clusters.kubeforward import redis_url
from ..errors import ClusterError, ConfigError
from ..formulae.formula import Formula
from ..output.layout import job_url
from ..output.ledger import JobState, read_ledger
from ..queue.jobqueue import JobQueue, new_job_id
from ..queue.presence import holder
from ..queue.redisclient import redacted_url, required_url
from ..screen.preflight import check_screening
from ..settings import JobMeta, Settings
from ..storage import check_writable, is_local, open_store
from .job import enqueue
from .resumption import refuse_contradictions, resume_command


def _check(settings: Settings) -> str:
    """The Redis URL that reaches the job's queue from here; a detached run's output must be
    one its pods reach too."""
    url = required_url(settings.redis_url, "run --detach")
    if is_local(settings.output) or settings.output.startswith("memory://"):
        raise ConfigError(
            f"--detach: the output {settings.output} is not one the cluster's pods reach; "
            "give --output gs://BUCKET/PREFIX"
        )
    if settings.adaptive_max:
        raise ConfigError("--detach runs a fixed number of --pods: leave --adaptive-max at 0")
    return url


def _queued(settings: Settings, url: str, chosen: Sequence[Formula]) -> tuple[str, str]:
    check_screening(settings.screening)
    job = new_job_id()
    store = check_writable(job_url(settings.output, job))
    enqueue(url, settings, chosen, job, JobState.QUEUED, store)
    return job, f"job {job}: {len(chosen):,} formulae queued on {redacted_url(url)}"


def _resumable(settings: Settings, url: str, job: str, given: frozenset[str]) -> str | None:
    """Why the job needs no new client (it had finished), or None; a job that a client
    drives now is refused."""
    queue = JobQueue.open(url, job)
    meta = JobMeta.from_dict(queue.meta())
    refuse_contradictions(given, settings, meta, job)
    who = holder(queue)
    if who is not None:
        raise ConfigError(f"job {job} is running ({who}): follow it with `status {job}`")
    ledger = read_ledger(open_store(meta.root))
    if ledger is not None and ledger.state == JobState.FINISHED:
        return f"job {job} had finished"
    return None


def detach(
    settings: Settings,
    formulae: Callable[[], Sequence[Formula]],
    job: str | None,
    given: frozenset[str],
) -> tuple[str, str]:
    """Queue (or check) the job and start its DaskJob; returns the job id and what to tell
    the user."""
    _check(settings)
    with redis_url(settings) as url:  # through the client's own forward with --redis-forward
        if job is None:
            job, said = _queued(settings, url, formulae())
        else:
            done = _resumable(settings, url, job, given)
            if done is not None:
                return job, done
            said = f"job {job}: resumed"
    name = daskjob_name(job)
    try:
        submit_daskjob(render_daskjob(settings, job, name), settings)
    except ClusterError as exc:
        raise ClusterError(
            f"{exc}; job {job} is queued: once that is fixed, go on with "
            f"{resume_command(job, settings)}"
        ) from None
    ns = settings.namespace
    # as this command reached Redis: from outside the cluster, through the client's own forward
    reach = ["--redis-forward", "--namespace", ns] if settings.redis_forward else []
    flags = shlex.join(["--output", settings.output, *reach])
    return job, "\n".join([
        f"{said}; its client runs in the cluster: DaskJob {name} in namespace {ns}",
        f"follow: python -m cloudsurge_dask status {job} {flags} "
        "(live with CLOUDSURGE_REDIS_URL set)",
        f"stop:   python -m cloudsurge_dask stop {job} {flags} (with CLOUDSURGE_REDIS_URL set)",
        f"log:    kubectl logs -n {ns} -f {name}-runner",
        f"dashboard: kubectl port-forward -n {ns} svc/{name}-scheduler 8787, then "
        "http://localhost:8787/cloudsurge",
        f"when it has ended (the operator removes its cluster): kubectl delete daskjob -n {ns} "
        f"{name}",
    ])  # fmt: skip
