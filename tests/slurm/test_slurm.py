"""Slurm for real: a single-node Slurm from scripts/test-slurm.sh (Debian's slurmctld, slurmd,
munge, started by PID with a private config), `run --cluster slurm` through dask-jobqueue
with one job cancelled mid-run, and the plain `sbatch-script` array path without Dask.

Every count is checked against the reference table, `verify` must pass, the Redis password
must not be in any job script, saved job environment or `scontrol show job`, and nothing of
Slurm or the runs may be left afterwards (every process whose environment names this
session's SLURM_CONF is gone, the state folder removed). Marked `slurm`: `pytest -m slurm`
alone; part of the default run (about 1.5 minutes, the packages installed on first use).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from support.faults import engine
from support.refdata import hill_counts

from cloudsurge_dask.queue.redisserver import RedisServer

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test-slurm.sh"
FORMULAE_7 = 9660  # default elements, 1..7 heavy atoms
FORMULAE_6 = 4513
REDIS_BIND = "127.0.0.2"  # a loopback address of its own: workers must use the chosen bind


@dataclass
class Slurm:
    folder: Path
    conf: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def queued(self) -> list[str]:
        done = self.run("squeue", "-h", "-o", "%i")
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    def secret_places(self, job: str) -> str:
        """What Slurm keeps of a job: `scontrol show job`, its stored script, and the job
        script and environment files in the controller's state folder."""
        shown = self.run("scontrol", "show", "job", job).stdout
        script = self.run("scontrol", "write", "batch_script", job, "-").stdout
        stored = "".join(
            path.read_text(errors="replace")
            for path in (self.folder / "state").glob("hash.*/job.*/*")
            if path.is_file()
        )
        return shown + script + stored


def processes_of(conf: Path) -> set[int]:
    """Every process whose environment names this Slurm's config: its daemons, job steps,
    workers, and any run started by a test."""
    marker = f"SLURM_CONF={conf}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.add(int(entry.name))
    return found


@pytest.fixture(scope="session")
def slurm() -> Iterator[Slurm]:
    folder = Path(f"/var/tmp/cloudsurge-slurm-pytest-{os.getpid()}")
    conf = folder / "etc" / "slurm.conf"
    env = {**os.environ, "CLOUDSURGE_SLURM_DIR": str(folder), "SLURM_CONF": str(conf)}
    env.pop("CLOUDSURGE_REDIS_URL", None)
    started = time.monotonic()
    up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True,
                        timeout=600, check=False)  # fmt: skip
    handle = Slurm(folder, conf, env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"\nSlurm up in {time.monotonic() - started:.1f} s", file=sys.stderr)
        yield handle
    finally:
        down = subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert down.returncode == 0, down.stdout + down.stderr
        assert not folder.exists(), f"{folder} left behind"
        for _ in range(50):
            if not processes_of(conf):
                break
            time.sleep(0.2)
        assert not processes_of(conf), f"processes left: {sorted(processes_of(conf))}"


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", *args], env=env, text=True,
        capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip


class Lines:
    """A child's stderr read in a thread, so the test can wait for a line while it runs."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stderr is not None
        self._stream = process.stderr
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}:\n{self.text}")

    def finish(self, process: subprocess.Popen[str], timeout: float) -> str:
        """Wait for the child; its stdout (this thread reads only stderr)."""
        process.wait(timeout)
        self._thread.join(timeout=10)
        assert process.stdout is not None
        return process.stdout.read()

    @property
    def text(self) -> str:
        return "".join(self.lines)


def check_counts(records: pd.DataFrame, formulae: int) -> int:
    """Every formula exactly once (none lost, none twice), each count the reference's;
    returns the structure total."""
    table = hill_counts()
    assert len(records) == formulae and records["formula"].is_unique
    ok = records[records["status"] == "ok"]
    refused = records[records["status"] != "ok"]
    assert set(refused["status"]) <= {"rejected"} and not set(refused["formula"]) & set(table)
    assert list(ok["structures"]) == [table[f] for f in ok["formula"]]
    return int(ok["structures"].sum())


def check_verify(env: dict[str, str], job: str, output: Path, total: int) -> None:
    verified = cli(env, "verify", job, "--output", str(output))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{total:,} structures: OK" in verified.stdout, verified.stdout


def test_a_run_on_slurm_loses_nothing_when_a_job_is_cancelled(
    slurm: Slurm, tmp_path: Path
) -> None:
    output, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudsurge_dask", "run", "--cluster", "slurm", "--quiet",
         "--max-heavy-atoms", "7", "--output", str(output), "--slurm-jobs", "2",
         "--slurm-interface", "lo", "--redis-bind", REDIS_BIND, "--slurm-walltime", "00:10:00",
         "--slurm-log-directory", str(logs), "--lease-seconds", "10", "--shard-formulae", "8"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stderr = Lines(process)
    try:
        jobs = stderr.wait_for(r"Slurm jobs submitted: (\d+) (\d+)", 120).groups()
        deadline = time.monotonic() + 120
        while len(done := list(output.glob("*/manifests/*.json"))) < 5:
            assert time.monotonic() < deadline and process.poll() is None, stderr.text
            time.sleep(0.02)
        job = done[0].parts[-3]
        config = (output / job / "state" / "redis.conf").read_text()
        password = re.search(r"^requirepass (\S+)$", config, re.M).group(1)  # type: ignore[union-attr]
        assert f"bind {REDIS_BIND}" in config
        for slurm_job in jobs:  # both running: their script and environment are stored
            assert password not in slurm.secret_places(slurm_job)
        done_before = len(list(output.glob("*/manifests/*.json")))
        cancelled = slurm.run("scancel", jobs[0])
        assert cancelled.returncode == 0, cancelled.stderr
        cancelled_at = time.monotonic() - started
        out = stderr.finish(process, 300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    seconds = time.monotonic() - started
    assert process.returncode == 0, stderr.text
    assert "Traceback" not in stderr.text
    assert out.strip() == job
    assert f"Slurm jobs cancelled: {jobs[0]} {jobs[1]}" in stderr.text
    records = pd.read_parquet(output / job / "records.parquet")
    total = check_counts(records, FORMULAE_7)
    check_verify(env, job, output, total)
    assert not (output / job / "state").exists()
    tasks = len(list((output / job / "manifests").glob("*.json")))
    assert done_before < tasks / 2, "the job was cancelled too late to matter"
    print(f"\nslurm run: {FORMULAE_7} formulae, {total:,} structures, {tasks} tasks in "
          f"{seconds:.1f} s on Slurm jobs {' '.join(jobs)}; job {jobs[0]} cancelled after "
          f"{cancelled_at:.1f} s with {done_before} tasks done; 0 formulae lost, 0 duplicated",
          file=sys.stderr)  # fmt: skip
    for _ in range(100):
        if not set(jobs) & set(slurm.queued()):
            break
        time.sleep(0.1)
    assert not set(jobs) & set(slurm.queued())


def test_a_run_on_the_users_redis_never_exports_its_url_to_the_jobs(
    slurm: Slurm, tmp_path: Path
) -> None:
    """--redis-url in the client's environment (as the README advises): the URL goes to the
    drains through the scheduler, `sbatch` runs without it."""
    output = tmp_path / "out"
    with RedisServer(bind="127.0.0.4") as server:
        env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg"),
               "CLOUDSURGE_REDIS_URL": server.url}  # fmt: skip
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudsurge_dask", "run", "--cluster", "slurm", "--quiet",
             "--max-heavy-atoms", "6", "--output", str(output), "--slurm-interface", "lo",
             "--slurm-log-directory", str(tmp_path), "--shard-formulae", "8"],
            env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        stderr = Lines(process)
        try:
            jobs = stderr.wait_for(r"Slurm jobs submitted: (\d+) (\d+)", 120).groups()
            password = server.url.split(":")[2].split("@")[0]
            for slurm_job in jobs:
                assert password not in slurm.secret_places(slurm_job)
            environments = list((slurm.folder / "state").glob(f"hash.*/job.{jobs[0]}/environment"))
            assert environments and all(
                b"CLOUDSURGE_REDIS_URL" not in path.read_bytes() for path in environments
            )
            job = stderr.finish(process, 300).strip()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0, stderr.text
    records = pd.read_parquet(output / job / "records.parquet")
    check_verify(env, job, output, check_counts(records, FORMULAE_6))


def test_the_sbatch_array_path_drains_a_job_without_dask(slurm: Slurm, tmp_path: Path) -> None:
    output, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    formulae = tmp_path / "formulae.txt"
    made = cli(env, "formulae", "--max-heavy-atoms", "5", "--out", str(formulae))
    assert made.returncode == 0, made.stderr
    count = len(formulae.read_text().split())
    with RedisServer(bind="127.0.0.3") as server:
        url_file = tmp_path / "redis-url"
        url_file.write_text(server.url + "\n")
        url_file.chmod(0o644)
        script = tmp_path / "drain.sh"
        render = ["sbatch-script", "JOB", "--out", str(script), "--redis-url-file", str(url_file)]
        refused = cli(env, *render)
        assert refused.returncode == 2 and "chmod 600" in refused.stderr, refused.stderr
        url_file.chmod(0o600)
        queued = cli({**env, "CLOUDSURGE_REDIS_URL": server.url}, "enqueue", str(formulae),
                     "--output", str(output), "--shard-formulae", "16")  # fmt: skip
        assert queued.returncode == 0, queued.stderr
        job = queued.stdout.strip()
        render[1] = job
        rendered = cli(env, *render, "--slurm-jobs", "2", "--slurm-walltime", "00:05:00",
                       "--slurm-log-directory", str(logs))  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr
        text = script.read_text()
        assert server.url not in text and "#SBATCH --array=0-1" in text
        started = time.monotonic()
        submitted = slurm.run("sbatch", "--parsable", str(script))
        assert submitted.returncode == 0, submitted.stderr
        array = submitted.stdout.strip().split(";")[0]
        password = server.url.split(":")[2].split("@")[0]
        assert password not in slurm.secret_places(array)
        while set(slurm.queued()) & {array, f"{array}_0", f"{array}_1"} or any(
            q.startswith(f"{array}_") for q in slurm.queued()
        ):
            assert time.monotonic() - started < 240, "the array job did not end"
            time.sleep(0.5)
        seconds = time.monotonic() - started
    # Redis is gone: everything below reads the output folder alone
    for log in logs.iterdir():
        assert "warning" not in log.read_text(), log.read_text()
    records = pd.read_parquet(output / job / "records.parquet")
    total = check_counts(records, count)
    check_verify(env, job, output, total)
    status = cli(env, "status", job, "--output", str(output))
    assert status.returncode == 0 and "finished" in status.stdout, status.stdout + status.stderr
    print(f"\nsbatch array {array}: {count} formulae, {total:,} structures in {seconds:.1f} s",
          file=sys.stderr)  # fmt: skip


def test_ctrl_c_cancels_the_slurm_jobs_and_resume_finishes(
    slurm: Slurm, tmp_path: Path
) -> None:
    env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    output = tmp_path / "out"
    where = ["--cluster", "slurm", "--quiet", "--output", str(output), "--slurm-interface", "lo",
             "--slurm-log-directory", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudsurge_dask", "run", *where, "--max-heavy-atoms", "7",
         "--shard-formulae", "16"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    stderr = Lines(process)
    try:
        jobs = stderr.wait_for(r"Slurm jobs submitted: (\d+) (\d+)", 120).groups()
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("out/*/manifests/*.json")):
            assert time.monotonic() < deadline and process.poll() is None, stderr.text
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stderr.finish(process, 120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr.text
    assert "Traceback" not in stderr.text and "resume with:" in stderr.text, stderr.text
    assert f"Slurm jobs cancelled: {' '.join(jobs)}" in stderr.text
    deadline = time.monotonic() + 30
    while set(jobs) & set(slurm.queued()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(jobs) & set(slurm.queued())
    job = stderr.wait_for(r"resume with: .* --resume (\S+)", 1).group(1)
    resumed = cli(env, "run", "--resume", job, *where, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = pd.read_parquet(output / job / "records.parquet")
    check_verify(env, job, output, check_counts(records, FORMULAE_7))


@pytest.mark.parametrize(
    ("flags", "code", "message"),
    [
        # the cluster fails after the job was queued: stopped, resumable (like Kubernetes)
        (["--slurm-partition", "nosuch"], 1,
         "stopped: sbatch refuses the job: sbatch: error: invalid partition specified: nosuch"),
        (["--slurm-processes", "2"], 2, "error: --slurm-processes must not exceed --slurm-cores"),
        (["--slurm-walltime", "1:2:3:4"], 2, "is not a Slurm time limit"),
        (["--slurm-walltime", "00:01:00"], 2, "under 2 minutes"),
    ],
)  # fmt: skip
def test_bad_slurm_settings_are_one_clear_line(
    slurm: Slurm, tmp_path: Path, flags: list[str], code: int, message: str
) -> None:
    env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    done = cli(env, "run", "--cluster", "slurm", "--max-heavy-atoms", "1", "--output",
               str(tmp_path / "out"), *flags)  # fmt: skip
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not slurm.queued()


@pytest.mark.full
@pytest.mark.timeout(900)
def test_workers_retire_before_the_time_limit_and_jobs_are_replaced(
    slurm: Slurm, tmp_path: Path
) -> None:
    """Jobs of 2 minutes over every formula up to 8 heavy atoms, one task per formula, each
    behind a generator wrapper that waits 10 ms (so the run outlasts a job however fast the
    pipeline gets: ~75 s without it since session 6, ~4 minutes with it): each worker retires
    at 60-90 s, hands its leases back and its job is replaced; every formula once, the
    reference's counts, `verify` OK. Slow: `-m "slurm and full"`."""
    output, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    env = {**slurm.env, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    formulae = tmp_path / "f8.txt"
    assert cli(env, "formulae", "--max-heavy-atoms", "8", "--out", str(formulae)).returncode == 0
    count = len(formulae.read_text().split())
    slow = tmp_path / "slow-surge"
    slow.write_text(f'#!/bin/sh\nsleep 0.01\nexec {engine()} "$@"\n')
    slow.chmod(0o755)
    done = cli(env, "run", "--cluster", "slurm", "--quiet", "--formulae", str(formulae),
               "--output", str(output), "--slurm-interface", "lo", "--slurm-walltime",
               "00:02:00", "--slurm-log-directory", str(logs), "--shard-structures", "0",
               "--surge", str(slow), timeout=800)  # fmt: skip
    assert done.returncode == 0, done.stderr
    submitted = re.findall(r"Slurm jobs submitted: ([\d ]+)", done.stderr)
    assert len(" ".join(submitted).split()) > 2, done.stderr  # replacements
    retired = [log for log in logs.glob("*.err") if "worker-lifetime-reached" in log.read_text()]
    assert retired and not any("DUE TO TIME LIMIT" in log.read_text() for log in retired)
    job = done.stdout.strip()
    records = pd.read_parquet(output / job / "records.parquet")
    assert len(records) == count and records["formula"].is_unique
    table = hill_counts()
    known = records[records["formula"].isin(table) & (records["status"] == "ok")]
    assert list(known["structures"]) == [table[f] for f in known["formula"]]
    verified = cli(env, "verify", job, "--output", str(output))
    assert verified.returncode == 0 and "OK" in verified.stdout, verified.stdout
