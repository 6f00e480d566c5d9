"""The scheduler's cloudsurge page for real: a `dask scheduler` process set up the way the
Kubernetes scheduler pod is, and a whole job on a local cluster watched in headless Chromium.

Screenshots are kept in tests/artifacts/ (git-ignored): dashboard-running.png mid-job and
dashboard-finished.png after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client
from distributed import wait as distributed_wait
from support.processes import stop
from support.refdata import hill_counts

from cloudsurge_dask.clusters.cluster import open_cluster
from cloudsurge_dask.clusters.dashboard import ROUTES_ENV, announce, page_link
from cloudsurge_dask.clusters.daskcluster import kube_cluster_spec
from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.queue.jobqueue import JobQueue
from cloudsurge_dask.queue.redisclient import connect
from cloudsurge_dask.run.job import enqueue
from cloudsurge_dask.run.worker import drain
from cloudsurge_dask.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROW = re.compile(r'<tr class="running"><td>([^<]*)</td><td>\d+</td><td>([^<]*)</td>')
KEY = re.compile(r"^(?P<formula>[A-Za-z0-9]+)(?:\+\d+|~\d+of\d+)?$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
    return result


def chromium(*args: str, profile: Path, timeout: float = 40) -> str:
    """Run headless Chromium once; its whole process group is killed whatever happens, so
    no renderer or zygote child outlives the call."""
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium not on PATH: run scripts/setup.sh (apt-get install -y chromium)")
    command = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={profile}", *args]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish within {timeout} s: {command}")
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing to stop
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def screenshot(url: str, name: str, profile: Path) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    chromium(f"--screenshot={path}", "--window-size=1280,900", url, profile=profile)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 900)
    assert len(data) > 20_000, f"{path} is nearly blank ({len(data)} bytes)"
    return path


@pytest.fixture
def routed_scheduler(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`dask scheduler` in its own process, its routes set only by the environment entry the
    Kubernetes scheduler pod gets; yields (scheduler address, dashboard status URL)."""
    spec = kube_cluster_spec(Settings(cluster="kubernetes"), name="cloudsurge-test")
    env_list = spec["spec"]["scheduler"]["spec"]["containers"][0]["env"]
    (entry,) = [e for e in env_list if e["name"] == ROUTES_ENV]
    port, dashboard = free_port(), free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), "scheduler", "--host", "127.0.0.1",
         "--port", str(port), "--dashboard-address", f"127.0.0.1:{dashboard}"],
        env={**os.environ, ROUTES_ENV: entry["value"]}, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"tcp://127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}/status"
    finally:
        stop(process, timeout=20)


def test_page_on_a_scheduler_set_up_like_the_kubernetes_pod(
    routed_scheduler: tuple[str, str],
) -> None:
    address, status = routed_scheduler
    link = page_link(status)
    assert link == status[: -len("/status")] + "/cloudsurge"
    with Client(address, timeout=30) as client:
        base = status[: -len("/status")]
        with urllib.request.urlopen(f"{base}/health", timeout=10) as response:
            assert response.read() == b"ok"  # distributed's own routes are still there
        # events as workers send them (the scheduler sets `worker`), through the real client
        client.log_event("cloudsurge", {"event": "start", "job": "j1", "task": "CH4+2",
                         "worker": "tcp://w1", "consumer": "c1", "formulae": ["CH4", "H2O", "N2"],
                         "attempt": 1})  # fmt: skip
        announce(client, "j1", formulae=5, tasks=4)  # after an event: that one is not lost
        events: list[dict[str, Any]] = [
            {"event": "start", "task": "C7H16~0of2", "worker": "tcp://w2", "consumer": "c2"},
            {"event": "end", "task": "CH4+2", "worker": "tcp://w1", "consumer": "c1",
             "status": "ok", "formulae": 3, "structures": 3},
            {"event": "end", "task": "CH4+2", "worker": "tcp://w1", "consumer": "c1",
             "status": "ok", "formulae": 3, "structures": 3},  # a late duplicate
            {"event": "end", "task": "C7H16~0of2", "worker": "tcp://w2", "consumer": "c2",
             "status": "ok", "formulae": 1, "structures": 4},
            {"event": "end", "task": "C7H16~1of2", "worker": "tcp://w2", "consumer": "c2",
             "status": "retry", "formulae": 0, "structures": 0},
            {"event": "start", "task": "C7H16~1of2", "worker": "tcp://w1", "consumer": "c1",
             "formulae": ["C7H16"], "attempt": 2},
        ]  # fmt: skip
        for event in events:
            client.log_event("cloudsurge", {"job": "j1", **event})
        deadline = time.monotonic() + 10
        while True:
            (job,) = fetch(f"{link}/status.json")["jobs"]
            if job["retries"] == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert job["formulae"] == {"done": 3, "total": 5}  # the half-done C7H16 is not counted
    assert job["tasks"] == {"done": 2, "total": 4}
    assert job["structures"] == 7 and not job["finished"]
    running = [(r["task"], r["worker"], r["attempt"]) for r in job["running"]]
    assert running == [("C7H16~1of2", "tcp://w1", 2)]
    with urllib.request.urlopen(link, timeout=10) as response:
        page = response.read().decode()
    assert "C7H16~1of2" in page and "3 / 5" in page and "http-equiv='refresh'" in page
    with Client(address, timeout=30) as client:  # a resume announces what the queue holds
        announce(client, "j1", 5, 4, formulae_done=4, tasks_done=3, structures=9)
        deadline = time.monotonic() + 10  # events travel on a batched stream: wait for it
        while (job := fetch(f"{link}/status.json")["jobs"][0])["structures"] != 9:
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
    assert (job["formulae"]["done"], job["tasks"]["done"], job["structures"]) == (4, 3, 9)


def one_by_one_generator(tmp_path: Path) -> str:
    """The built-in engine behind a script: the pipeline then runs one generator process per
    formula, as with upstream Surge, so the ~9,700 formulae take some 10-15 s on 2 workers."""
    script = tmp_path / "surge"
    script.write_text(f'#!/bin/sh\nexec {engine_path()} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_page_follows_a_real_job_in_chromium(tmp_path: Path, redis_url: str, job_id: str) -> None:
    table = hill_counts()  # every formula up to 7 heavy atoms that Surge accepts
    formulae = [parse_formula(name) for name in sorted(table)]
    names = {f.hill for f in formulae}
    settings = Settings.build({
        "output": str(tmp_path / "out"), "workers": 2, "redis_url": redis_url,
        "surge": one_by_one_generator(tmp_path), "shard_structures": 50_000,
        "shard_formulae": 128, "batch_size": 1, "lease_seconds": 30.0,
    }, env={})  # fmt: skip
    enqueue(redis_url, settings, formulae, job_id)
    queue = JobQueue(connect(redis_url), job_id)
    tasks = queue.progress().total
    assert tasks > 50  # enough tasks that the page is seen mid-run
    profile = tmp_path / "chromium-profile"
    with open_cluster(settings) as handle:
        assert handle.dashboard
        link = page_link(handle.dashboard)
        announce(handle.client, job_id, len(formulae), tasks)
        futures = [
            handle.client.submit(drain, redis_url, job_id, pure=False, key=f"drain-{job_id}-{i}")
            for i in range(handle.drains)
        ]
        workers = set(handle.client.scheduler_info()["workers"])
        deadline = time.monotonic() + 30
        while True:  # mid-run: something done, something running
            (job,) = fetch(f"{link}/status.json")["jobs"]
            if (job["running"] and job["formulae"]["done"] > 0) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not job["finished"], "the job ended before the page could be seen mid-run"
        assert {r["worker"] for r in job["running"]} <= workers
        for _ in range(3):  # both workers may be between two tasks at the very moment
            dom = chromium("--dump-dom", link, profile=profile)
            if rows := ROW.findall(dom):
                break
        assert rows, dom[:3000]
        screenshot(link, "dashboard-running.png", profile)
        for task, worker in rows:
            match = KEY.match(task)
            assert match and match["formula"] in names, task
            assert worker in workers, worker
        assert f"job {job_id} (running" in dom
        distributed_wait(futures, timeout=120)
        assert all(f.status == "finished" for f in futures), [f.exception() for f in futures]
        progress = queue.progress()
        assert progress.done == tasks and progress.structures == sum(table.values())
        (job,) = fetch(f"{link}/status.json")["jobs"]
        assert job["finished"] and not job["running"]
        assert job["formulae"] == {"done": len(formulae), "total": len(formulae)}
        assert job["structures"] == progress.structures
        dom = chromium("--dump-dom", link, profile=profile)
        assert f'<b class="formulae">{len(formulae):,} / {len(formulae):,}</b>' in dom
        assert f'<b class="structures">{progress.structures:,}</b>' in dom
        screenshot(link, "dashboard-finished.png", profile)
