"""The Slurm pieces that need no Slurm: time limits, retirement, the dask-jobqueue job script
and the plain array script (the live checks are in test_slurm.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cloudsurge_dask.clusters.slurm import cluster_options, retirement
from cloudsurge_dask.clusters.slurmscript import array_script, write_array_script
from cloudsurge_dask.errors import ConfigError
from cloudsurge_dask.paramtypes import walltime_seconds
from cloudsurge_dask.settings import Settings

SECRET = "redis://:s3cret-password@10.0.0.5:6390/0"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 5400), ("10:30", 630), ("01:00:00", 3600), ("2-00", 172800),
     ("1-02:03", 93780), ("1-00:00:05", 86405)],
)  # fmt: skip
def test_slurm_time_limits(text: str, seconds: int) -> None:
    assert walltime_seconds(text) == seconds


def test_workers_retire_inside_the_limit_with_time_to_close() -> None:
    for limit in ("00:02:00", "00:10:00", "12:00:00", "7-00:00:00"):
        seconds = walltime_seconds(limit)
        lifetime, stagger = retirement(limit)
        assert lifetime - stagger > 0 and lifetime + stagger <= seconds - 30
        assert stagger > 0


def test_the_dask_job_script_retires_workers_and_never_exports_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dask_jobqueue import SLURMCluster

    monkeypatch.setenv("CLOUDSURGE_REDIS_URL", SECRET)
    settings = Settings.build({
        "cluster": "slurm", "slurm_jobs": 3, "slurm_processes": 4, "slurm_cores": 8,
        "slurm_memory": "16GB", "slurm_walltime": "01:00:00", "slurm_partition": "short",
        "slurm_account": "chem", "slurm_directives": "--qos=low;--constraint=ib",
        "slurm_prologue": "module load python", "redis_url": SECRET,
    })  # fmt: skip
    options = cluster_options(settings)
    assert "CLOUDSURGE_REDIS_URL" in options["job_cls"].submit_command.split()[:3]
    with SLURMCluster(**options, silence_logs=False) as cluster:
        script = cluster.job_script()
    assert "s3cret" not in script
    for line in ("#SBATCH -p short", "#SBATCH -A chem", "#SBATCH --cpus-per-task=8",
                 "#SBATCH --qos=low", "#SBATCH --constraint=ib", "#SBATCH -t 01:00:00",
                 "module load python", "--nworkers 4", "--nthreads 1", "--lifetime=3060s",
                 "--lifetime-stagger=180s"):  # fmt: skip
        assert line in script, (line, script)


def test_the_array_script_reads_the_url_from_a_private_file(tmp_path: Path) -> None:
    settings = Settings.build({"slurm_jobs": 5, "slurm_processes": 2, "slurm_cores": 2})
    url_file = tmp_path / "url"
    url_file.write_text(SECRET)
    url_file.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600"):
        write_array_script(settings, "JOB1", str(url_file), str(tmp_path / "s.sh"))
    url_file.chmod(0o600)
    path = write_array_script(settings, "JOB1", str(url_file), str(tmp_path / "s.sh"))
    text = path.read_text()
    assert "s3cret" not in text and path.stat().st_mode & stat.S_IXUSR
    assert "#SBATCH --array=0-4" in text and f"$(cat {url_file})" in text
    assert "-m cloudsurge_dask worker JOB1 &" in text and "seq 2" in text
    with pytest.raises(ConfigError, match="--redis-url-file"):
        write_array_script(settings, "JOB1", str(tmp_path / "nope"), str(tmp_path / "t.sh"))
    assert array_script(settings, "JOB1", "/u", python="/venv/bin/python").count("worker") >= 1


def test_more_drains_than_cores_is_refused() -> None:
    with pytest.raises(ConfigError, match="--slurm-processes must not exceed --slurm-cores"):
        Settings.build({"slurm_processes": 3, "slurm_cores": 2})
