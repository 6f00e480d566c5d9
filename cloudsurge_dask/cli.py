"""`python -m cloudsurge_dask`: the command line, a click group with one verb per step."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, TypeVar

import click

from .errors import CloudSurgeError
from .settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

HELP: dict[str, str] = {
    "max_heavy_atoms": "Enumerate every formula with 1..N heavy atoms (default 6).",
    "elements": "Heavy elements of the formula set, comma separated (default C,N,O,S,F,Cl,Br,I).",
    "formulae": "Read formulae from this file (one per line, # comments) instead of CDK.",
    "redis_url": "Redis URL of the queue (redis://:PASSWORD@HOST:PORT/DB). "
    "Default: a private embedded redis-server for the length of the run.",
    "lease_seconds": "A task whose worker stops renewing it for this long is taken over (60).",
    "max_attempts": "Tries per task before it is recorded as failed (3).",
    "batch_size": "Tasks a worker leases at once (4).",
    "split_structures": "Split a formula estimated above this many structures into "
    "`-m res/mod` slices of about this size (20,000,000; 0: never); smaller when a quarter "
    "of one drain's share of the whole job is smaller (but not below 1,000,000).",
    "shard_structures": "Group formulae estimated below this many structures into shards "
    "of about this size sharing one set of parts (1,000,000; 0: never).",
    "shard_formulae": "At most this many formulae in one shard (256).",
    "surge": "Generator executable (default: `surge` on PATH, else the built-in engine).",
    "surge_options": "Generator filter options, e.g. '-T -P' (whitelist: -T -P -t# -f# -p# -B#).",
    "generator_timeout": "Kill a generator run after this many seconds (0: no limit).",
    "output": "Output URL; the job's files go to OUTPUT/JOB/ (default ./results; gs://, memory://).",
    "part_size": "At most this many structures per compressed part (10,000,000).",
    "codec": "Part compression: zst (default), gz or zip.",
    "cluster": "Cluster kind: local (default) or kubernetes.",
    "scheduler": "Address of an existing Dask scheduler to use instead of a new cluster.",
    "workers": "Local worker processes, one single-threaded drain each (default: cores).",
    "image": "Kubernetes: worker image.",
    "namespace": "Kubernetes: namespace.",
    "pods": "Kubernetes: worker pods.",
    "processes_per_pod": "Kubernetes: worker processes (drains) per pod.",
    "pod_cpu": "Kubernetes: CPU request and limit per pod.",
    "pod_memory": "Kubernetes: memory request and limit per pod.",
    "pod_ephemeral_storage": "Kubernetes: ephemeral-storage request and limit per pod.",
    "redis_secret": "Kubernetes: Secret holding the Redis URL under key 'url'.",
    "storage_secret": "Kubernetes: Secret with a storage key file (else Workload Identity).",
    "service_account": "Kubernetes: service account of the worker pods (Workload Identity).",
    "adaptive_max": "Kubernetes: scale adaptively up to this many pods (0: fixed size).",
    "cluster_timeout": "Seconds to wait for a cluster or scheduler before giving up (300).",
}
ALL = tuple(f.name for f in fields(Settings))


def settings_options(names: Sequence[str] = ALL) -> Callable[[F], F]:
    """Add one `--flag` per Settings field; values stay None unless given on the line."""

    def decorate(command: F) -> F:
        for name in reversed(names):
            flag = "--" + name.replace("_", "-")
            command = click.option(
                flag,
                name,
                default=None,
                metavar="VALUE",
                help=f"{HELP[name]} [env: CLOUDSURGE_{name.upper()}]",
            )(command)
        return command

    return decorate


def build_settings(values: dict[str, Any]) -> Settings:
    flags = {name: values.pop(name) for name in list(values) if name in ALL}
    return Settings.build(flags)


def friendly(command: F) -> F:
    """Every expected failure ends as one clear line and exit status 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CloudSurgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def load_formulae(settings: Settings) -> list[Any]:
    if settings.formulae:
        from .formula import read_formula_file

        return read_formula_file(settings.formulae)
    from .formulae import generate_formulae

    return generate_formulae(settings.max_heavy_atoms, settings.elements)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Enumerate chemical space: every structure of every formula, on a Dask cluster.

    formulae (CDK) -> Redis queue -> Dask workers -> generator (Surge) -> compressed
    SMILES parts -> records. Each flag can also be set as CLOUDSURGE_<FLAG>.
    """
    # Before gcsfs is imported here or in a worker process this one spawns: without it gcsfs
    # probes every bucket over gRPC first, which stalls against plain-HTTP endpoints.
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@main.command()
@settings_options()
@click.option("--resume", metavar="JOB", default=None, help="Finish an existing job instead.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@friendly
def run(resume: str | None, quiet: bool, **values: Any) -> None:
    """Generate formulae, queue them, drain them on the cluster, save records.

    Prints the job id; parts, manifests and records.parquet end up in OUTPUT/JOB/.
    """
    from .job import run_job, summary

    settings = build_settings(values)
    # formulae are made (CDK) while the cluster starts
    outcome = run_job(settings, lambda: load_formulae(settings), job=resume, quiet=quiet)
    click.echo(summary(outcome), err=True)
    click.echo(outcome.job)
    if not outcome.ok:
        sys.exit(1)


@main.command()
@settings_options(("max_heavy_atoms", "elements", "formulae"))
@click.option("--out", "out", default="-", metavar="FILE", help="Write here (default stdout).")
@friendly
def formulae(out: str, **values: Any) -> None:
    """Write the formula list (Hill order, one per line)."""
    from .formula import write_formula_file

    chosen = load_formulae(build_settings(values))
    if out == "-":
        click.echo("\n".join(f.hill for f in chosen))
    else:
        write_formula_file(chosen, out)
        click.echo(f"{len(chosen)} formulae written to {out}", err=True)


@main.command()
@click.argument("formula_file")
@settings_options()
@friendly
def enqueue(formula_file: str, **values: Any) -> None:
    """Queue the formulae of FORMULA_FILE as a new job on --redis-url; prints the job id."""
    from .errors import ConfigError
    from .formula import read_formula_file
    from .job import enqueue as put
    from .jobqueue import new_job_id

    settings = build_settings(values)
    if not settings.redis_url:
        raise ConfigError("enqueue needs --redis-url (or CLOUDSURGE_REDIS_URL)")
    chosen = read_formula_file(formula_file)
    job = new_job_id()
    put(settings.redis_url, settings, chosen, job)
    click.echo(job)


@main.command()
@click.argument("job")
@settings_options(("redis_url",))
@friendly
def worker(job: str, **values: Any) -> None:
    """Drain JOB in this process without Dask (for a plain Kubernetes Job pod)."""
    from .errors import ConfigError
    from .worker import Worker

    settings = build_settings(values)
    if not settings.redis_url:
        raise ConfigError("worker needs --redis-url (or CLOUDSURGE_REDIS_URL)")
    records = Worker(settings.redis_url, job).run(
        on_record=lambda r: click.echo(f"{r.task}\t{r.status}\t{r.structures}", err=True)
    )
    click.echo(f"{len(records)} tasks finished by this worker", err=True)


@main.command()
@click.argument("job")
@settings_options(("redis_url",))
@friendly
def status(job: str, **values: Any) -> None:
    """Progress of JOB from the queue."""
    from .errors import ConfigError
    from .jobqueue import JobQueue
    from .redisserver import connect

    settings = build_settings(values)
    if not settings.redis_url:
        raise ConfigError("status needs --redis-url (or CLOUDSURGE_REDIS_URL)")
    queue = JobQueue(connect(settings.redis_url), job)
    if not queue.exists():
        raise ConfigError(f"no job {job} on that Redis")
    p = queue.progress()
    click.echo(
        f"job {job}: {p.done} done, {p.failed} failed, {p.pending} pending of {p.total}; "
        f"{p.structures:,} structures"
    )


@main.command()
@click.argument("job")
@settings_options(("redis_url", "output"))
@click.option("--to", "target", required=True, metavar="FILE", help="A .parquet or .csv file.")
@friendly
def export(job: str, target: str, **values: Any) -> None:
    """Write JOB's records to Parquet or CSV (from Redis if given, else records.parquet)."""
    from .export import export_records

    settings = build_settings(values)
    count = export_records(settings, job, target)
    click.echo(f"{count} records written to {target}", err=True)


@main.command()
@click.argument("job")
@settings_options(("output",))
@friendly
def verify(job: str, **values: Any) -> None:
    """Re-read every part of JOB and check counts and checksums against manifests and records."""
    from .export import verify_output

    settings = build_settings(values)
    report = verify_output(settings, job)
    for problem in report.problems[:50]:
        click.echo(f"problem: {problem}", err=True)
    click.echo(
        f"verified {report.tasks} tasks, {report.parts} parts, {report.structures:,} structures: "
        + ("OK" if report.ok else f"{len(report.problems)} problems"),
    )
    if not report.ok:
        sys.exit(1)


def manifest_options(command: F) -> F:
    """One flag per ManifestValues field, help from the field's metadata."""
    from .manifests import ManifestValues

    for field in reversed(fields(ManifestValues)):
        command = click.option(
            "--" + field.name.replace("_", "-"),
            field.name,
            type=int if field.type in (int, "int") else str,
            default=field.default,
            show_default=field.default is not None,
            help=field.metadata.get("help", ""),
        )(command)
    return command


@main.command()
@manifest_options
@click.option("--out", "out", required=True, metavar="DIR", help="Folder for the YAML files.")
@friendly
def manifests(out: str, **values: Any) -> None:
    """Render the Kubernetes manifests (Redis, RBAC, optional plain Job) with your values."""
    from .manifests import ManifestValues, write_manifests

    for path in write_manifests(ManifestValues(**values), out):
        click.echo(str(path))
