"""Going on with a job: the command that does it, and which flags may not change.

A resumed job keeps its formulae and everything it was queued with (the settings declared
`stored`): a flag given again with another value is refused by name rather than silently
ignored. Where the job runs (workers, cluster, scheduler, Kubernetes) may change.
"""

from __future__ import annotations

import shlex

from ..declaration import declared
from ..errors import ConfigError
from ..output.layout import job_url
from ..settings import ClusterKind, JobMeta, Settings
from ..storage import is_local, local_path


def resume_command(job: str, settings: Settings) -> str:
    """The exact command that goes on with `job` (the Redis URL stays in its variable)."""
    words = ["python", "-m", "cloudsurge_dask", "run", "--resume", job]
    default = Settings.build(env={})
    if settings.output != default.output:
        words += ["--output", settings.output]
    if settings.detach or (settings.cluster == ClusterKind.KUBERNETES and settings.scheduler):
        words += ["--cluster", ClusterKind.KUBERNETES.value, "--detach"]  # it went on in a pod
        if settings.namespace != default.namespace:
            words += ["--namespace", settings.namespace]
    shared = " (with CLOUDSURGE_REDIS_URL set to the same Redis)" if settings.redis_url else ""
    return shlex.join(words) + shared


def _same_root(left: str, right: str) -> bool:
    if is_local(left) and is_local(right):
        return local_path(left) == local_path(right)
    return left.rstrip("/") == right.rstrip("/")


def contradictions(given: frozenset[str], settings: Settings, meta: JobMeta, job: str) -> list[str]:
    """The flags given for a resume that disagree with the queued job, as `--flag value (the
    job has value)`; flags in MAY_CHANGE may differ."""
    problems = []
    if "output" in given and not _same_root(job_url(settings.output, job), meta.root):
        problems.append(f"--output {settings.output} (the job's files are in {meta.root})")
    for item in declared(Settings):
        if item.name not in given or not item.stored:
            continue
        mine, theirs = getattr(settings, item.name), getattr(meta.settings, item.name)
        if mine != theirs:
            problems.append(f"{item.flag} {mine!r} (the job has {theirs!r})")
    return problems


def refuse_contradictions(
    given: frozenset[str], settings: Settings, meta: JobMeta, job: str
) -> None:
    """One ConfigError naming every flag of a resume that contradicts the queued job."""
    problems = contradictions(given, settings, meta, job)
    if problems:
        raise ConfigError(
            f"--resume {job}: these flags contradict the queued job: {'; '.join(problems)}. "
            "A resumed job keeps its formulae and queued settings; only where it runs "
            "(--workers, --cluster, --scheduler, --cluster-timeout, Kubernetes flags) "
            "may change"
        )
