"""Faults mid-run through the real command line (issue #12): a size-limited folder (tmpfs)
that fills up while the job writes, and the GCS emulator (fake-gcs-server) stopped while the
job writes to it. Each run stops on its own with exit status 1, a summary naming the cause and
the resume command and no traceback, keeping every record; once the cause is fixed,
`run --resume` finishes the job with every count exact and `verify` passing, and no
`redis-server` of the job is left running. `verify` with the emulator down ends with one
clear error, no traceback, within gcsfs's own retries (~33 s)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from support.fixture_gcs import _binary, _create_bucket, _free_port, _wait_ready
from support.refdata import hill_counts

from cloudsurge_dask.errors import QueueError
from cloudsurge_dask.queue.jobqueue import JobQueue
from cloudsurge_dask.queue.state import RESERVE_BYTES, LocalState

HEAVY_ATOMS = "7"  # default elements: 9,660 formulae, ~6.5 MB of parts, ~5 s on 2 workers
FORMULAE_7 = 9660
TMPFS_MB = RESERVE_BYTES // (1 << 20) + 3  # the state's reserve and ~3 MB for Redis and parts
STOP_SECONDS = 30.0  # a full disk stops the run within this
OUTAGE_SECONDS = 45.0  # an outage: gcsfs's own retries (~33 s) and the stop
SMALL = ["CH4", "C2H6", "C3H8", "C2H6O", "C3H6O", "C4H10", "C2H4O2", "C3H9N", "C3H4N2OS"]


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", *args], env=env, text=True,
        capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip


def start_run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cloudsurge_dask", "run", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "CLOUDSURGE_WORKERS": "2", "XDG_STATE_HOME": str(tmp_path / "xdg")}
    env.pop("CLOUDSURGE_REDIS_URL", None)
    return env


# ------------------------------------------------------------------ the job's redis-server


def _config_port(state: Path) -> str | None:
    with contextlib.suppress(OSError):
        for line in (state / "redis.conf").read_text().splitlines():
            if line.startswith("port "):
                return line.split()[1]
    return None


def redis_servers_of(state: Path, ports: set[str]) -> set[int]:
    """Live (not zombie) redis-server processes of the job: its config path or one of its
    ports on the command line (the process title shows only the address), or its state
    folder as the working directory (shown `(deleted)` once the folder is removed)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        command = " ".join(words)
        if stat[0] == "Z" or "redis-server" not in command:
            continue
        mine = (
            str(state / "redis.conf") in command
            or any(command.endswith(f":{port}") or f":{port} " in command for port in ports)
            or cwd == str(state)
            or cwd.startswith(f"{state} ")
        )
        if mine:
            found.add(int(entry.name))
    return found


def wait_for_final(process: subprocess.Popen[str], states: Path, at_least: int) -> str:
    """The job id once `at_least` formulae are final, read live from its private Redis."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before the fault"
        folders = [p for p in states.iterdir() if p.is_dir()] if states.is_dir() else []
        for folder in folders:
            state = folder / "state" if (folder / "state").is_dir() else folder
            url = LocalState(state).live_url()
            if url is None:
                continue
            with contextlib.suppress(QueueError):
                if JobQueue.open(url, folder.name).progress().formulae_final >= at_least:
                    return folder.name
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} formulae final after 120 s")


def check_stopped(
    code: int, stderr: str, job: str, resume: str, seconds: float, limit: float
) -> None:
    assert code == 1, stderr
    assert seconds < limit, f"stopped {seconds:.1f} s after the fault"
    assert "Traceback" not in stderr, stderr
    assert f"job {job} stopped: cannot " in stderr, stderr
    assert f"resume with: {resume}" in stderr, stderr


def check_finished(env: dict[str, str], job: str, output: str, records: pd.DataFrame) -> int:
    """Every formula once, each count equal to the reference table (rejected only where
    Surge refuses the formula), `verify` OK on the same total; returns the total."""
    table = hill_counts()
    assert records["formula"].is_unique and len(records) > 0
    ok = records[records["status"] == "ok"]
    refused = records[records["status"] != "ok"]
    assert set(refused["status"]) <= {"rejected"}, refused
    assert not set(refused["formula"]) & set(table), refused
    assert (refused["structures"] == 0).all()
    expected = [table[formula] for formula in ok["formula"]]
    assert list(ok["structures"]) == expected
    total = sum(expected)
    verified = cli(env, "verify", job, "--output", output)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{total:,} structures: OK" in verified.stdout, verified.stdout
    return total


# ------------------------------------------------------------------------------- full disk


@contextlib.contextmanager
def tmpfs(folder: Path, megabytes: int) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.timeout(240)  # ~10 s
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_disk_stops_the_run_and_resume_finishes(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    process: subprocess.Popen[str] | None = None
    with tmpfs(tmp_path / "small", TMPFS_MB) as out:
        try:
            started = time.monotonic()
            process = start_run(env, "--max-heavy-atoms", HEAVY_ATOMS, "--output", str(out))
            stdout, stderr = process.communicate(timeout=120)
            seconds = time.monotonic() - started  # the fault is inside this run
            job = stdout.strip().splitlines()[-1]
            folder, state = out / job, out / job / "state"
            resume = f"python -m cloudsurge_dask run --resume {job} --output {out}"
            check_stopped(process.returncode, stderr, job, resume, seconds, STOP_SECONDS)
            assert "no space left on device" in stderr, stderr
            ledger = json.loads((folder / "job.json").read_text())
            assert (ledger["state"], ledger["resume"]) == ("stopped", resume)
            assert "no space left on device" in ledger["reason"]
            kept = pd.read_parquet(folder / "records.parquet")
            assert 0 < len(kept) < FORMULAE_7, "the disk filled mid-run"
            assert len(kept) == ledger["formulae_final"] and (kept["status"] == "ok").all()
            assert f"records so far ({len(kept):,}): {folder}/records.parquet" in stderr
            assert (state / "redis.conf").is_file(), "the state is kept"
            ports = {port} if (port := _config_port(state)) else set()
            assert not redis_servers_of(state, ports)

            # the cause fixed: more room, then the resume finishes the job
            subprocess.run(["mount", "-o", "remount,size=200m", str(out)], check=True)
            begun = time.monotonic()
            done = cli(env, "run", "--resume", job, "--output", str(out))
            resumed = time.monotonic() - begun
            assert done.returncode == 0, done.stderr
            assert done.stdout.strip().splitlines()[-1] == job
            assert "Traceback" not in done.stderr, done.stderr
            records = pd.read_parquet(folder / "records.parquet")
            assert len(records) == FORMULAE_7
            assert set(kept["formula"]) <= set(records["formula"])
            total = check_finished(env, job, str(out), records)
            assert json.loads((folder / "job.json").read_text())["state"] == "finished"
            assert not state.exists()
            assert not redis_servers_of(state, ports)
            print(
                f"full disk: stopped run {seconds:.1f} s (exit 1, {len(kept):,} of "
                f"{FORMULAE_7:,} formulae kept), resume {resumed:.1f} s (exit 0), "
                f"{total:,} structures verified"
            )
        finally:
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate(timeout=30)


# ------------------------------------------------------------------------------- GCS outage


@dataclass
class Emulator:
    """A fake-gcs-server of this test's own, with a filesystem backend, so that stopping
    and restarting it on the same port keeps the buckets and objects."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(_binary()), "-scheme", "http", "-host", "127.0.0.1",
                "-port", str(self.port), "-backend", "filesystem",
                "-filesystem-root", str(self.root), "-log-level", "error",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_ready(self.endpoint, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    made = Emulator(tmp_path / "gcs-data", _free_port())
    made.start()
    try:
        yield made
    finally:
        made.stop()


def gcs_env(tmp_path: Path, emulator: Emulator) -> dict[str, str]:
    return {
        **base_env(tmp_path),
        "STORAGE_EMULATOR_HOST": emulator.endpoint,
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }


def new_bucket(emulator: Emulator) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    _create_bucket(emulator.endpoint, name)
    return f"gs://{name}/prefix"


@pytest.mark.timeout(300)  # ~50 s, gcsfs's own retries (~33 s) included
def test_storage_outage_stops_the_run_and_resume_finishes(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = gcs_env(tmp_path, emulator)
    output = new_bucket(emulator)
    states = tmp_path / "xdg" / "cloudsurge-dask"
    process = start_run(env, "--max-heavy-atoms", HEAVY_ATOMS, "--output", output)
    try:
        job = wait_for_final(process, states, 200)
        state = states / job
        ports = {port} if (port := _config_port(state)) else set()
        emulator.stop()
        stopped_at = time.monotonic()
        stdout, stderr = process.communicate(timeout=120)
        seconds = time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert stdout.strip().splitlines()[-1] == job
    resume = f"python -m cloudsurge_dask run --resume {job} --output {output}"
    check_stopped(process.returncode, stderr, job, resume, seconds, OUTAGE_SECONDS)
    assert f"are kept in the job's state {state}" in stderr, stderr
    assert (state / "redis.conf").is_file() and (state / "appendonlydir").is_dir()
    assert not redis_servers_of(state, ports)

    emulator.start()  # the cause fixed: the same server, port and data
    begun = time.monotonic()
    done = cli(env, "run", "--resume", job, "--output", output)
    resumed = time.monotonic() - begun
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == job
    assert "Traceback" not in done.stderr, done.stderr
    exported = tmp_path / "records.parquet"
    saved = cli(env, "export", job, "--output", output, "--to", str(exported))
    assert saved.returncode == 0, saved.stderr
    records = pd.read_parquet(exported)
    assert len(records) == FORMULAE_7
    total = check_finished(env, job, output, records)
    status = cli(env, "status", job, "--output", output)
    assert status.stdout.startswith(f"job {job}: finished"), status.stdout + status.stderr
    assert not state.exists()
    assert not redis_servers_of(state, ports)
    print(
        f"storage outage: exit 1 {seconds:.1f} s after the emulator stopped; resume "
        f"{resumed:.1f} s (exit 0), {total:,} structures verified"
    )


@pytest.mark.timeout(180)  # ~40 s, gcsfs's own retries (~33 s) included
def test_verify_with_the_storage_down_is_one_clear_error(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = gcs_env(tmp_path, emulator)
    output = new_bucket(emulator)
    listing = tmp_path / "formulae.txt"
    listing.write_text("\n".join(SMALL) + "\n")
    ran = cli(env, "run", "--formulae", str(listing), "--output", output)
    assert ran.returncode == 0, ran.stderr
    job = ran.stdout.strip().splitlines()[-1]
    emulator.stop()
    begun = time.monotonic()
    verified = cli(env, "verify", job, "--output", output, timeout=120)
    seconds = time.monotonic() - begun
    assert verified.returncode != 0, verified.stdout
    assert "Traceback" not in verified.stderr, verified.stderr
    assert seconds < OUTAGE_SECONDS, f"verify took {seconds:.1f} s"
    errors = [line for line in verified.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, verified.stderr
    assert output.removeprefix("gs://").split("/")[0] in errors[0], errors[0]
    assert len(verified.stderr.splitlines()) <= 3, verified.stderr
    print(f"verify, storage down: exit {verified.returncode} after {seconds:.1f} s: {errors[0]}")
