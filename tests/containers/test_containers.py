"""The worker image for real: built by scripts/build-image.sh, then one distributed run across
containers on a network of its own (run with `pytest -m containers`; see images/README.md).

Containers: Redis, `dask scheduler`, two `dask worker`s from the image (read-only root, only
/scratch writable, as in the pods) and the GCS emulator. The client runs on this machine:
`python -m cloudsurge_dask run --scheduler ... --redis-url ... --output gs://...` for every
formula up to 7 heavy atoms; one worker container is killed mid-run. Every formula must be
in the records exactly once with the reference count, and `verify` must pass. All traffic
stays on this machine: the network is a bridge the test creates, reached by address (with
`--scheduler`, workers use the client's Redis URL, so it must be one both sides reach).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import redis
from support.containers import ROOT, Built, Engine, build, engine, fresh_prefix
from support.fixture_gcs import _binary as emulator_binary
from support.refdata import reference_counts

from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.records import TaskStatus

pytestmark = [pytest.mark.containers, pytest.mark.timeout(1800)]

MAX_IMAGE_BYTES = 800_000_000  # 741 MB: RDKit (~170 MB, screening), pyarrow (~120 MB, records)
BUILD_MOUNTS = (
    "/etc/pip.conf", "/etc/xdg/pip", "/root/.config/pip", "/root/.pip", "/opt/wheels",
    "/opt/pypi", "/opt/pypi-more",
)  # fmt: skip
HEAVY_ATOMS = 7
ELEMENTS = {"C", "N", "O", "S", "F", "Cl", "Br", "I", "H"}  # the default --elements, and H


@dataclass
class Images:
    worker: Built
    redis: Built


@pytest.fixture(scope="module")
def images() -> Iterator[Images]:
    tag = f"localhost/cloudsurge-worker:test-{uuid.uuid4().hex[:8]}"
    worker = build("--tag", tag)
    redis = build("--redis")
    print(f"\nworker image {worker.image}: {worker.bytes / 1e6:.0f} MB in {worker.seconds} s")
    try:
        yield Images(worker, redis)
    finally:
        engine()("rmi", tag, check=False)


def run_in(images: Images, *command: str) -> subprocess.CompletedProcess[str]:
    podman = engine()
    return podman("run", "--rm", *podman.run_flags, images.worker.image, *command, check=False)


def test_image_is_small_non_root_with_tini_and_no_compiler(images: Images) -> None:
    podman = engine()
    assert images.worker.bytes <= MAX_IMAGE_BYTES, images.worker
    config = podman("image", "inspect", "--format", "{{json .Config}}", images.worker.image)
    assert '"User":"10001:10001"' in config.stdout.replace(" ", "")
    assert '"Entrypoint":["tini","--"]' in config.stdout.replace(" ", "")
    assert run_in(images, "id", "-u").stdout.strip() == "10001"
    compilers = run_in(images, "sh", "-c", "command -v gcc cc c++ ld as tcc clang || true")
    assert compilers.stdout.strip() == ""
    engine_run = run_in(
        images,
        "sh",
        "-c",
        '"$(python -c "from cloudsurge_dask.engine import engine_path; '
        'print(engine_path())")" -u C6H6',
    )
    assert engine_run.returncode == 0 and ">Z" in engine_run.stdout + engine_run.stderr
    cli = run_in(images, "python", "-m", "cloudsurge_dask", "--help")
    assert cli.returncode == 0 and "verify" in cli.stdout, cli.stderr
    # the build's pip configuration and CA bundle were bind mounts, not image content
    # (buildah would leave empty placeholders of them in every layer a mounted RUN made)
    probe = "for p in $0 $@; do [ -e $p ] && echo $p; done; true"
    leaked = run_in(images, "sh", "-c", probe, *BUILD_MOUNTS)
    assert leaked.returncode == 0 and leaked.stdout.strip() == "", leaked
    assert run_in(images, "tini", "--version").returncode == 0


@pytest.mark.parametrize(
    ("sha", "message"),
    [("0" * 64, "FAILED"), ("", "SURGE_SHA256 is required")],
    ids=["wrong-checksum", "no-checksum"],
)
def test_upstream_surge_is_refused_without_its_checksum(
    images: Images, sha: str, message: str
) -> None:
    """The Surge step runs before the package is copied, so this fails in seconds."""
    podman = engine()
    flags = list(podman.run_flags)
    if podman.command[0] == "podman":
        flags += ["--ignorefile", str(ROOT / "images" / "redis.Dockerfile.dockerignore")]
    done = podman(
        "build", *flags, "--target", "build",
        "--build-arg", f"PYTHON_IMAGE={images.worker.base}",
        "--build-arg", "SURGE_VERSION=0.0",
        "--build-arg", f"SURGE_SHA256={sha}",
        "--build-arg", "SURGE_URL=file:///bin/true",
        "-f", str(ROOT / "images" / "worker.Dockerfile"), str(ROOT / "images"),
        check=False, timeout=900,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


# ------------------------------------------------------------------------ the distributed run


@dataclass
class Stack:
    engine: Engine
    prefix: str
    network: str
    redis_url: str
    scheduler: str
    emulator: str
    workers: list[str]


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def stack(images: Images) -> Iterator[Stack]:
    podman = engine()
    prefix = fresh_prefix("ct")
    network = prefix
    names: list[str] = []
    podman("network", "create", network)
    try:
        password = secrets.token_hex(16)
        names.append(f"{prefix}-redis")
        podman.run_detached(
            names[-1], "--network", network, images.redis.image,
            "redis-server", "--requirepass", password, "--appendonly", "no",
            "--protected-mode", "no",
        )  # fmt: skip
        redis_url = f"redis://:{password}@{podman.ip_of(names[-1], network)}:6379/0"

        names.append(f"{prefix}-gcs")
        binary = emulator_binary()
        podman.run_detached(
            names[-1], "--network", network,
            "-v", f"{binary}:/usr/local/bin/fake-gcs-server:ro",
            "--entrypoint", "/usr/local/bin/fake-gcs-server", images.worker.image,
            "-scheme", "http", "-host", "0.0.0.0", "-port", "4443", "-backend", "memory",
            "-log-level", "error",
        )  # fmt: skip
        emulator = f"http://{podman.ip_of(names[-1], network)}:4443"
        _wait_http(f"{emulator}/storage/v1/b")

        names.append(f"{prefix}-scheduler")
        podman.run_detached(
            names[-1], "--network", network, "--read-only", *podman.scratch,
            images.worker.image, "dask", "scheduler", "--host", "0.0.0.0", "--port", "8786",
            "--dashboard-address", ":8787",
        )  # fmt: skip
        scheduler_ip = podman.ip_of(names[-1], network)
        _wait_http(f"http://{scheduler_ip}:8787/health")
        scheduler = f"tcp://{scheduler_ip}:8786"

        workers = []
        for index in (1, 2):
            names.append(f"{prefix}-worker-{index}")
            workers.append(names[-1])
            podman.run_detached(
                names[-1], "--network", network, "--read-only", *podman.scratch,
                "-e", f"STORAGE_EMULATOR_HOST={emulator}",
                images.worker.image, "dask", "worker", scheduler, "--nworkers", "1",
                "--nthreads", "1", "--name", names[-1], "--local-directory", "/scratch",
                "--no-dashboard",
            )  # fmt: skip
        yield Stack(podman, prefix, network, redis_url, scheduler, emulator, workers)
    finally:
        for name in reversed(names):
            logs = podman("logs", "--tail", "30", name, check=False)
            print(f"--- {name}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("network", "rm", network, check=False)


def create_bucket(emulator: str, name: str) -> None:
    request = urllib.request.Request(
        f"{emulator}/storage/v1/b?project=test",
        data=f'{{"name": "{name}"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def reference_le7() -> tuple[dict[str, int], set[str]]:
    """Hill formula -> count, and the formulae Surge refused, from the reference table."""
    counts: dict[str, int] = {}
    refused: set[str] = set()
    for (formula, options), count in reference_counts().items():
        if options:
            continue
        hill = parse_formula(formula).hill
        if count == "error":
            refused.add(hill)
        else:
            counts[hill] = int(count)
    return counts, refused


def test_distributed_run_across_containers_survives_a_killed_worker(
    stack: Stack, tmp_path: Path
) -> None:
    bucket = f"ct-{uuid.uuid4().hex[:10]}"
    create_bucket(stack.emulator, bucket)
    output = f"gs://{bucket}/runs"
    env = {
        **os.environ,
        "CLOUDSURGE_REDIS_URL": stack.redis_url,
        "STORAGE_EMULATOR_HOST": stack.emulator,
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }
    command = [
        sys.executable, "-m", "cloudsurge_dask", "run",
        "--scheduler", stack.scheduler, "--output", output,
        "--max-heavy-atoms", str(HEAVY_ATOMS),
        # ~2,400 tasks of at most 4 formulae (the default plan makes 46 and the run takes ~5 s)
        # and short leases, so the kill lands mid-run and its tasks are taken over soon
        "--shard-formulae", "4", "--lease-seconds", "5", "--batch-size", "1",
    ]  # fmt: skip
    started = time.monotonic()
    client = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    killed: dict[str, float] = {}

    def read_stderr() -> None:
        assert client.stderr is not None
        for line in client.stderr:
            lines.append(line)

    def killer() -> None:
        # the Redis is this test's own: the one job on it is the run's
        connection = redis.Redis.from_url(stack.redis_url)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and client.poll() is None:
            keys = connection.keys("cloudsurge:*:progress")
            if keys:
                total, done = (int(v or 0) for v in connection.hmget(keys[0], ["total", "done"]))
                if total and done >= total // 5:
                    stack.engine("kill", stack.workers[0])
                    killed.update(total=total, done=done, at=time.monotonic() - started)
                    return
            time.sleep(0.05)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    stdout, _ = client.communicate(timeout=1500)
    reader.join(timeout=10)
    kill_thread.join(timeout=10)
    seconds = time.monotonic() - started
    log = "".join(lines)
    assert client.returncode == 0, log[-5000:]
    job = stdout.strip().splitlines()[-1]
    assert killed, f"no worker container was killed: {log[-3000:]}"
    assert killed["done"] < killed["total"], f"the kill came after the run had finished: {killed}"
    state = stack.engine("inspect", "-f", "{{.State.Running}}", stack.workers[0]).stdout
    assert state.strip() == "false"
    print(f"\nrun across containers: {seconds:.1f} s; worker killed at {killed['at']:.1f} s")

    verified = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "verify", job, "--output", output],
        env={k: v for k, v in env.items() if k != "CLOUDSURGE_REDIS_URL"},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr[-3000:]
    assert "OK" in verified.stdout

    target = tmp_path / "records.parquet"
    exported = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "export", job, "--output", output,
         "--to", str(target)],
        env={k: v for k, v in env.items() if k != "CLOUDSURGE_REDIS_URL"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr[-3000:]
    frame = pd.read_parquet(target)
    counts, refused = reference_le7()
    assert frame["formula"].is_unique, frame[frame["formula"].duplicated()]
    ours = {f for f in set(counts) | refused if set(re.findall(r"[A-Z][a-z]?", f)) <= ELEMENTS}
    assert len(frame) == 9660 and set(frame["formula"]) == ours
    ok = frame[frame["status"] == TaskStatus.OK]
    assert set(ok["formula"]) == ours - refused
    wrong = [
        (formula, structures, counts[formula])
        for formula, structures in zip(ok["formula"], ok["structures"], strict=True)
        if structures != counts[formula]
    ]
    assert not wrong, wrong[:20]
    assert set(frame.loc[frame["status"] != TaskStatus.OK, "status"]) <= {TaskStatus.REJECTED}
    # the killed container had worked before it died; the survivor finished the job
    workers = set(frame["worker"])
    assert len(workers) >= 2, workers
    print(f"{len(frame)} formulae, {int(ok['structures'].sum()):,} structures, workers {workers}")
