"""Slurm without Dask: an `sbatch` array script whose tasks each drain a queued job.

Each array task runs `python -m cloudsurge_dask worker JOB` (several in the background with
`--slurm-processes`), exactly like a plain Kubernetes Job pod: the worker that sees the job
finished saves `records.parquet` and `job.json`. The Redis URL (and with it the password)
never enters the script: each task reads it from a file the user keeps private
(`--redis-url-file`, mode 0600 on the shared filesystem) at run time, so neither the
script Slurm stores nor the job's saved environment nor `scontrol show job` holds it. Also
here, so `settings.py` can use them without a cycle: the click types of the Slurm settings.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import Settings
URL_VARIABLE = "CLOUDSURGE_REDIS_URL"


def header(settings: Settings, name: str, cpus: int) -> list[str]:
    """The `#SBATCH` lines both paths share: name, partition, account, limits, extras."""
    lines = [
        f"#SBATCH --job-name={name}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={cpus}",
        f"#SBATCH --mem={settings.slurm_memory}",
        f"#SBATCH --time={settings.slurm_walltime}",
    ]
    if settings.slurm_partition:
        lines.append(f"#SBATCH --partition={settings.slurm_partition}")
    if settings.slurm_account:
        lines.append(f"#SBATCH --account={settings.slurm_account}")
    lines.extend(f"#SBATCH {word}" for word in settings.slurm_directives)
    return lines


def array_script(
    settings: Settings, job: str, url_file: str, python: str | None = None
) -> str:
    """The array script: `--slurm-jobs` tasks, each running `--slurm-processes` workers."""
    python = python or sys.executable
    lines = ["#!/usr/bin/env bash", *header(settings, f"cloudsurge-{job}", settings.slurm_cores)]
    lines.append(f"#SBATCH --array=0-{settings.slurm_jobs - 1}")
    if settings.slurm_log_directory:
        lines.append(f"#SBATCH --output={settings.slurm_log_directory}/cloudsurge-%A_%a.out")
    quoted_file = shlex.quote(url_file)
    lines += [
        "# rendered by `python -m cloudsurge_dask sbatch-script`: one drain per process,",
        "# the last to see the job finished saves records.parquet and job.json",
        "set -euo pipefail",
    ]
    if settings.slurm_prologue:
        lines.append(settings.slurm_prologue)
    lines += [
        f'if [ -n "${{{URL_VARIABLE}:-}}" ]; then',
        f'    echo "warning: {URL_VARIABLE} was exported into this job\'s environment;'
        f' submit with: env -u {URL_VARIABLE} sbatch" >&2',
        "fi",
        "# the Redis URL is read at run time from a file only its owner can read",
        f"{URL_VARIABLE}=$(cat {quoted_file})",
        f"export {URL_VARIABLE}",
        "pids=()",
        f"for _ in $(seq {settings.slurm_processes}); do",
        f"    {shlex.quote(python)} -m cloudsurge_dask worker {shlex.quote(job)} &",
        "    pids+=($!)",
        "done",
        "status=0",
        'for pid in "${pids[@]}"; do wait "$pid" || status=$?; done',
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def write_array_script(
    settings: Settings, job: str, url_file: str, out: str, python: str | None = None
) -> Path:
    """Check the URL file (there, private to its owner), write the script, return its path."""
    source = Path(url_file).expanduser().absolute()
    try:
        mode = source.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"--redis-url-file {source}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"--redis-url-file {source} is not a file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"--redis-url-file {source} is readable by others: chmod 600 {source}"
        )
    target = Path(out)
    try:
        target.write_text(array_script(settings, job, str(source), python))
        os.chmod(target, 0o755)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None
    return target
