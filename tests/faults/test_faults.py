"""Fault injection, fast subset: kills, Redis restarts, storage and generator faults, hostile
input, concurrent resumes, tampered parts, secrets. The full campaign: test_faults_full.py.

Every job is checked by `faults.check_job`: each formula exactly once in the records (Redis
and records.parquet), statuses as expected, every manifest verified, no orphan beside a
committed task, and the parts of each TaskStatus.OK task equal to the engine's own output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import redis
from click.testing import CliRunner
from redis.backoff import NoBackoff
from redis.retry import Retry
from support.faults import (
    ONE_TASK_PER_FORMULA,
    SMALL,
    GeneratorFaults,
    check_job,
    engine,
    generator_wrapper,
    injected,
    job_keys,
    kill_trial,
    on_cluster,
    own_redis,
    reset,
    shell_wrapper,
    storage_faults,
    wait_for_records,
)

from cloudsurge_dask.cli import main
from cloudsurge_dask.clusters.kubeobjects import KubeValues, render_objects
from cloudsurge_dask.errors import GeneratorCrashed, QueueError, StorageError
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.ledger import JobState
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.queue.jobqueue import JobQueue, new_job_id
from cloudsurge_dask.queue.redisclient import connect
from cloudsurge_dask.queue.redisserver import RedisServer
from cloudsurge_dask.run.job import enqueue, run_job
from cloudsurge_dask.settings import Settings


@pytest.fixture
def fresh(state: Path) -> Path:
    reset(state)
    return state


def formulae(names: list[str]) -> list[Any]:
    return [parse_formula(name) for name in names]


# ------------------------------------------------------------------------ SIGKILL


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("mode", "seed"), [("generating", 101), ("part", 102), ("ack", 103)])
def test_sigkill_worker_loses_and_duplicates_nothing(
    cluster: Any, fresh: Path, tmp_path: Path, mode: str, seed: int
) -> None:
    trial = kill_trial(cluster, tmp_path, fresh, seed, mode)
    assert len(trial.kills) == 1, trial.kills
    assert trial.check.lost == 0 and trial.check.duplicated == 0
    assert trial.check.ok == trial.check.tasks
    assert trial.check.max_attempts >= 2  # the killed worker's lease was taken over


# ------------------------------------------------------------------------ generators


@pytest.mark.timeout(120)
def test_generator_faults_are_recorded_retried_and_contained(
    cluster: Any, fresh: Path, tmp_path: Path
) -> None:
    faulty: dict[str, dict[str, Any]] = {
        "C3H8": {"kind": "segv", "bytes": 7},
        "C4H10": {"kind": "wrong_count"},
        "C2H6O": {"kind": "garbage_binary"},
        "C3H6O": {"kind": "garbage_ascii"},
        "C2H4O2": {"kind": "torn_line"},
        "C3H9N": {"kind": "no_summary"},
        "C5H12": {"kind": "hang", "seconds": 30},
        "C4H8": {"kind": "segv", "bytes": 3, "first_only": True},
    }
    reasons = {
        "C3H8": "exited with -11",
        "C4H10": "reported",
        "C2H6O": "non-ASCII",
        "C3H6O": "reported",
        "C2H4O2": "newline",
        "C3H9N": "summary",
        "C5H12": "timed out",
    }
    surge = generator_wrapper(fresh, GeneratorFaults(faults=faulty))
    names = [*faulty, "CH4", "C2H6", "C3H4N2OS", "C2"]
    settings = on_cluster(
        cluster, tmp_path, surge=surge, generator_timeout=1.5, max_attempts=3, batch_size=1
    )
    outcome = run_job(settings, formulae(names), quiet=True)
    check = check_job(settings, outcome, names, failed=list(reasons), rejected=["C2"])
    assert check.ok == 4 and check.failed == 7 and check.rejected == 1
    frame = outcome.records.set_index("task")
    for key, reason in reasons.items():
        assert frame.loc[key, "attempts"] == 3, key
        assert reason in str(frame.loc[key, "error"]), (key, frame.loc[key, "error"])
    assert frame.loc["C4H8", "attempts"] == 2 and frame.loc["C2", "attempts"] == 1
    assert "no structure possible" in str(frame.loc["C2", "error"])
    log = injected(fresh)
    assert sum(1 for line in log if " hang " in line) == 3
    assert sum(1 for line in log if "segv C4H8" in line) == 1


def test_generator_timeout_also_stops_a_wrapper_grandchild(tmp_path: Path) -> None:
    exe = shell_wrapper(tmp_path, "slow", 'sleep 4\necho ">Z wrote 0 -> 0 -> 0 in 0.0 sec" >&2\n')
    started = time.monotonic()
    with (
        pytest.raises(GeneratorCrashed, match="timed out"),
        Generation(exe, Task("CH4"), (), 0.5) as generation,
    ):
        b"".join(generation.blocks())
    assert time.monotonic() - started < 2.5


# ------------------------------------------------------------------------ storage


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["oserror", "timeout", "torn"])
def test_transient_storage_faults_are_retried(
    cluster: Any, fresh: Path, tmp_path: Path, kind: str
) -> None:
    storage_faults(fresh, every=4, kind=kind, scope="all")
    surge = generator_wrapper(fresh, GeneratorFaults())
    names = ["C3H4N2OS", *SMALL]
    settings = on_cluster(cluster, tmp_path, surge=surge)
    outcome = run_job(settings, formulae(names), quiet=True)
    check = check_job(settings, outcome, names)
    assert check.ok == len(names) and check.max_attempts == 1  # retried inside the store
    assert len(injected(fresh)) >= 5


@pytest.mark.timeout(180)
def test_permanent_storage_fault_stops_the_run_and_resume_finishes(
    cluster: Any, fresh: Path, tmp_path: Path
) -> None:
    """Storage that refuses a write is the job's fault, not the formula's: the run stops
    (no attempt spent, nothing recorded as failed), and once the cause is gone the resume
    finishes the job exactly."""
    storage_faults(fresh, deny=["C4H10"])
    names = ["C3H4N2OS", *SMALL]
    settings = on_cluster(cluster, tmp_path, surge=generator_wrapper(fresh, GeneratorFaults()))
    stopped = run_job(settings, formulae(names), quiet=True)
    assert (stopped.state, stopped.exit_code, stopped.ok) == (JobState.STOPPED, 1, False)
    assert "permission denied" in stopped.message, stopped.message
    assert f"run --resume {stopped.job}" in stopped.message
    assert "C4H10" not in set(stopped.records["formula"])
    assert (stopped.records["status"] == TaskStatus.OK).all()
    storage_faults(fresh)  # the cause fixed
    outcome = run_job(settings, formulae(names), job=stopped.job, quiet=True)
    check_job(settings, outcome, names)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not on PATH")
    with own_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.mark.timeout(60)
def test_unwritable_output_fails_fast_before_queueing(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    settings = Settings.build(
        {"output": str(blocker / "out"), "redis_url": private_redis.url, "surge": engine()},
        env=ONE_TASK_PER_FORMULA,
    )
    started = time.monotonic()
    with pytest.raises(StorageError, match="not writable") as info:
        run_job(settings, formulae(["CH4"]), quiet=True)
    assert time.monotonic() - started < 10
    assert "a parent path is a file" in str(info.value)
    assert job_keys(private_redis.url) == []


@pytest.mark.timeout(60)
def test_missing_gcs_bucket_fails_fast(
    gcs_emulator: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    settings = Settings.build(
        {"output": "gs://no-such-bucket-7f3a/out", "redis_url": private_redis.url,
         "surge": engine()},
        env=ONE_TASK_PER_FORMULA,
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(StorageError, match="not writable"):
        run_job(settings, formulae(["CH4"]), quiet=True)
    assert time.monotonic() - started < 20
    assert job_keys(private_redis.url) == []


# ------------------------------------------------------------------------ Redis


@pytest.mark.timeout(120)
def test_redis_restart_mid_run_loses_nothing(cluster: Any, fresh: Path, tmp_path: Path) -> None:
    names = ["C3H4N2OS", *SMALL, "C5H12", "C4H8", "C3H6", "C2H7N", "CH5N"]
    surge = generator_wrapper(fresh, GeneratorFaults(delay=0.2))
    restarts: list[str] = []
    with own_redis(tmp_path / "redis") as server:

        def restarter() -> None:
            job = wait_for_records(server.url, 3, 60)
            if job is not None:
                server.restart()
                restarts.append(job)

        thread = threading.Thread(target=restarter, daemon=True)
        thread.start()
        settings = on_cluster(cluster, tmp_path, surge=surge, redis_url=server.url)
        outcome = run_job(settings, formulae(names), quiet=True)
        thread.join(10)
    assert restarts == [outcome.job]
    check = check_job(settings, outcome, names)
    assert check.ok == len(names)


# ------------------------------------------------------------------ concurrent resume


@pytest.mark.timeout(180)
def test_two_clients_resuming_one_job_finish_it_once(fresh: Path, tmp_path: Path) -> None:
    names = ["C3H4N2OS", "C4H4N2O", *SMALL]
    surge = generator_wrapper(fresh, GeneratorFaults(delay=0.1))
    with own_redis(tmp_path / "redis") as server:
        settings = Settings.build(
            {"output": str(tmp_path / "out"), "surge": surge, "part_size": 1000,
             "redis_url": server.url, "lease_seconds": 2.0, "batch_size": 1},
            env=ONE_TASK_PER_FORMULA,
        )  # fmt: skip
        job = new_job_id()
        enqueue(server.url, settings, formulae(names), job)
        env = {**os.environ, "CLOUDSURGE_REDIS_URL": server.url, "CLOUDSURGE_WORKERS": "1"}
        command = [sys.executable, "-m", "cloudsurge_dask", "run", "--resume", job, "--quiet"]
        clients = [
            subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        results = [client.communicate(timeout=150) for client in clients]
        records = JobQueue.open(server.url, job).records()
        password = server.url.split(":")[2].split("@")[0]
    for client, (stdout, stderr) in zip(clients, results, strict=True):
        assert client.returncode == 0, stderr
        assert stdout.strip().splitlines()[-1] == job
        assert password not in stdout + stderr
    frame = pd.DataFrame({"task": [r.task for r in records]})
    assert sorted(frame["task"]) == sorted(names)
    outcome = SimpleNamespace(
        job=job,
        output=str(tmp_path / "out" / job),
        records=pd.read_parquet(tmp_path / "out" / job / "records.parquet"),
    )
    check = check_job(settings.replace(redis_url=None), outcome, names)
    assert check.ok == len(names)


# ------------------------------------------------------------------ verify via the CLI


@pytest.fixture(scope="module")
def finished_job(
    cluster: Any, state: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    reset(state)
    root = tmp_path_factory.mktemp("finished")
    settings = Settings.build(
        {"scheduler": cluster.scheduler_address, "output": str(root / "out"),
         "surge": engine(), "part_size": 2000},
        env=ONE_TASK_PER_FORMULA,
    )  # fmt: skip
    outcome = run_job(settings, formulae(["C3H4N2OS", "C4H10"]), quiet=True)
    assert (outcome.records["status"] == TaskStatus.OK).all()
    return root / "out", outcome.job


def _damage(path: Path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:-10])
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["intact", "deleted", "truncated", "altered"])
def test_verify_cli_names_a_damaged_part(
    finished_job: tuple[Path, str], tmp_path: Path, how: str
) -> None:
    source, job = finished_job
    out = tmp_path / "copy"
    shutil.copytree(source, out)
    victim = "parts/C3H4N2OS/C3H4N2OS.00003.smi.zst"
    if how != "intact":
        _damage(out / job / victim, how)
    done = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "verify", job, "--output", str(out)],
        capture_output=True, text=True, timeout=50, cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    if how == "intact":
        assert done.returncode == 0 and "OK" in done.stdout, done.stderr
        return
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert victim in done.stderr
    assert "1 problems" in done.stdout


# ------------------------------------------------------------------ hostile CLI input

CANARY_NAME = "CANARY"


@pytest.fixture
def hostile(tmp_path: Path, private_redis: RedisServer) -> SimpleNamespace:
    """A canary generator (creates a file if it ever runs) and paths for one hostile case."""
    canary = tmp_path / CANARY_NAME
    surge = shell_wrapper(tmp_path / "bin", "canary-surge", f"touch {canary}\nexit 0\n")
    return SimpleNamespace(
        canary=canary, surge=surge, out=tmp_path / "out", tmp=tmp_path, url=private_redis.url
    )


def _invoke(case: SimpleNamespace, args: list[str], lines: bytes | None) -> Any:
    command = ["run", "--output", str(case.out), "--quiet"]
    if "--surge" not in args:
        command += ["--surge", case.surge]
    if lines is not None:
        listing = case.tmp / "formulae.txt"
        listing.write_bytes(lines)
        command += ["--formulae", str(listing)]
    return CliRunner().invoke(
        main, command + args, env={"CLOUDSURGE_REDIS_URL": case.url}, catch_exceptions=False
    )


def _assert_refused(case: SimpleNamespace, result: Any, message: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2
    assert message.lower() in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.output
    assert not case.canary.exists(), "the generator ran"
    assert not list(case.tmp.rglob(f"*{CANARY_NAME}*")), "a canary was created"
    assert job_keys(case.url) == [], "something was queued"


def _canary(case: SimpleNamespace) -> str:
    return str(case.canary)


# (formula file content, extra flags, expected words); {canary} is the canary path
HOSTILE: list[tuple[str, bytes | None, list[str], str]] = [
    ("dash-o-line", b"-oFILE\n", [], "line 1"),
    ("help-line", b"CH4\n--help\n", [], "line 2"),
    ("dash-h-line", b"-h\n", [], "line 1"),
    ("formula-plus-option", b"C6H6 -o/tmp/x\n", [], "line 1"),
    ("split-option-line", b"C6H6 -m0/2\n", [], "line 1"),
    ("semicolon-touch", b"C6H6;touch {canary}\n", [], "line 1"),
    ("command-substitution", b"$(touch {canary})\n", [], "line 1"),
    ("backticks", b"`touch {canary}`\n", [], "line 1"),
    ("pipe", b"C2H6|sh\n", [], "line 1"),
    ("path-traversal", b"../../etc/passwd\n", [], "line 1"),
    ("slash-in-formula", b"C2H6/../x\n", [], "line 1"),
    ("nul-byte", b"C2H6\x00\n", [], "line 1"),
    ("subscript-digits", "C\u2086H\u2086\n".encode(), [], "line 1"),
    ("fullwidth", "\uff23\uff28\uff14\n".encode(), [], "line 1"),
    ("cyrillic-c", "\u0421H4\n".encode(), [], "line 1"),
    ("invalid-utf8", b"C2H6\xff\xfe\n", [], "line 1"),
    ("huge-count", b"C99999999999999999999H4\n", [], "line 1"),
    ("too-many-heavy", b"C33H68\n", [], "line 1"),
    ("too-many-hydrogens", b"CH5\n", [], "line 1"),
    ("leading-zero", b"C06H6\n", [], "line 1"),
    ("inline-comment", b"C2H6 # ethane\n", [], "line 1"),
    ("overlong-line", b"C" * 5000 + b"\n", [], "longer than"),
    ("empty-file", b"", [], "no formulae"),
    ("blank-and-comments", b"\n   \n# only a comment\n\t\n", [], "no formulae"),
    ("binary-junk", bytes(range(256)) * 4, [], "bad line"),
    ("surge-options-o", b"CH4\n", ["--surge-options", "-o/tmp/x"], "-o/tmp/x"),
    ("surge-options-mixed", b"CH4\n", ["--surge-options", "-T -oFILE"], "-oFILE"),
    ("surge-options-split", b"CH4\n", ["--surge-options", "-m0/2"], "-m0/2"),
    ("surge-options-shell", b"CH4\n", ["--surge-options", "-T; touch {canary}"], "-T;"),
    ("surge-options-S", b"CH4\n", ["--surge-options", "-S"], "'-S'"),
    ("surge-shell-command", b"CH4\n", ["--surge", "sh -c 'touch {canary}'"], "--surge"),
    ("surge-missing", b"CH4\n", ["--surge", "/nonexistent/surge"], "--surge"),
    ("resume-traversal", None, ["--resume", "../../x"], "invalid job id"),
    ("resume-substitution", None, ["--resume", "$(touch {canary})"], "invalid job id"),
    ("resume-unknown", None, ["--resume", "20990101T000000-abcdef"], "not on the queue"),
    ("formulae-dir", None, ["--formulae", "{tmp}"], "cannot read formula file"),
    ("formulae-missing", None, ["--formulae", "{tmp}/nope.txt"], "cannot read formula file"),
    ("part-size-negative", b"CH4\n", ["--part-size", "-1"], "--part-size"),
    ("codec-injection", b"CH4\n", ["--codec", "zst;touch {canary}"], "--codec"),
    ("heavy-atoms-huge", None, ["--max-heavy-atoms", "99999999999"], "--max-heavy-atoms"),
    ("elements-injection", None, ["--elements", "C;touch {canary}"], "element"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("content", "flags", "message"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_cli_input_is_refused_before_anything_runs(
    hostile: SimpleNamespace, content: bytes | None, flags: list[str], message: str
) -> None:
    fill = {"canary": _canary(hostile), "tmp": str(hostile.tmp)}
    lines = None if content is None else content.replace(b"{canary}", fill["canary"].encode())
    args = [flag.format(**fill) for flag in flags]
    result = _invoke(hostile, args, lines)
    _assert_refused(hostile, result, message)
    assert not hostile.out.exists() or not any(p.is_file() for p in hostile.out.rglob("*"))


def test_refused_surge_options_touch_no_storage(hostile: SimpleNamespace) -> None:
    result = _invoke(hostile, ["--surge-options", "-o/tmp/x"], b"CH4\n")
    _assert_refused(hostile, result, "-o/tmp/x")
    assert not hostile.out.exists()


@pytest.mark.timeout(60)
def test_duplicate_lines_are_queued_once(tmp_path: Path) -> None:
    listing = tmp_path / "dupes.txt"
    listing.write_text("CH4\nC2H6\r\nCH4\n  CH4  \nC2H6\n" * 1000)
    result = CliRunner().invoke(main, ["formulae", "--formulae", str(listing)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["CH4", "C2H6"]


@pytest.mark.timeout(60)
def test_200k_line_file_with_one_bad_line_is_refused(hostile: SimpleNamespace) -> None:
    good = b"".join(f"{SMALL[i % len(SMALL)]}\n".encode() for i in range(200_000 - 1))
    started = time.monotonic()
    result = _invoke(hostile, [], good + b"-oFILE\n")
    assert time.monotonic() - started < 30
    _assert_refused(hostile, result, "line 200000")


# ------------------------------------------------------------------------ security


@pytest.mark.timeout(30)
def test_embedded_redis_requires_a_password() -> None:
    with RedisServer() as server:
        anonymous = redis.Redis(
            host="127.0.0.1", port=server.port, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
        anonymous.close()
        wrong = f"redis://:not-the-password-123@127.0.0.1:{server.port}/0"
        with pytest.raises(QueueError, match="refused the credentials") as info:
            connect(wrong)
        assert "not-the-password-123" not in str(info.value)
        assert connect(server.url).ping()


def _secret_free(password: str, *texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert password.encode() not in data


@pytest.mark.timeout(120)
def test_no_credential_in_logs_records_or_output(tmp_path: Path, fresh: Path) -> None:
    surge = generator_wrapper(fresh, GeneratorFaults(faults={"C3H8": {"kind": "segv"}}))
    listing = tmp_path / "f.txt"
    listing.write_text("CH4\nC2H6\nC3H8\nC2\n")
    out = tmp_path / "out"
    with own_redis(tmp_path / "redis") as server:
        password = server.url.split(":")[2].split("@")[0]
        assert len(password) >= 16
        env = {**os.environ, **ONE_TASK_PER_FORMULA, "CLOUDSURGE_REDIS_URL": server.url,
               "CLOUDSURGE_WORKERS": "1",
               "CLOUDSURGE_MAX_ATTEMPTS": "2"}  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae", str(listing),
             "--output", str(out), "--surge", surge],
            capture_output=True, text=True, timeout=100, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr  # C3H8 failed on purpose
        assert "***" in done.stderr  # the queue's address was shown, redacted
        job = done.stdout.strip().splitlines()[-1]
        status = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "status", job],
            capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert status.returncode == 0 and "2 failed" in status.stdout, status.stderr
        client = connect(server.url)
        stored = [client.dump(key) or b"" for key in client.scan_iter("*")]
        client.close()
        server_log = (server.directory / "redis.log").read_bytes()
    _secret_free(password, done.stdout, done.stderr, status.stdout, status.stderr, server_log)
    _secret_free(password, *stored)
    files = [path for path in out.rglob("*") if path.is_file()]
    assert any(path.name == "records.parquet" for path in files)
    assert any(path.parent.name == "manifests" for path in files)
    _secret_free(password, *(path.read_bytes() for path in files))
    bad = f"redis://:{password}@127.0.0.1:1/0"
    with pytest.raises(QueueError) as info:
        connect(bad)
    _secret_free(password, str(info.value))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")
    yield path, node


def test_kubernetes_manifests_take_the_password_from_a_secret() -> None:
    objects = render_objects(KubeValues(job="20261125T101500-3fa9c2"))
    assert all(item["kind"] != "Secret" for item in objects)
    envs = [
        node
        for document in objects
        for _, node in _walk(document)
        if isinstance(node, dict) and "name" in node and ("value" in node or "valueFrom" in node)
    ]
    secret_names = {"REDIS_PASSWORD", "REDISCLI_AUTH", "CLOUDSURGE_REDIS_URL"}
    seen = {env["name"] for env in envs if env["name"] in secret_names}
    assert seen == secret_names
    for env in envs:
        if env["name"] in secret_names or "PASSWORD" in env["name"]:
            assert "value" not in env and "secretKeyRef" in env["valueFrom"], env
    for where, node in _walk(objects):
        assert not isinstance(node, str) or "redis://" not in node, where
    args = [
        node for document in objects for where, node in _walk(document)
        if where.endswith(".args") and isinstance(node, list)
    ]  # fmt: skip
    flat = [arg for group in args for arg in group]
    assert "--requirepass" in flat
    assert flat[flat.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
