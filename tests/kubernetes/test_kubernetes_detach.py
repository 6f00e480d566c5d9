"""Detached runs on a real Kubernetes: `pytest -m kubernetes` (see docs/gke.md).

The cluster, images, GCS emulator, namespace and Redis are test_kubernetes_live.py's module
fixture, loaded from that file (one definition of the test cluster's set-up). In order: a
detached run (`run --cluster kubernetes --detach`: the job queued from here, its client in a
DaskJob's pod) of every formula up to 7 heavy atoms while its worker pod is deleted and the
Redis pod restarted, exact and verified from the output alone; `stop` of a detached run from
here, then `run --resume --detach`, exact; the operator removing each DaskJob's cluster when
its client pod ends, and nothing of the runs left once the DaskJobs are deleted.

The node has 2 cores: the scheduler (1), Redis (0.5), the client pod (0.25) and one worker
pod of 0.25 fill it, so these runs have one worker pod (the operator replaces it when it is
deleted).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis


def _live() -> ModuleType:
    path = Path(__file__).with_name("test_kubernetes_live.py")
    spec = importlib.util.spec_from_file_location("kubernetes_live_setup", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


LIVE = _live()
cluster = LIVE.cluster  # the module fixture: this module gets a namespace of its own
pytestmark = [pytest.mark.kubernetes, pytest.mark.timeout(3600)]

PLACEMENT = [
    "--cluster", "kubernetes", "--detach", "--redis-forward", "--pods", "1",
    "--processes-per-pod", "1",
    "--pod-cpu", "250m", "--pod-memory", "1Gi", "--pod-ephemeral-storage", "1Gi",
    "--cluster-timeout", "600",
]  # fmt: skip
QUEUED = ["--max-heavy-atoms", "7", "--shard-formulae", "4", "--lease-seconds", "10",
          "--batch-size", "1"]  # fmt: skip


def detached(cluster: Any, *args: str) -> tuple[str, str]:
    """Start a detached run (or resume) as a user outside the cluster: Redis through
    --redis-forward; returns the job id and its DaskJob's name."""
    started = time.monotonic()
    done = LIVE.cli("run", *args, "--namespace", cluster.namespace, "--image",
                    LIVE.TEST_IMAGE, *PLACEMENT, env=outside(cluster), timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert time.monotonic() - started < 120, "the detached command did not return at once"
    job = done.stdout.strip().splitlines()[-1]
    name = done.stderr.split("DaskJob ")[1].split()[0]
    assert f"{name}-runner" in done.stderr, done.stderr
    # the commands it prints reach Redis as it did
    assert f"stop {job} --output" in done.stderr and "--redis-forward" in done.stderr, done.stderr
    return job, name


def outside(cluster: Any) -> dict[str, str]:
    """A client's environment outside the cluster: the Role's kubeconfig and the Redis
    Secret's in-cluster URL, which only --redis-forward reaches from here."""
    return {**cluster.env, "CLOUDSURGE_REDIS_URL": cluster.in_cluster_url}


def job_status(namespace: str, name: str) -> str:
    return LIVE.kubectl("get", "daskjob", name, "-n", namespace, "-o",
                        "jsonpath={.status.jobStatus}", check=False).strip()  # fmt: skip


def wait_ended(namespace: str, name: str, seconds: float = 1800) -> str:
    deadline = time.monotonic() + seconds
    while (state := job_status(namespace, name)) not in ("Successful", "Failed"):
        assert time.monotonic() < deadline, LIVE.kubectl("describe", "daskjob", name, "-n",
                                                         namespace, check=False)  # fmt: skip
        time.sleep(2)
    return state


def cluster_gone(namespace: str, name: str, seconds: float = 120) -> None:
    """The operator deletes a DaskJob's cluster, and so its pods, once the client pod ends."""
    deadline = time.monotonic() + seconds
    while LIVE.kubectl("get", "daskclusters,pods", "-n", namespace, "-l",
                       f"dask.org/cluster-name={name},dask.org/component!=job-runner",
                       "-o", "name", check=False).strip():  # fmt: skip
        assert time.monotonic() < deadline, f"the cluster of DaskJob {name} is still there"
        time.sleep(2)


def progress(url: str, job: str) -> tuple[int, int]:
    connection = redis.Redis.from_url(url, socket_timeout=2)
    total, done = connection.hmget(f"cloudsurge:{job}:progress", ["total", "done"])
    return int(total or 0), int(done or 0)


def test_detached_run_survives_worker_and_redis_restarts(cluster: Any) -> None:
    ns = cluster.namespace
    bucket = f"kd-{uuid.uuid4().hex[:10]}"
    LIVE.create_bucket(bucket)
    output = f"gs://{bucket}/runs"
    started = time.monotonic()
    job, name = detached(cluster, "--output", output, *QUEUED)
    faults: list[str] = []

    def inject() -> None:
        deadline = time.monotonic() + 1500
        stage = 0
        while stage < 2 and time.monotonic() < deadline and job_status(ns, name) not in (
            "Successful", "Failed"
        ):
            try:
                total, done = progress(cluster.redis_url, job)
            except redis.RedisError:
                time.sleep(0.5)
                continue
            if stage == 0 and total and done >= total // 10:
                LIVE.snapshot_pods(cluster)
                pods = LIVE.kubectl("get", "pods", "-n", ns, "-l",
                                    f"dask.org/cluster-name={name},dask.org/component=worker",
                                    "-o", "name").split()  # fmt: skip
                LIVE.kubectl("delete", "-n", ns, pods[0], "--wait=false")
                faults.append(f"deleted {pods[0]} at {done}/{total}")
                stage = 1
            elif stage == 1 and total and done >= total * 4 // 10:
                LIVE.kubectl("delete", "-n", ns, "pod/cloudsurge-redis-0", "--wait=false")
                faults.append(f"restarted Redis at {done}/{total}")
                stage = 2
            time.sleep(0.2)

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    state = wait_ended(ns, name)
    injector.join(timeout=30)
    seconds = time.monotonic() - started
    LIVE.snapshot_pods(cluster)
    log = LIVE.kubectl("logs", "-n", ns, f"{name}-runner", check=False)
    assert state == "Successful", log[-6000:]
    assert len(faults) == 2, (faults, log[-3000:])
    print(f"\ndetached run: {seconds:.0f} s; faults: {faults}")
    cluster.figures["detached_run_seconds"] = seconds
    cluster_gone(ns, name)
    frame = LIVE.check_records(cluster, job, output, 7)
    assert frame["attempts"].max() >= 1
    LIVE.kubectl("delete", "daskjob", name, "-n", ns, "--wait=true", "--timeout=120s")


def test_stop_of_a_detached_run_then_resume_detached(cluster: Any) -> None:
    ns = cluster.namespace
    bucket = f"ks-{uuid.uuid4().hex[:10]}"
    LIVE.create_bucket(bucket)
    output = f"gs://{bucket}/runs"
    job, name = detached(cluster, "--output", output, *QUEUED)
    deadline = time.monotonic() + 900
    while progress(cluster.redis_url, job)[1] < 50:
        assert time.monotonic() < deadline and job_status(ns, name) != "Failed"
        time.sleep(0.5)
    # from the output alone (no Redis), as from a laptop: job.json has the counts so far
    deadline = time.monotonic() + 90
    while True:
        status = LIVE.cli("status", job, "--output", output, env=cluster.env)
        final = re.match(rf"job {job}: running .*?: ([\d,]+) of", status.stdout)
        if final and int(final.group(1).replace(",", "")) > 0:
            break
        assert time.monotonic() < deadline, status.stdout + status.stderr
        time.sleep(2)
    # live, through the command's own forward to Redis, as the detached command printed it
    env, reach = outside(cluster), ["--redis-forward", "--namespace", ns]
    status = LIVE.cli("status", job, "--output", output, *reach, env=env)
    assert re.search(rf"its client: PID \d+ on {name}-runner$", status.stdout), status.stdout
    stopped = LIVE.cli("stop", job, "--output", output, *reach, env=env, timeout=600)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert stopped.stdout.startswith(f"job {job}: interrupted"), stopped.stdout
    assert "interrupted by the stop command" in stopped.stdout
    assert "--cluster kubernetes --detach" in stopped.stdout  # the resume command
    assert wait_ended(ns, name) == "Failed"  # the client pod exits 130, as on Ctrl-C
    LIVE.snapshot_pods(cluster)
    cluster_gone(ns, name)
    log = LIVE.kubectl("logs", "-n", ns, f"{name}-runner")
    assert f"job {job} interrupted by the stop command" in log and "Traceback" not in log, log
    again = LIVE.cli("stop", job, "--output", output, *reach, env=env)
    assert again.returncode == 2 and "is not running (it is interrupted)" in again.stderr
    job_again, resumed = detached(cluster, "--resume", job, "--output", output)
    assert job_again == job and resumed != name
    assert wait_ended(ns, resumed) == "Successful", LIVE.kubectl(
        "logs", "-n", ns, f"{resumed}-runner", check=False
    )[-6000:]
    LIVE.snapshot_pods(cluster)
    cluster_gone(ns, resumed)
    LIVE.check_records(cluster, job, output, 7)
    for each in (name, resumed):
        LIVE.kubectl("delete", "daskjob", each, "-n", ns, "--wait=true", "--timeout=120s")


def test_nothing_of_the_detached_runs_left(cluster: Any) -> None:
    ns = cluster.namespace
    deadline = time.monotonic() + 120
    while LIVE.kubectl("get", "pods", "-n", ns, "-o", "name").split() != ["pod/cloudsurge-redis-0"]:
        assert time.monotonic() < deadline, LIVE.kubectl("get", "pods", "-n", ns)
        time.sleep(2)
    assert LIVE.kubectl("get", "daskjobs,daskclusters", "-n", ns, "-o", "name").strip() == ""
    seen = cluster.seen_pods
    assert any(name.endswith("-runner") for name in seen), sorted(seen)
    password = cluster.password
    for name, pod in seen.items():
        assert password not in str(pod), f"password in the spec of {name}"
    for name, log in cluster.logs.items():
        assert password not in log, f"password in the log of {name}"
