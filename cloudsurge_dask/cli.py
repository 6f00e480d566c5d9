"""`python -m cloudsurge_dask`: the command line, a click group with one verb per step.

Every settings flag is made from its declaration (`settings.py`, `kubeobjects.KubeValues`):
click's own types, the default and the `CLOUDSURGE_<NAME>` variable shown in `--help`, help
grouped by stage, and each subcommand takes exactly the settings declared for it. Every
failure a user can cause ends as one `error: ...` line (and a hint), never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from .clusters.kubeobjects import KubeValues
from .declaration import declared, markdown_table
from .errors import CloudSurgeError, ConfigError, RunInterrupted
from .settings import ClusterKind, Settings

F = TypeVar("F", bound=Callable[..., Any])

SUBCOMMANDS = (
    "run", "plan", "formulae", "enqueue", "worker", "status", "stop", "export", "verify", "cat",
    "ls", "jobs", "manifests", "sbatch-script",
)  # fmt: skip
SORTS = ("formula", "task", "status", "structures")  # `ls --sort`: catalog.Entry fields
OWN = "Options"  # the help section of a subcommand's own flags (not settings)


class SettingOption(click.Option):
    """A flag made from a declared setting; remembers its help group."""

    def __init__(self, *args: Any, group: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = group


class GroupedCommand(click.Command):
    """Help with one section per settings group (Kubernetes flags in their own)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {OWN: []}
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue  # arguments are in the usage line
            record = param.get_help_record(ctx)
            if record is not None:
                sections.setdefault(getattr(param, "group", OWN), []).append(record)
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class CommandLine(click.Group):
    """The group; bad flags end as one `error:` line plus a hint, exit status 2."""

    command_class = GroupedCommand

    def main(
        self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:  # fmt: skip
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = 0
        except click.UsageError as exc:
            hint = f"\nsee '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _metavar(kind: click.ParamType) -> str | None:
    """A short metavar for ranges ('INTEGER', not 'INTEGER RANGE'); click's own otherwise."""
    if isinstance(kind, click.IntRange):
        return "INTEGER"
    if isinstance(kind, click.FloatRange):
        return "NUMBER"
    return None


def _joined(ctx: click.Context, param: click.Parameter, value: Any) -> tuple[Any, ...]:
    return tuple(item for values in value or () for item in values)


def settings_for(command: str, classes: Iterable[type] = (Settings,)) -> Callable[[F], F]:
    """One flag per setting declared for `command`, with its type, default and variable."""

    def decorate(function: F) -> F:
        chosen = [item for cls in classes for item in declared(cls) if command in item.commands]
        for item in reversed(chosen):
            shape: dict[str, Any] = {}
            if item.declaration.repeatable:  # each value a tuple of its own: one tuple in all
                shape = {"multiple": True, "callback": _joined}
            elif item.declaration.switch:
                shape = {"is_flag": True}
            function = click.option(
                item.flag,
                item.name,
                cls=SettingOption,
                group=item.group,
                type=item.declaration.type,
                metavar=_metavar(item.declaration.type),
                default=item.default,
                show_default=item.declaration.shown_default or item.default is not None,
                envvar=item.variable,
                show_envvar=True,
                help=item.help,
                **shape,
            )(function)
        return function

    return decorate


def build_settings(values: dict[str, Any]) -> Settings:
    """The Settings of the flags click parsed (the others at their defaults); removes them
    from `values`, leaving the command's own."""
    names = {item.name for item in declared(Settings)}
    return Settings(**{name: values.pop(name) for name in list(values) if name in names})


def configuration_table() -> str:
    """The README's configuration table, made from the declarations."""
    return markdown_table((Settings, KubeValues), SUBCOMMANDS)


def friendly(command: F) -> F:
    """Every expected failure ends as one clear line and exit status 2 (a signal's own for
    an interrupted start), never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CloudSurgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code if isinstance(exc, RunInterrupted) else 2)

    return wrapper  # type: ignore[return-value]


def load_formulae(settings: Settings) -> list[Any]:
    from .formulae.source import generate_formulae, read_formula_file

    if settings.formulae:
        return read_formula_file(settings.formulae)
    return generate_formulae(settings.max_heavy_atoms, settings.elements)


@click.group(
    cls=CommandLine,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="cloudsurge-dask", prog_name="cloudsurge-dask")
def main() -> None:
    """Enumerate chemical space: every structure of every formula, on a Dask cluster.

    formulae (CDK) -> plan -> Redis queue -> Dask workers -> generator (Surge) -> compressed
    parts -> records. Each flag can also be set as CLOUDSURGE_<FLAG>.
    """


def job_command(name: str) -> Callable[[F], click.Command]:
    """A subcommand about one job: the argument JOB, then the settings declared for `name`."""

    def decorate(function: F) -> click.Command:
        body = settings_for(name)(friendly(function))
        return main.command(name)(click.argument("job")(body))

    return decorate


def given_settings(ctx: click.Context, values: dict[str, Any]) -> frozenset[str]:
    """The settings the user set, on the command line or in a CLOUDSURGE_* variable."""
    chosen = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return frozenset(name for name in values if ctx.get_parameter_source(name) in chosen)


@main.command()
@settings_for("run")
@click.option(
    "--resume", metavar="JOB", default=None,
    help="Go on with JOB (interrupted, stopped by a fault, or run elsewhere) instead of making "
    "a new one. Its formulae and queued settings are fixed: flags that contradict them are "
    "refused; --workers, --cluster, --scheduler, --cluster-timeout, the Kubernetes flags and "
    "--redis-url (the same Redis) may change. Without --redis-url the job's private Redis "
    "starts again from its state under --output.",
)  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.pass_context
@friendly
def run(ctx: click.Context, resume: str | None, quiet: bool, **values: Any) -> None:
    """Generate formulae, queue them, drain them on the cluster, save records.

    Prints the job id; parts, manifests, records.parquet and job.json end up in
    OUTPUT/JOB/. Progress: a live bar on a terminal, a line every 30 s otherwise. Ctrl-C
    (SIGINT) or SIGTERM stops the run cleanly: workers stop, tasks in progress go back to the
    queue, the records so far are saved, and the command to resume is printed (exit 130 or
    143). A full or unreachable output stops it the same way (exit 1). Without --redis-url
    the queue is a private redis-server that keeps its state in OUTPUT/JOB/state/ (for a
    remote output: ~/.local/state/cloudsurge-dask/JOB/) and ends with this command.
    """
    from .run.job import run_job
    from .run.outcome import summary

    given = given_settings(ctx, values)
    settings = build_settings(values)
    if settings.detach:
        from .run.detached import detach

        job, message = detach(settings, lambda: load_formulae(settings), resume, given)
        click.echo(message, err=True)
        click.echo(job)
        return
    # formulae are made (CDK) while the cluster starts
    outcome = run_job(
        settings, lambda: load_formulae(settings), job=resume, quiet=quiet, given=given
    )
    click.echo(summary(outcome), err=True)
    click.echo(outcome.job)
    if outcome.exit_code:
        sys.exit(outcome.exit_code)
    if not outcome.ok:
        sys.exit(1)


@main.command()
@settings_for("plan")
@click.option(
    "--samples", type=click.IntRange(min=10), default=500, show_default=True,
    help="Structures screened per sampled formula.",
)  # fmt: skip
@click.option(
    "--draws", type=click.IntRange(min=1), default=60, show_default=True,
    help="Formulae drawn (in proportion to their estimated size) and generated for real.",
)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option("--json", "as_json", is_flag=True, help="Print the preview as JSON.")
@friendly
def plan(samples: int, draws: int, seed: int, as_json: bool, **values: Any) -> None:
    """What the `run` with these flags would generate, keep, store and cost, before it runs.

    Formulae are made as `run` makes them; some of them (drawn in proportion to their
    estimated size) are generated for real (one -m slice of a large one) with the job's
    options, and a sample of their structures screened with the job's screens: pass rates,
    microseconds per structure, then the projected kept structures, bytes, CPU-hours and wall
    time on the cluster the flags describe (--workers; --pods x --processes-per-pod with
    --cluster kubernetes; --slurm-jobs x --slurm-processes with --cluster slurm). Writes
    nothing.
    """
    import json

    from .clusters.sizing import expected_drains, screen_processes
    from .run.preview import preview

    settings = build_settings(values)
    chosen = load_formulae(settings)
    kind = ClusterKind.SCHEDULER if settings.scheduler else settings.cluster
    per_drain = screen_processes(settings, kind) if settings.screening.active else 1
    cores = expected_drains(settings) * per_drain
    found = preview(settings, chosen, cores, samples=samples, draws=draws, seed=seed)
    click.echo(json.dumps(found.to_dict(), indent=1) if as_json else found.text())


@main.command()
@settings_for("formulae")
@click.option("--out", "out", default="-", metavar="FILE", help="Write here (default stdout).")
@friendly
def formulae(out: str, **values: Any) -> None:
    """Write the formula list (Hill order, one per line)."""
    from .formulae.source import write_formula_file

    chosen = load_formulae(build_settings(values))
    if out == "-":
        click.echo("\n".join(f.hill for f in chosen))
    else:
        write_formula_file(chosen, out)
        click.echo(f"{len(chosen)} formulae written to {out}", err=True)


@main.command()
@click.argument("formula_file")
@settings_for("enqueue")
@friendly
def enqueue(formula_file: str, **values: Any) -> None:
    """Queue the formulae of FORMULA_FILE as a new job on --redis-url; prints the job id."""
    from .formulae.source import read_formula_file
    from .queue.jobqueue import new_job_id
    from .queue.redisclient import required_url
    from .run.job import enqueue as put
    from .screen.preflight import check_screening

    settings = build_settings(values)
    url = required_url(settings.redis_url, "enqueue")
    chosen = read_formula_file(formula_file)
    check_screening(settings.screening)
    job = new_job_id()
    put(url, settings, chosen, job)
    click.echo(job)


@job_command("worker")
def worker(job: str, **values: Any) -> None:
    """Drain JOB in this process without Dask (for a plain Kubernetes Job pod); the worker
    that sees the job finished saves records.parquet and job.json, as `run` does."""
    from .queue.redisclient import required_url
    from .run.outcome import save_finished
    from .run.worker import Worker
    from .screen.preflight import available_cores

    settings = build_settings(values)
    url = required_url(settings.redis_url, "worker")
    drain = Worker(url, job, screen_processes=settings.screen_processes or available_cores())
    records = drain.run(
        on_record=lambda r: click.echo(f"{r.task}\t{r.status}\t{r.structures}", err=True)
    )
    click.echo(f"{len(records)} tasks finished by this worker", err=True)
    if drain.queue.finished():
        root = save_finished(drain.queue, drain.root)
        click.echo(f"job {job} finished: records in {root}/records.parquet", err=True)


@job_command("status")
def status(job: str, **values: Any) -> None:
    """How far JOB got: live from Redis (--redis-url, or the private Redis of a run going on
    now), else from the output folder alone (job.json, records.parquet)."""
    from .clusters.kubeforward import forwarded
    from .results.status import describe

    with forwarded(build_settings(values)) as settings:
        click.echo(describe(settings, job))


@job_command("stop")
def stop(job: str, **values: Any) -> None:
    """Ask the client running JOB (attached or detached, on any cluster) to stop as Ctrl-C
    stops it: drains stop after the task in hand, leases go back, the records so far and
    job.json are saved; waits for that, then prints where the job stands and how to resume.
    A job that is not running (finished, stopped, unknown) is one line and exit status 2."""
    from .clusters.kubeforward import forwarded
    from .results.status import ended
    from .run.stoprequest import stop_job

    with forwarded(build_settings(values)) as settings:
        stop_job(settings, job, settings.stop_timeout, lambda text: click.echo(text, err=True))
        click.echo(ended(settings, job))


@job_command("export")
@click.option(
    "--to", "target", required=True, type=click.Path(dir_okay=False), help="A .parquet or .csv."
)
def export(job: str, target: str, **values: Any) -> None:
    """Write JOB's records to Parquet or CSV (from Redis if given, else records.parquet)."""
    from .clusters.kubeforward import forwarded
    from .results.export import export_records

    with forwarded(build_settings(values)) as settings:
        count = export_records(settings, job, target)
    click.echo(f"{count} records written to {target}", err=True)


@job_command("verify")
@click.option(
    "--deep", is_flag=True, help="Also count every task again with the generator (-u, "
    "nothing written) and compare with what its manifest says was generated.",
)  # fmt: skip
@click.option(
    "--rescreen", type=click.IntRange(min=1), default=None, metavar="N",
    help="Also screen N stored structures, drawn at random, again: all must pass.",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="Seed of the --rescreen draw.")
@click.option(
    "--repair", is_flag=True, help="Regenerate the tasks whose parts are missing, truncated or "
    "altered (with the job's settings, on a private Redis, in this process), update "
    "records.parquet and job.json, then verify again.",
)  # fmt: skip
def verify(
    job: str, deep: bool, rescreen: int | None, seed: int | None, repair: bool, **values: Any
) -> None:
    """Re-read every part of JOB and check counts and checksums against manifests and records;
    --deep and --rescreen check a screened job's screening too; --repair mends what is found."""
    from .results.verify import verify_output

    settings = build_settings(values)
    report = verify_output(settings, job)
    if repair and report.problems:
        report = _repair(settings, job, report)
    if deep or rescreen:
        from .output.layout import job_url
        from .results.recheck import deep_check, job_meta
        from .results.recheck import rescreen as screen_again
        from .storage import open_store

        store = open_store(job_url(settings.output, job))
        meta = job_meta(store)
        if deep:
            found = deep_check(store, meta)
            report.problems.extend(found.problems)
            click.echo(f"counted {found.tasks} tasks again with the generator", err=True)
        if rescreen:
            found = screen_again(store, meta, rescreen, seed)
            report.problems.extend(found.problems)
            click.echo(f"screened {found.tasks} stored structures again", err=True)
    for problem in report.problems[:50]:
        click.echo(f"problem: {problem}", err=True)
    click.echo(
        f"verified {report.tasks} tasks, {report.parts} parts, {report.structures:,} structures: "
        + ("OK" if report.ok else f"{len(report.problems)} problems"),
    )
    if not report.ok:
        sys.exit(1)


def _repair(settings: Settings, job: str, report: Any) -> Any:
    """verify --repair: the broken tasks regenerated, the job verified again."""
    from .output.layout import job_url
    from .output.ledger import JobState, read_ledger
    from .results.recheck import job_meta
    from .results.repair import repair_job
    from .storage import open_store

    store = open_store(job_url(settings.output, job))
    ledger = read_ledger(store)
    if ledger is None or ledger.state != JobState.FINISHED:
        state = "unknown" if ledger is None else ledger.state
        raise ConfigError(f"--repair mends finished jobs; job {job} is {state}: resume it instead")
    if not report.broken:
        raise ConfigError("--repair: the problems found name no task to regenerate")
    for problem in report.problems[:50]:
        click.echo(f"problem: {problem}", err=True)
    done = repair_job(store, job_meta(store), job, report.broken)
    click.echo(
        f"repaired {len(done.tasks)} task(s): {', '.join(done.tasks[:10])}"
        + (f"; {done.removed} stray part(s) removed" if done.removed else ""),
        err=True,
    )
    return done.report


def write_quietly(lines: Iterable[bytes]) -> None:
    """Write to stdout; a reader that goes away (`| head`) ends the command quietly."""
    out = sys.stdout.buffer
    try:
        for line in lines:
            out.write(line)
        out.flush()
    except BrokenPipeError:
        # the interpreter's own flush at exit would complain again
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        sys.exit(0)


@job_command("cat")
@click.argument("formula")
@click.option("--limit", type=click.IntRange(min=0), metavar="N", help="Only the first N.")
@click.option(
    "--sample", type=click.IntRange(min=0), metavar="N", help="N chosen uniformly at random."
)
@click.option("--seed", type=int, metavar="S", help="Seed of --sample (repeatable draws).")
def cat(
    job: str, formula: str, limit: int | None, sample: int | None, seed: int | None, **values: Any
) -> None:
    """Write FORMULA's structures in JOB to stdout (SMILES lines or SDfile records), reading
    only the parts that hold them; all slices of a split formula in slice order."""
    from .results.catalog import Catalog, hill_formula

    if limit is not None and sample is not None:
        raise click.UsageError("give --limit or --sample, not both")
    name = hill_formula(formula)
    catalog = Catalog.open(build_settings(values).output, job)
    if sample is not None:
        write_quietly(catalog.sample(name, sample, seed))
    else:
        write_quietly(catalog.structures(name, limit))


@job_command("ls")
@click.option(
    "--sort", type=click.Choice(SORTS), default=None, help="Sort (default: the records' order)."
)
def ls(job: str, sort: str | None, **values: Any) -> None:
    """One line per formula of JOB: formula, task, status, structures (stored), parts,
    generated (what the generator wrote: more than stored when the job screens; - while a
    screened shard runs), tab-separated."""
    from .results.catalog import Catalog

    catalog = Catalog.open(build_settings(values).output, job)
    header = "formula\ttask\tstatus\tstructures\tparts\tgenerated\n"
    write_quietly(
        line.encode()
        for line in itertools.chain((header,), (e.line() + "\n" for e in catalog.entries(sort)))
    )


@main.command()
@settings_for("jobs")
@friendly
def jobs(**values: Any) -> None:
    """The jobs under --output: job id, state, formulae, structures, created."""
    from .results.catalog import list_jobs

    output = build_settings(values).output
    header = "job\tstate\tformulae\tstructures\tcreated\n"
    write_quietly(
        line.encode()
        for line in itertools.chain((header,), (j.line() + "\n" for j in list_jobs(output)))
    )


@main.command()
@settings_for("manifests", (KubeValues,))
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="Folder for the YAML."
)
@friendly
def manifests(out: str, **values: Any) -> None:
    """Render the Kubernetes manifests (Redis, RBAC, optional plain Job) with your values."""
    from .clusters.kubeobjects import write_objects

    for path in write_objects(KubeValues(**values), out):
        click.echo(str(path))


@job_command("sbatch-script")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Script file.")
@click.option(
    "--redis-url-file", required=True, type=click.Path(dir_okay=False),
    help="File (mode 600, on a filesystem the nodes share) holding the Redis URL; each array "
    "task reads it at run time, so the URL is never in the script or the job's environment.",
)  # fmt: skip
@click.option("--python", default=None, help="Python on the nodes.", show_default="this one")
def sbatch_script(
    job: str, out: str, redis_url_file: str, python: str | None, **values: Any
) -> None:
    """Render an sbatch array script that drains JOB (from `enqueue`) without Dask:
    --slurm-jobs array tasks of --slurm-processes `worker` processes each; the last saves
    records.parquet and job.json. Submit with `env -u CLOUDSURGE_REDIS_URL sbatch FILE`."""
    from .clusters.slurmscript import write_array_script

    settings = build_settings(values)
    click.echo(str(write_array_script(settings, job, redis_url_file, out, python)))
