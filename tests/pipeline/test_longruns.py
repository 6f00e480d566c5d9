"""Long runs on the embedded default, through the real command line: SIGINT, SIGTERM and
SIGKILL sent to the client process mid-run, the private Redis and the Dask workers gone
afterwards, `run --resume` finishing the job with every count exact and `verify` passing;
status, export and verify from the output folder alone; resume refusing contradicting flags;
a wrong generator failing before anything is queued; the plain worker path leaving the same
records.parquet; progress lines in a log file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from support.faults import ONE_TASK_PER_FORMULA, engine
from support.refdata import hill_counts

from cloudsurge_dask.errors import GeneratorCrashed, QueueError
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.ledger import Ledger
from cloudsurge_dask.queue.jobqueue import Counters, JobQueue
from cloudsurge_dask.queue.state import LocalState
from cloudsurge_dask.run.progress import ProgressView

DELAY = 0.12  # seconds the generator wrapper waits per formula: a run of ~8 s on 2 workers
FORMULAE = 120


@dataclass
class Job:
    """One run of the CLI as a child process, its output folder and formula list."""

    out: Path
    listing: Path
    names: list[str]
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    job: str = ""

    @property
    def total(self) -> int:
        counts = hill_counts()
        return sum(counts[name] for name in self.names)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", *args], env=self.env, text=True,
            capture_output=True, timeout=timeout, check=False,
        )  # fmt: skip


def slow_engine(folder: Path) -> str:
    """The built-in engine behind a pause: one process per formula, a run long enough to
    be interrupted, and the same structures."""
    script = folder / "slow-engine"
    script.write_text(f'#!/bin/sh\nsleep {DELAY}\nexec {engine()} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    counts = hill_counts()
    names = sorted(counts, key=lambda name: (counts[name], name))[500 : 500 + FORMULAE]
    listing = tmp_path / "formulae.txt"
    listing.write_text("\n".join(names) + "\n")
    env = {
        **os.environ, **ONE_TASK_PER_FORMULA, "CLOUDSURGE_WORKERS": "2",
        "CLOUDSURGE_SURGE": slow_engine(tmp_path), "XDG_STATE_HOME": str(tmp_path / "xdg"),
        "CLOUDSURGE_INLINE_STRUCTURES": "0",  # the Dask path alone: its workers, its dashboard
    }  # fmt: skip
    env.pop("CLOUDSURGE_REDIS_URL", None)
    made = Job(tmp_path / "out", listing, names, env)
    yield made
    if made.process is not None and made.process.poll() is None:  # a failed test's run
        made.process.kill()
        made.process.communicate(timeout=30)


def start(job: Job, *extra: str) -> None:
    command = [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae", str(job.listing),
               "--output", str(job.out), "--part-size", "500", *extra]  # fmt: skip
    job.process = subprocess.Popen(  # its own process group, as a terminal's foreground job
        command, env=job.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def wait_for_progress(
    job: Job, final: int, timeout: float = 60, shared: str | None = None
) -> Counters:
    """Until `final` formulae are final, read live from the job's private Redis (through
    its state folder, as `status` does), or from the `shared` Redis it runs on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert job.process is not None and job.process.poll() is None, "the run ended early"
        folders = [p for p in job.out.iterdir() if p.is_dir()] if job.out.is_dir() else []
        if folders:
            job.job = folders[0].name
            url = shared or LocalState(folders[0] / "state").live_url()
            if url is not None:
                with contextlib.suppress(QueueError):  # not (wholly) queued yet
                    progress = JobQueue.open(url, job.job).progress()
                    if progress.formulae_final >= final:
                        return progress
        time.sleep(0.1)
    raise AssertionError(f"fewer than {final} formulae final after {timeout} s")


def running(job: Job, final: int) -> subprocess.Popen[str]:
    """The job's client, once `final` formulae are final."""
    start(job)
    wait_for_progress(job, final)
    assert job.process is not None
    return job.process


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), zombies left out."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def assert_gone(pids: set[int], seconds: float = 15) -> None:
    """Every one of `pids` ends within `seconds` (the multiprocessing resource tracker ends
    when it reads the end of its pipe, a moment after the client)."""
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in alive(pids)}
    assert not left, f"processes of the run outlived it: {left}"


def redis_servers_of(folder: Path) -> set[int]:
    """Live redis-server processes working in this job's state folder (their cwd; the
    process title shows only the address)."""
    state = str(folder / "state")
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = os.path.basename(os.readlink(entry / "exe"))
                cwd = os.readlink(entry / "cwd")
            except OSError:
                continue
            # Debian's redis-server is a link to redis-check-rdb, which it then runs as
            if name in ("redis-server", "redis-check-rdb") and cwd.startswith(state):
                found |= alive({int(entry.name)})
    return found


def resume_and_check(job: Job) -> None:
    """`run --resume` finishes the job: exact counts, every formula once, verify OK, the
    state gone, status 'finished'."""
    done = job.cli("run", "--resume", job.job, "--output", str(job.out), timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == job.job
    assert "Traceback" not in done.stderr
    folder = job.out / job.job
    frame = pd.read_parquet(folder / "records.parquet")
    assert sorted(frame["formula"]) == sorted(job.names)
    assert (frame["status"] == "ok").all()
    assert int(frame["structures"].sum()) == job.total
    verified = job.cli("verify", job.job, "--output", str(job.out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{job.total:,} structures: OK" in verified.stdout
    assert not (folder / "state").exists()
    assert not redis_servers_of(folder)
    job.env.pop("CLOUDSURGE_REDIS_URL", None)  # from here on, the output folder alone
    status = job.cli("status", job.job, "--output", str(job.out))
    assert status.stdout.startswith(f"job {job.job}: finished"), status.stdout


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("signum", "code", "group"),
    [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)],
    ids=["ctrl-c-to-the-process-group", "sigterm-to-the-client"],
)
def test_signal_stops_cleanly_and_resume_finishes(
    job: Job, signum: int, code: int, group: bool
) -> None:
    """Ctrl-C on a terminal reaches the client and its workers alike (the whole process
    group); `kill` reaches the client alone. Either way the client stops the run."""
    start(job)
    assert job.process is not None and job.process.stderr is not None
    early = [job.process.stderr.readline() for _ in range(2)]  # queued; dashboard
    link = early[1].split("(this job: ")[1].rstrip(")\n")
    wait_for_progress(job, 10)
    with urllib.request.urlopen(f"{link}/status.json", timeout=10) as answer:
        board = json.load(answer)["jobs"][0]
    assert board["job"] == job.job and board["formulae"]["total"] == FORMULAE
    assert {run["task"] for run in board["running"]} <= set(job.names)
    status = job.cli("status", job.job, "--output", str(job.out))
    assert f"job {job.job}: running (PID {job.process.pid})" in status.stdout, status.stdout
    below = descendants(job.process.pid)
    folder = job.out / job.job
    assert redis_servers_of(folder) & below, "the private Redis is the client's child"
    if group:
        os.killpg(job.process.pid, signum)
    else:
        job.process.send_signal(signum)
    stdout, stderr = job.process.communicate(timeout=60)
    stderr = "".join(early) + stderr
    assert job.process.returncode == code, stderr
    name = signal.Signals(signum).name
    assert f"job {job.job} interrupted by {name}" in stderr, stderr
    command = f"resume with: python -m cloudsurge_dask run --resume {job.job} --output {job.out}"
    assert command in stderr
    assert "Traceback" not in stderr and "\r" not in stderr
    assert "CancelledError" not in stderr and "leaked semaphore" not in stderr, stderr
    assert stdout.strip().splitlines()[-1] == job.job
    assert_gone(below)
    state = folder / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "redis.conf").stat().st_mode) == 0o600
    password = (state / "redis.conf").read_text().split("requirepass ")[1].split()[0]
    assert password not in stdout + stderr
    ledger = Ledger.from_json((folder / "job.json").read_text())
    assert ledger.state == "interrupted" and ledger.reason == f"interrupted by {name}"
    saved = pd.read_parquet(folder / "records.parquet")
    assert 10 <= len(saved) == ledger.formulae_final < FORMULAE
    # readable without Redis: status, export, verify
    status = job.cli("status", job.job, "--output", str(job.out))
    assert f"job {job.job}: interrupted" in status.stdout and command in status.stdout
    exported = job.out.parent / "records.csv"
    done = job.cli("export", job.job, "--output", str(job.out), "--to", str(exported))
    assert done.returncode == 0 and len(pd.read_csv(exported)) == len(saved)
    verified = job.cli("verify", job.job, "--output", str(job.out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    resume_and_check(job)


@pytest.mark.timeout(300)
def test_sigkill_leaves_no_process_and_resume_finishes(job: Job) -> None:
    client = running(job, 10)
    below = descendants(client.pid)
    assert len(below) >= 3  # the Redis and two Dask workers at least
    client.kill()
    client.communicate(timeout=30)
    assert_gone(below)
    status = job.cli("status", job.job, "--output", str(job.out))
    assert "running" in status.stdout and "client is gone" in status.stdout, status.stdout
    resume_and_check(job)


@pytest.mark.timeout(300)
def test_resume_refuses_contradicting_flags_and_accepts_placement(job: Job) -> None:
    client = running(job, 5)
    client.send_signal(signal.SIGINT)
    client.communicate(timeout=60)
    for flags, named in [
        (["--codec", "gz"], "--codec 'gz' (the job has 'zst')"),
        (["--part-size", "7"], "--part-size 7 (the job has 500)"),
        (["--surge", "/bin/true"], "--surge '/bin/true'"),
        (["--max-heavy-atoms", "3"], "--max-heavy-atoms 3 (the job has 6)"),
    ]:
        done = job.cli("run", "--resume", job.job, "--output", str(job.out), *flags)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: --resume") and named in done.stderr, done.stderr
        assert "--workers" in done.stderr  # says what may change
    elsewhere = job.cli("run", "--resume", job.job, "--output", str(job.out.parent / "x"))
    assert elsewhere.returncode == 2 and "no saved state" in elsewhere.stderr
    job.env["CLOUDSURGE_WORKERS"] = "1"  # where it runs may change
    resume_and_check(job)


@pytest.mark.timeout(60)
def test_a_generator_that_fails_its_probe_queues_nothing(job: Job, tmp_path: Path) -> None:
    started = time.monotonic()
    done = job.cli("run", "--formulae", str(job.listing), "--output", str(job.out),
                   "--surge", "/bin/false")  # fmt: skip
    assert done.returncode == 2
    assert time.monotonic() - started < 30
    assert done.stderr.startswith("error: the generator failed its probe on CH4"), done.stderr
    assert "/bin/false exited with 1" in done.stderr and "nothing was queued" in done.stderr
    assert "Traceback" not in done.stderr
    assert not [p for p in job.out.rglob("*") if p.is_file()]


@pytest.mark.timeout(120)
def test_plain_worker_leaves_records_and_ledger(job: Job, redis_url: str) -> None:
    env = {**job.env, "CLOUDSURGE_REDIS_URL": redis_url}
    env["CLOUDSURGE_SURGE"] = engine()
    job.env = env
    queued = job.cli("enqueue", str(job.listing), "--output", str(job.out))
    assert queued.returncode == 0, queued.stderr
    job.job = queued.stdout.strip()
    ledger = Ledger.from_json((job.out / job.job / "job.json").read_text())
    assert (ledger.state, ledger.formulae) == ("queued", FORMULAE)
    worked = job.cli("worker", job.job)
    assert worked.returncode == 0, worked.stderr
    assert "finished: records in" in worked.stderr
    del job.env["CLOUDSURGE_REDIS_URL"]  # from here on, the output folder alone
    frame = pd.read_parquet(job.out / job.job / "records.parquet")
    assert int(frame["structures"].sum()) == job.total
    verified = job.cli("verify", job.job, "--output", str(job.out))
    assert verified.returncode == 0 and f"{job.total:,} structures: OK" in verified.stdout
    status = job.cli("status", job.job, "--output", str(job.out))
    assert status.stdout.startswith(f"job {job.job}: finished"), status.stdout


def test_a_failing_batch_names_the_formula_it_was_at(tmp_path: Path) -> None:
    script = tmp_path / "half-batch"
    script.write_text(
        "#!/bin/sh\necho C >&1\necho '>Z generated 1 -> 1 -> 1 in 0.00 sec' >&2\n"
        "echo 'boom: out of luck' >&2\nexit 3\n"
    )
    script.chmod(0o755)
    task = Task.shard(["CH4", "C2H6", "C3H8"])
    with (
        Generation(str(script), task, formulae=list(task.formulae)) as run,
        pytest.raises(GeneratorCrashed) as caught,
    ):
        list(run.blocks())
    message = str(caught.value)
    assert message.startswith("CH4+2 (at formula C2H6): ")
    assert "exited with 3" in message and "boom: out of luck" in message


def test_progress_in_a_log_is_plain_lines_with_an_eta() -> None:
    stream = io.StringIO()
    view = ProgressView(stream=stream)
    assert not view.live
    first = Counters(10, 0, 0, 100, 10, 0, formulae=40, formulae_final=0, estimate=1000)
    view.update(first)
    view.update(first)  # within the interval: no second line
    time.sleep(0.05)
    view.close(Counters(10, 5, 0, 500, 5, 0, formulae=40, formulae_final=20, estimate=1000))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("progress: 0/40 formulae, 100 structures")
    assert lines[1].startswith("progress: 20/40 formulae, 500 structures")
    assert "ETA ~0:00:0" in lines[1]
    quiet = io.StringIO()
    ProgressView(quiet=True, stream=quiet).close(first)
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_is_a_live_bar() -> None:
    """A real pseudo-terminal: rich draws the bar with formulae, structures and the ETA."""
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            view = ProgressView(stream=terminal)
            assert view.live
            view.update(Counters(10, 2, 0, 300, 8, 2, formulae=40, formulae_final=8,
                                 estimate=1000))  # fmt: skip
            time.sleep(0.3)
            view.close(Counters(10, 10, 0, 1000, 0, 0, formulae=40, formulae_final=40,
                                estimate=1000))  # fmt: skip
        drawn = b""
        while select.select([master], [], [], 0.2)[0]:
            drawn += os.read(master, 1 << 16)
    finally:
        os.close(master)
        os.close(slave)
    text = drawn.decode(errors="replace")
    assert "40/40 formulae" in text and "1,000 structures" in text and "ETA" in text, text


@pytest.mark.timeout(300)
@pytest.mark.parametrize("shared", [False, True], ids=["private-redis", "shared-redis"])
def test_stop_from_another_process_interrupts_and_resume_finishes(
    job: Job, redis_url: str, shared: bool
) -> None:
    """`stop JOB` from a second process stops the run as Ctrl-C does: found through the
    job's state folder (private Redis) or --redis-url (a shared one, as a detached run's)."""
    if shared:
        job.env["CLOUDSURGE_REDIS_URL"] = redis_url
        start(job)
        wait_for_progress(job, 10, shared=redis_url)
    else:
        start(job)
        wait_for_progress(job, 10)
    assert job.process is not None
    below = descendants(job.process.pid)
    status = job.cli("status", job.job, "--output", str(job.out))
    assert f"its client: PID {job.process.pid} on " in status.stdout, status.stdout
    asked = job.cli("stop", job.job, "--output", str(job.out))
    assert asked.returncode == 0, asked.stdout + asked.stderr
    # by the time `stop` returns, the run's records and ledger are saved
    folder = job.out / job.job
    ledger = Ledger.from_json((folder / "job.json").read_text())
    assert ledger.state == "interrupted" and ledger.reason == "interrupted by the stop command"
    saved = pd.read_parquet(folder / "records.parquet")
    assert 10 <= len(saved) == ledger.formulae_final < FORMULAE
    stdout, stderr = job.process.communicate(timeout=60)
    assert job.process.returncode == 130, stderr
    assert f"job {job.job} interrupted by the stop command after" in stderr, stderr
    command = f"resume with: python -m cloudsurge_dask run --resume {job.job} --output {job.out}"
    assert command in stderr and "Traceback" not in stderr, stderr
    assert stdout.strip().splitlines()[-1] == job.job
    assert_gone(below)
    assert asked.stderr.startswith(f"job {job.job}: asked its client (PID {job.process.pid} on ")
    assert asked.stdout.startswith(f"job {job.job}: interrupted"), asked.stdout
    assert command.removeprefix("resume with: ") in asked.stdout
    if shared:  # every lease given back (to "returned"): none waits for its expiry
        queue = JobQueue.open(redis_url, job.job)
        rows = queue.client.xpending_range(queue.stream_key, "workers", "-", "+", 1000)
        assert {row["consumer"] for row in rows} <= {"returned"}, rows
    again = job.cli("stop", job.job, "--output", str(job.out))
    assert again.returncode == 2 and len(again.stderr.splitlines()) == 1, again.stderr
    assert again.stderr.startswith(f"error: job {job.job} is not running (it is interrupted)")
    resume_and_check(job)
    done = job.cli("stop", job.job, "--output", str(job.out))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr == f"error: job {job.job} has finished: nothing to stop\n"


@pytest.mark.timeout(60)
def test_stop_of_an_unknown_job_is_one_line(job: Job, redis_url: str) -> None:
    shared = {**job.env, "CLOUDSURGE_REDIS_URL": redis_url}
    for env, where in [(job.env, f"under {job.out}"), (shared, "on that Redis")]:
        done = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "stop", "20990101T000000-abcdef",
             "--output", str(job.out)],
            env=env, text=True, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"error: no job 20990101T000000-abcdef {where}: nothing to stop\n"
        assert done.stdout == ""
