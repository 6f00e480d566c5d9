"""A real Kubernetes: `pytest -m kubernetes` (not in the default run; see docs/gke.md).

scripts/test-kubernetes.sh starts a single-node Kubernetes 1.34 here (built once from the Go
module k8s.io/kubernetes; up in ~30 s) with cluster DNS for the pods and the Dask operator;
the images from scripts/build-image.sh are imported into its containerd. The GCS emulator
runs on this machine at the pod bridge's gateway, reachable from pods and from here; pods
find it through STORAGE_EMULATOR_HOST, set in a test-only image that adds that one ENV line
to the worker image (the product renders no way to add environment to pods, and on GKE none
is needed).

Every client here is a user outside the cluster with the least-privilege Role only: its
kubeconfig holds a token (TokenRequest API) of the ServiceAccount `cloudsurge-client`, bound
to the rendered Role; it reaches the scheduler through dask-kubernetes' own port-forward and
Redis through `--redis-forward` (this machine resolves no cluster name). The test harness
itself (applying manifests, injecting faults) is the cluster's admin.

In order: the rendered manifests applied (Redis StatefulSet with its volume, Secret, RBAC);
a client whose Role lacks one permission refused in one line, leaving nothing; `run
--cluster kubernetes` with 2 worker pods for every formula up to 7 heavy atoms while a worker
pod is deleted and the Redis pod restarted, then `verify` and exact counts; the plain Job
(`enqueue`, `manifests --job`, `kubectl apply`) and `verify` from its output folder alone;
nothing of the runs left, every request of the client allowed by its Role, and no credential
in a pod spec, a log or the image.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis
import yaml
from support.containers import ROOT, engine
from support.kubetest import (
    CLIENT,
    KUBE_DIR,
    KUBECTL,
    TEST_IMAGE,
    WORKER_IMAGE,
    Cluster,
    account_kubeconfig,
    cli,
    create_bucket,
    kubectl,
    open_test_cluster,
)
from support.refdata import reference_counts

from cloudsurge_dask.clusters import clusterphase
from cloudsurge_dask.clusters.daskcluster import kube_cluster_spec
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.settings import Settings

pytestmark = [pytest.mark.kubernetes, pytest.mark.timeout(3600)]

ELEMENTS = {"C", "N", "O", "S", "F", "Cl", "Br", "I", "H"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with open_test_cluster(tmp_path_factory.mktemp("k8s")) as state:
        yield state
        print("\nkubernetes figures:", json.dumps(state.figures, indent=1))


def reference_le7() -> tuple[dict[str, int], set[str]]:
    counts: dict[str, int] = {}
    refused: set[str] = set()
    for (formula, options), count in reference_counts().items():
        hill = parse_formula(formula).hill
        if options or not set(re.findall(r"[A-Z][a-z]?", hill)) <= ELEMENTS:
            continue
        if count == "error":
            refused.add(hill)
        else:
            counts[hill] = int(count)
    return counts, refused


def check_records(cluster: Cluster, job: str, output: str, heavy: int) -> pd.DataFrame:
    """`verify` and `export` from the output folder alone (no Redis: `run`, and the plain
    Job's last worker, leave records.parquet and job.json there), then every formula once
    with its reference count."""
    env = {k: v for k, v in cluster.env.items() if k != "CLOUDSURGE_REDIS_URL"}
    target = Path(cluster.env.get("TMPDIR", "/tmp")) / f"{job}.parquet"
    verified = cli("verify", job, "--output", output, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr[-3000:]
    assert "OK" in verified.stdout
    status = cli("status", job, "--output", output, env=env)
    assert status.stdout.startswith(f"job {job}: finished"), status.stdout + status.stderr
    exported = cli("export", job, "--output", output, "--to", str(target), env=env)
    assert exported.returncode == 0, exported.stderr[-3000:]
    frame = pd.read_parquet(target)
    target.unlink()
    counts, refused = reference_le7()
    heavy_of = {f: sum(int(n or 1) for e, n in re.findall(r"([A-Z][a-z]?)(\d*)", f) if e != "H")
                for f in set(counts) | refused}  # fmt: skip
    expected = {f for f, n in heavy_of.items() if n <= heavy}
    assert frame["formula"].is_unique, frame[frame["formula"].duplicated()]
    assert set(frame["formula"]) == expected
    ok = frame[frame["status"] == TaskStatus.OK]
    assert set(ok["formula"]) == expected - refused
    wrong = [(f, s, counts[f]) for f, s in zip(ok["formula"], ok["structures"], strict=True)
             if s != counts[f]]  # fmt: skip
    assert not wrong, wrong[:20]
    assert set(frame.loc[frame["status"] != TaskStatus.OK, "status"]) <= {TaskStatus.REJECTED}
    return frame


def snapshot_pods(cluster: Cluster) -> None:
    """Remember every pod spec and log of the namespace (pods of a run go away with it)."""
    listing = json.loads(kubectl("get", "pods", "-n", cluster.namespace, "-o", "json", check=False)
                         or '{"items": []}')  # fmt: skip
    for pod in listing["items"]:
        name = pod["metadata"]["name"]
        cluster.seen_pods[name] = pod
        log = subprocess.run(
            [KUBECTL, "--kubeconfig", str(KUBE_DIR / "admin.kubeconfig"), "logs",
             "-n", cluster.namespace, name, "--all-containers"],
            capture_output=True, text=True, timeout=60, check=False,
        ).stdout  # fmt: skip
        if log:
            cluster.logs[name] = log


def test_manifests_applied_redis_ready_with_its_volume(cluster: Cluster) -> None:
    ns = cluster.namespace
    claim = json.loads(kubectl("get", "pvc", "data-cloudsurge-redis-0", "-n", ns, "-o", "json"))
    assert claim["status"]["phase"] == "Bound"
    assert (
        kubectl("get", "role,rolebinding,serviceaccount", "-n", ns, "-o", "name").count(
            "cloudsurge-client"
        )
        == 3
    )
    client = redis.Redis.from_url(cluster.redis_url)
    assert client.ping()
    assert client.config_get("appendonly")["appendonly"] == "yes"
    # cluster DNS: a pod reaches Redis by the same name as on GKE
    kubectl(
        "run", "dns-probe", "-n", ns, "--restart=Never", f"--image={TEST_IMAGE}",
        "--image-pull-policy=Never", "--", "python", "-c",
        "import socket; print(socket.gethostbyname('cloudsurge-redis'))",
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while "Succeeded" not in kubectl(
        "get", "pod", "dns-probe", "-n", ns, "-o", "jsonpath={.status.phase}"
    ):
        assert time.monotonic() < deadline, kubectl("describe", "pod", "dns-probe", "-n", ns)
        time.sleep(1)
    probe = kubectl("logs", "dns-probe", "-n", ns)
    kubectl("delete", "pod", "dns-probe", "-n", ns)
    ip = kubectl("get", "svc", "cloudsurge-redis", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")
    assert ip in probe


def run_command(cluster: Cluster, output: str, *more: str) -> list[str]:
    """`run` as a user outside the cluster types it: Redis through --redis-forward."""
    return [
        sys.executable, "-m", "cloudsurge_dask", "run", "--cluster", "kubernetes",
        "--namespace", cluster.namespace, "--image", TEST_IMAGE, "--redis-forward",
        "--pod-cpu", "250m", "--pod-memory", "1Gi", "--pod-ephemeral-storage", "1Gi",
        "--output", output, *more,
    ]  # fmt: skip


def left_of_runs(namespace: str) -> list[str]:
    """DaskClusters, Jobs and pods of the namespace other than Redis."""
    names = kubectl("get", "daskclusters,jobs,pods", "-n", namespace, "-o", "name").split()
    return [name for name in names if name != "pod/cloudsurge-redis-0"]


def test_a_missing_permission_ends_the_run_in_one_line(cluster: Cluster, tmp_path: Path) -> None:
    """The client Role less one grant (get pods/portforward: the WebSocket upgrade of every
    forward, which kr8s would retry without end): the run ends at once, in one line naming
    it, and leaves nothing."""
    ns = cluster.namespace
    role = json.loads(kubectl("get", "role", CLIENT, "-n", ns, "-o", "json"))
    for rule in role["rules"]:
        if rule["resources"] == ["pods/portforward"]:
            rule["verbs"].remove("get")
    partial = "cloudsurge-partial"
    binding = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": partial}
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": partial}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": partial}, "rules": role["rules"]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": partial}, "roleRef": binding,
         "subjects": [{"kind": "ServiceAccount", "name": partial, "namespace": ns}]},
    ]  # fmt: skip
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl("apply", "-n", ns, "-f", "-", input_text=listing)
    try:
        config = account_kubeconfig(
            os.environ["KUBECONFIG"], ns, partial, tmp_path / "partial.kubeconfig"
        )
        env = {**cluster.env, "KUBECONFIG": str(config),
               "CLOUDSURGE_REDIS_URL": cluster.in_cluster_url}  # fmt: skip
        bucket = f"kp-{uuid.uuid4().hex[:10]}"
        create_bucket(bucket)
        started = time.monotonic()
        done = subprocess.run(
            run_command(cluster, f"gs://{bucket}/runs", "--max-heavy-atoms", "3"),
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        cluster.figures["refused_seconds"] = time.monotonic() - started
    finally:
        kubectl("delete", "-n", ns, "-f", "-", input_text=listing, check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"missing Kubernetes permission in namespace {ns}: get pods/portforward " in lines[0]
    assert left_of_runs(ns) == []


SETTLE = """
import logging, sys, time
from cloudsurge_dask.clusters.clusterphase import settled_phase
logging.basicConfig(level=logging.INFO, format="%(message)s")
with settled_phase(sys.argv[1], sys.argv[2]):
    time.sleep(float(sys.argv[3]))
"""


def test_a_daskcluster_left_pending_by_the_operator_is_set_running(cluster: Cluster) -> None:
    """dask/dask-kubernetes#968: the operator may write Pending over the Running its Service
    handler set. With the client's Role only, `settled_phase` sets such a cluster Running;
    a LoadBalancer Service without an address (none ever gets one here) keeps it Pending."""
    ns = cluster.namespace
    settings = Settings(namespace=ns, image=TEST_IMAGE, pods=1, pod_cpu="100m",
                        pod_memory="256Mi", pod_ephemeral_storage="256Mi")  # fmt: skip
    spec = kube_cluster_spec(settings)
    spec["spec"]["worker"]["replicas"] = 0
    name = spec["metadata"]["name"]
    kubectl("apply", "-n", ns, "-f", "-", input_text=json.dumps(spec))

    def phase() -> str:
        return kubectl("get", "daskcluster", name, "-n", ns, "-o", "jsonpath={.status.phase}")

    def settle(seconds: float) -> str:
        done = subprocess.run(
            [sys.executable, "-c", SETTLE, name, ns, str(seconds)], env=cluster.env, cwd=ROOT,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stderr

    try:
        deadline = time.monotonic() + 120
        while not kubectl("get", "svc", f"{name}-scheduler", "-n", ns, check=False):
            assert time.monotonic() < deadline, phase()
            time.sleep(1)
        overwrite = json.dumps({"status": {"phase": "Pending"}})
        kubectl("patch", "daskcluster", name, "-n", ns, "--type", "merge", "-p", overwrite)
        assert phase() == "Pending"
        said = settle(8 + clusterphase.GRACE_SECONDS)
        assert phase() == "Running", said
        assert "dask/dask-kubernetes#968" in said
        kubectl("patch", "svc", f"{name}-scheduler", "-n", ns, "--type", "merge",
                "-p", json.dumps({"spec": {"type": "LoadBalancer"}}))  # fmt: skip
        kubectl("patch", "daskcluster", name, "-n", ns, "--type", "merge", "-p", overwrite)
        said = settle(4 + clusterphase.GRACE_SECONDS)
        assert phase() == "Pending", said
        assert "#968" not in said
    finally:
        kubectl("delete", "daskcluster", name, "-n", ns, "--wait=true", "--timeout=120s",
                check=False)  # fmt: skip


def test_run_on_kubernetes_survives_pod_deletion_and_redis_restart(cluster: Cluster) -> None:
    """From outside the cluster, with the Role only: the scheduler through dask-kubernetes'
    port-forward, Redis through the client's own forward, re-made when its pod is replaced."""
    bucket = f"kt-{uuid.uuid4().hex[:10]}"
    create_bucket(bucket)
    output = f"gs://{bucket}/runs"
    ns = cluster.namespace
    env = {**cluster.env, "CLOUDSURGE_REDIS_URL": cluster.in_cluster_url}
    with pytest.raises(socket.gaierror):  # no name of the cluster resolves here
        socket.getaddrinfo(f"cloudsurge-redis.{ns}", 6379)
    command = run_command(
        cluster, output, "--pods", "2", "--processes-per-pod", "1", "--max-heavy-atoms", "7",
        "--cluster-timeout", "600", "--shard-formulae", "4", "--lease-seconds", "10",
        "--batch-size", "1",
    )  # fmt: skip
    started = time.monotonic()
    client = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    faults: list[str] = []

    def inject() -> None:
        connection = redis.Redis.from_url(cluster.redis_url, socket_timeout=2)
        deadline = time.monotonic() + 1500
        stage = 0
        while stage < 2 and time.monotonic() < deadline and client.poll() is None:
            try:
                keys = connection.keys("cloudsurge:*:progress")
                values = connection.hmget(keys[0], ["total", "done"]) if keys else [0, 0]
            except redis.RedisError:
                time.sleep(0.5)
                continue
            total, done = (int(v or 0) for v in values)
            if stage == 0 and total and done >= total // 10:
                snapshot_pods(cluster)
                pods = kubectl(
                    "get", "pods", "-n", ns, "-l", "dask.org/component=worker", "-o", "name"
                ).split()
                kubectl("delete", "-n", ns, pods[0], "--wait=false")
                faults.append(f"deleted {pods[0]} at {done}/{total}")
                stage = 1
            elif stage == 1 and total and done >= total * 4 // 10:
                kubectl("delete", "-n", ns, "pod/cloudsurge-redis-0", "--wait=false")
                faults.append(f"restarted Redis at {done}/{total}")
                stage = 2
            time.sleep(0.1)

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    stdout, stderr = client.communicate(timeout=3000)
    injector.join(timeout=30)
    seconds = time.monotonic() - started
    assert client.returncode == 0, stderr[-6000:]
    assert len(faults) == 2, (faults, stderr[-3000:])
    job = stdout.strip().splitlines()[-1]
    cluster.figures["run_seconds"] = seconds
    cluster.figures["faults"] = len(faults)
    print(f"\nrun --cluster kubernetes: {seconds:.0f} s; faults: {faults}")
    frame = check_records(cluster, job, output, 7)
    cluster.figures["formulae"] = len(frame)
    cluster.figures["structures"] = int(frame["structures"].sum())
    cluster.figures["workers_seen"] = frame["worker"].nunique()
    assert frame["attempts"].max() >= 1
    # the run's DaskCluster and its pods are gone
    deadline = time.monotonic() + 120
    while kubectl("get", "daskclusters,pods", "-n", ns, "-l", "dask.org/cluster-name",
                  "-o", "name").strip() and time.monotonic() < deadline:  # fmt: skip
        time.sleep(2)
    assert kubectl("get", "daskclusters", "-n", ns, "-o", "name").strip() == ""
    assert kubectl("get", "pods", "-n", ns, "-l", "dask.org/cluster-name", "-o", "name") == ""
    kubectl("rollout", "status", "statefulset/cloudsurge-redis", "-n", ns, "--timeout=120s")


def test_ctrl_c_while_the_cluster_starts_ends_at_once_and_leaves_nothing(cluster: Cluster) -> None:
    """SIGINT once the job is queued while KubeCluster still waits for its scheduler (whose
    image no registry has: it never starts): the run ends as interrupted in seconds, not after
    --cluster-timeout, with the resume command; its DaskCluster is deleted (the operator then
    takes ~70 s to let it go: its timer's finalizer)."""
    bucket = f"ki-{uuid.uuid4().hex[:10]}"
    create_bucket(bucket)
    ns = cluster.namespace
    env = {**cluster.env, "CLOUDSURGE_REDIS_URL": cluster.in_cluster_url}
    command = run_command(cluster, f"gs://{bucket}/runs", "--pods", "1", "--max-heavy-atoms",
                          "4", "--cluster-timeout", "600", "--image",
                          "localhost/cloudsurge-absent:0")  # fmt: skip
    client = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    said: list[str] = []
    stream = client.stderr
    assert stream is not None
    reader = threading.Thread(target=lambda: said.extend(iter(stream.readline, "")))
    reader.start()
    deadline = time.monotonic() + 180
    while not (any("formulae queued" in line for line in said)
               and kubectl("get", "daskclusters", "-n", ns, "-o", "name").strip()):  # fmt: skip
        assert client.poll() is None and time.monotonic() < deadline, "".join(said)
        time.sleep(0.2)
    client.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    client.wait(timeout=300)
    reader.join(timeout=30)
    seconds = time.monotonic() - interrupted
    stderr = "".join(said)
    cluster.figures["interrupted_start_seconds"] = seconds
    assert client.returncode == 130, stderr[-3000:]
    assert "interrupted by SIGINT" in stderr and "--resume" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert seconds < 60, (seconds, stderr[-3000:])
    deadline = time.monotonic() + 240
    while left_of_runs(ns):
        assert time.monotonic() < deadline, left_of_runs(ns)
        time.sleep(2)
    cluster.figures["interrupted_cluster_gone_seconds"] = time.monotonic() - interrupted


def test_plain_job_drains_a_queue(cluster: Cluster, tmp_path: Path) -> None:
    bucket = f"kj-{uuid.uuid4().hex[:10]}"
    create_bucket(bucket)
    output = f"gs://{bucket}/runs"
    env = {**cluster.env, "CLOUDSURGE_REDIS_URL": cluster.redis_url}
    listing = tmp_path / "formulae.txt"
    made = cli("formulae", "--max-heavy-atoms", "5", "--out", str(listing), env=env)
    assert made.returncode == 0, made.stderr
    queued = cli("enqueue", str(listing), "--output", output, env=env)
    assert queued.returncode == 0, queued.stderr
    job = queued.stdout.strip().splitlines()[-1]
    rendered = tmp_path / "rendered"
    done = cli(
        "manifests", "--namespace", cluster.namespace, "--image", TEST_IMAGE, "--job", job,
        "--parallelism", "2", "--pod-cpu", "250m", "--pod-memory", "1Gi", "--out", str(rendered),
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (job_doc,) = [d for d in yaml.safe_load_all((rendered / "job.yaml").read_text()) if d]
    name = job_doc["metadata"]["name"]
    started = time.monotonic()
    kubectl("apply", "-f", str(rendered / "job.yaml"))
    kubectl(
        "wait", "-n", cluster.namespace, f"job/{name}", "--for=condition=complete",
        "--timeout=900s", timeout=920,
    )  # fmt: skip
    cluster.figures["job_seconds"] = time.monotonic() - started
    snapshot_pods(cluster)
    frame = check_records(cluster, job, output, 5)
    cluster.figures["job_formulae"] = len(frame)
    # the rendered Job keeps itself a day for inspection (ttlSecondsAfterFinished); delete it
    # as the guide does once its records are collected, with its pods
    kubectl("delete", "-n", cluster.namespace, f"job/{name}", "--wait=true", "--timeout=120s")
    deadline = time.monotonic() + 120
    while kubectl("get", "pods", "-n", cluster.namespace, "-l", f"job-name={name}", "-o", "name"):
        assert time.monotonic() < deadline, "the Job's pods were not removed"
        time.sleep(2)


def client_requests(namespace: str, account: str) -> list[dict[str, Any]]:
    """What `account` asked the API server, from its audit log (scripts/test-kubernetes.sh)."""
    user = f"system:serviceaccount:{namespace}:{account}"
    events = []
    for path in sorted(KUBE_DIR.glob("logs/audit*.log")):
        for line in path.read_text().splitlines():
            if user in line:
                event = json.loads(line)
                if event["user"]["username"] == user:
                    events.append(event)
    return events


def test_every_request_of_the_client_was_allowed_by_its_role(cluster: Cluster) -> None:
    events = client_requests(cluster.namespace, CLIENT)
    refused = [(e["verb"], e["requestURI"]) for e in events
               if e.get("responseStatus", {}).get("code") in (401, 403)]  # fmt: skip
    assert not refused, refused
    forwarded = [e["objectRef"]["name"] for e in events
                 if e.get("objectRef", {}).get("subresource") == "portforward"]  # fmt: skip
    assert "cloudsurge-redis-0" in forwarded, sorted(set(forwarded))
    schedulers = [n for n in forwarded if n.endswith("-scheduler") or "-scheduler-" in n]
    assert schedulers, sorted(set(forwarded))


def test_nothing_of_the_runs_left_and_no_credential_anywhere(cluster: Cluster) -> None:
    ns = cluster.namespace
    snapshot_pods(cluster)
    assert kubectl("get", "daskclusters,jobs", "-n", ns, "-o", "name").strip() == ""
    left = kubectl("get", "pods", "-n", ns, "-o", "name").split()
    assert left == ["pod/cloudsurge-redis-0"], left
    assert len(cluster.seen_pods) >= 4, sorted(cluster.seen_pods)
    for name, pod in cluster.seen_pods.items():
        text = json.dumps(pod)
        assert cluster.password not in text, f"password in the spec of {name}"
        for container in pod["spec"]["containers"]:  # type: ignore[index]
            for variable in container.get("env", []):
                if variable["name"] in ("CLOUDSURGE_REDIS_URL", "REDIS_PASSWORD", "REDISCLI_AUTH"):
                    assert "valueFrom" in variable and "value" not in variable, (name, variable)
    for name, log in cluster.logs.items():
        assert cluster.password not in log, f"password in the log of {name}"
    assert cluster.logs, "no pod log was read"
    podman = engine()
    for image in (WORKER_IMAGE, TEST_IMAGE):
        config = podman("image", "inspect", image).stdout
        history = podman("history", "--no-trunc", image).stdout
        assert cluster.password not in config + history
        assert not re.search(r"(?i)(password|secret|token|credential)s?=", config + history)
