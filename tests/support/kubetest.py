"""The test Kubernetes of scripts/test-kubernetes.sh, ready for a run: for the kubernetes suite
(tests/kubernetes/test_kubernetes_live.py) and `benchmarks/pods.py --cluster kubernetes`.

Every client of it is a user outside the cluster with the least-privilege Role only: its
kubeconfig holds a token (TokenRequest API) of the ServiceAccount `cloudsurge-client`, bound
to the rendered Role; the harness itself (applying manifests, injecting faults) is the
cluster's admin, whose kubeconfig it puts in KUBECONFIG of this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
import yaml

from support.containers import ROOT, build, engine
from support.fixture_gcs import _binary as emulator_binary

SCRIPT = ROOT / "scripts" / "test-kubernetes.sh"
KUBE_DIR = Path(os.environ.get("CLOUDSURGE_K8S_DIR", "/var/tmp/cloudsurge-kube"))
KUBECTL = str(KUBE_DIR / "bin" / "kubectl")  # built with the cluster, of its release
CLIENT = "cloudsurge-client"  # the rendered ServiceAccount, Role and RoleBinding
EMULATOR = "http://10.244.0.1:4443"  # the pod bridge's gateway (scripts/test-kubernetes.sh)
WORKER_IMAGE = "localhost/cloudsurge-worker:k8s"
TEST_IMAGE = "localhost/cloudsurge-worker:k8s-emulator"


def script(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done.stdout + done.stderr


def kubectl(
    *args: str, check: bool = True, timeout: float = 300, input_text: str | None = None
) -> str:
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(KUBE_DIR / "admin.kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=input_text,
    )
    if check:
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def cli(*args: str, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        cwd=ROOT,
    )


@dataclass
class Cluster:
    namespace: str
    password: str
    redis_url: str  # through the Service's cluster IP: the harness's own (this is the node)
    in_cluster_url: str  # the Redis Secret's URL, which a client forwards (--redis-forward)
    env: dict[str, str]  # a client's: KUBECONFIG of the ServiceAccount bound to the Role
    figures: dict[str, float] = field(default_factory=dict)
    seen_pods: dict[str, dict[str, object]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_redis(url: str, seconds: float = 60) -> None:
    """Until Redis answers at `url`: a Service address answers nothing (or, before kube-proxy
    has its rule, whatever the route reaches; see `up`) until then."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=2).ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def create_bucket(name: str) -> None:
    request = urllib.request.Request(
        f"{EMULATOR}/storage/v1/b?project=test",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def account_kubeconfig(admin: str, namespace: str, account: str, out: Path) -> Path:
    """A kubeconfig as a user of the Role has it: the API server and its CA from the admin's,
    a token of `account` from the TokenRequest API (`kubectl create token`), nothing else."""
    config = yaml.safe_load(Path(admin).read_text())
    (server,) = config["clusters"]
    token = kubectl("create", "token", account, "-n", namespace, "--duration=3h").strip()
    context = {"cluster": server["name"], "user": account, "namespace": namespace}
    out.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [server],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": context}], "current-context": account,
    }))  # fmt: skip
    out.chmod(0o600)
    return out


@contextlib.contextmanager
def open_test_cluster(work: Path) -> Iterator[Cluster]:
    """The test cluster up (and `down` afterwards if it was down), the images loaded, the GCS
    emulator, and a fresh namespace with the rendered Redis and RBAC and a client kubeconfig;
    everything of it removed at the end (the emulator by its PID)."""
    figures: dict[str, float] = {}
    was_up = "kube-apiserver running" in script("status")
    started = time.monotonic()
    script("up")
    figures["cluster_up_seconds"] = time.monotonic() - started
    kubeconfig = script("kubeconfig").strip().splitlines()[-1]
    os.environ["KUBECONFIG"] = kubeconfig
    worker = build("--tag", WORKER_IMAGE)
    figures["image_build_seconds"] = worker.seconds
    figures["image_megabytes"] = worker.bytes / 1e6
    redis_image = build("--redis").image
    (work / "Containerfile").write_text(
        f"FROM {WORKER_IMAGE}\nENV STORAGE_EMULATOR_HOST={EMULATOR}\n"
    )
    engine()("build", "-t", TEST_IMAGE, "-f", str(work / "Containerfile"), str(work))
    started = time.monotonic()
    script("load", TEST_IMAGE, redis_image)
    figures["image_import_seconds"] = time.monotonic() - started

    emulator = subprocess.Popen(
        [
            str(emulator_binary()), "-scheme", "http", "-host", "10.244.0.1", "-port", "4443",
            "-backend", "memory", "-log-level", "error",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    namespace = f"cloudsurge-kt-{uuid.uuid4().hex[:6]}"
    volume = work / "redis-volume"
    volume.mkdir()
    os.chown(volume, 999, 999)
    password = secrets.token_hex(16)
    try:
        wait_http(f"{EMULATOR}/storage/v1/b")
        env = {
            **os.environ,
            "KUBECONFIG": kubeconfig,
            "STORAGE_EMULATOR_HOST": EMULATOR,
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        }
        env.pop("CLOUDSURGE_REDIS_URL", None)
        rendered = work / "rendered"
        done = cli(
            "manifests", "--namespace", namespace, "--image", TEST_IMAGE,
            "--redis-image", redis_image, "--redis-storage", "1Gi", "--redis-memory", "512Mi",
            "--out", str(rendered), env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        kubectl("apply", "-f", str(rendered / "namespace.yaml"))
        # the volume: this test cluster has no provisioner, so one hostPath PersistentVolume
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-redis", "labels": {"cloudsurge-test": namespace}},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "hostPath": {"path": str(volume), "type": "Directory"},
            },
        }
        kubectl("apply", "-f", "-", input_text=json.dumps(pv))
        url = f"redis://:{password}@cloudsurge-redis.{namespace}.svc.cluster.local:6379/0"
        kubectl(
            "create", "secret", "generic", "cloudsurge-redis", "-n", namespace,
            f"--from-literal=password={password}", f"--from-literal=url={url}",
        )  # fmt: skip
        for name in ("redis.yaml", "rbac.yaml"):
            kubectl("apply", "-f", str(rendered / name))
        env["KUBECONFIG"] = str(
            account_kubeconfig(kubeconfig, namespace, CLIENT, work / "client.kubeconfig")
        )
        started = time.monotonic()
        kubectl(
            "rollout", "status", "statefulset/cloudsurge-redis", "-n", namespace,
            "--timeout=300s", timeout=320,
        )  # fmt: skip
        ip = kubectl(
            "get", "svc", "cloudsurge-redis", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
        )
        wait_redis(f"redis://:{password}@{ip}:6379/0")  # kube-proxy's rules lag the endpoint
        figures["redis_ready_seconds"] = time.monotonic() - started
        state = Cluster(
            namespace, password, f"redis://:{password}@{ip}:6379/0", url, env, figures
        )
        yield state
    finally:
        kubectl("delete", "namespace", namespace, "--timeout=180s", check=False, timeout=200)
        kubectl("delete", "pv", f"{namespace}-redis", check=False)
        emulator.terminate()
        emulator.wait(timeout=10)
        engine()("rmi", TEST_IMAGE, check=False)
        if not was_up:
            script("down")
