"""A detached run's DaskJob: the run's client in a pod of the cluster, beside its own
scheduler and workers (the dask-kubernetes operator's `DaskJob` resource).

The job is queued from the user's machine (where its formulae are made); the job pod then
runs `run --resume JOB` against the DaskJob's own scheduler. Every setting reaches it as its
declared `CLOUDSURGE_*` variable, never in a shell line, and the Redis URL from its Secret as
the workers get it. The pod runs as the client's ServiceAccount (the least-privilege Role's,
which also carries the storage identity under Workload Identity) without an API token: it
reaches its scheduler by the Service name and needs nothing else of the API. When the job
pod ends, the operator deletes the DaskJob's cluster; the DaskJob and its ended pod stay, with
the client's log, until deleted (`kubectl delete daskjob NAME`).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from ..declaration import declared
from ..errors import ClusterError
from ..settings import ClusterKind, Settings
from .daskcluster import kube_cluster_spec
from .kubefailure import explain
from .kubeobjects import CLIENT_NAME, LABELS, dns_name, harden_pod, resources, worker_env

API_VERSION = "kubernetes.dask.org/v1"
JOB_LABEL = "cloudsurge/job"  # on the DaskJob, and from it on its cluster's and job's pods
# the client only drives the job (its formulae are made before it starts): a quarter of a
# core; memory for the records of a large job, gathered at its end
CLIENT_RESOURCES = resources("250m", "2Gi", "1Gi")
# settings of the user's machine that mean nothing in the pod, or that the pod gets otherwise
# (a forward to Redis from outside the cluster, where it is set, included)
NOT_PASSED = frozenset(
    {"redis_url", "redis_forward", "scheduler", "cluster", "detach", "workers", "redis_bind"}
)


def daskjob_name(job: str) -> str:
    """A fresh name per start of the job (a resumed job gets a DaskJob of its own); with the
    operator's `-scheduler` suffix it is still a valid Service name."""
    return dns_name(f"cloudsurge-{job}-{secrets.token_hex(2)}")


def scheduler_address(name: str, namespace: str) -> str:
    """The scheduler of DaskJob `name`, as the operator names its Service (and sets it in the
    job pod's DASK_SCHEDULER_ADDRESS)."""
    return f"tcp://{name}-scheduler.{namespace}.svc.cluster.local:8786"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def passed_settings(settings: Settings, name: str) -> dict[str, str]:
    """The client's settings as the variables the pod's `run` reads: where it runs (its
    DaskJob's scheduler, on Kubernetes) and every setting of `run` given here that is not
    stored with the job (those the job pod reads from Redis, as every worker does)."""
    passed = {
        "CLOUDSURGE_CLUSTER": ClusterKind.KUBERNETES.value,
        "CLOUDSURGE_SCHEDULER": scheduler_address(name, settings.namespace),
    }
    defaults = Settings()
    for item in declared(Settings):
        if item.stored or item.name in NOT_PASSED or "run" not in item.commands:
            continue
        if item.group == "Slurm":
            continue
        value = getattr(settings, item.name)
        if value is None or (value == getattr(defaults, item.name) and item.name != "output"):
            continue
        passed[item.variable] = _text(value)
    return passed


def client_pod(settings: Settings, job: str, name: str) -> dict[str, Any]:
    """The job pod: `run --resume JOB`, hardened as every pod of ours, never restarted (a
    client that ends, however, has saved what it could; `run --resume` goes on)."""
    env = worker_env(settings.redis_secret, settings.storage_secret)
    env += [{"name": key, "value": value} for key, value in passed_settings(settings, name).items()]
    container = {
        "name": "client",
        "image": settings.image,
        "args": ["python", "-m", "cloudsurge_dask", "run", "--resume", job],
        "env": env,
        "resources": CLIENT_RESOURCES,
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": CLIENT_NAME,
        "containers": [container],
    }
    harden_pod(pod, CLIENT_RESOURCES["requests"]["ephemeral-storage"], settings.storage_secret)
    return pod


def render_daskjob(settings: Settings, job: str, name: str) -> dict[str, Any]:
    """The DaskJob of one start of a detached run: its client pod and its cluster (the
    scheduler and workers of an attached run, from the same spec)."""
    cluster = kube_cluster_spec(settings, name)
    labels = {**LABELS, JOB_LABEL: job}
    return {
        "apiVersion": API_VERSION,
        "kind": "DaskJob",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": labels},
        "spec": {
            "job": {"spec": client_pod(settings, job, name)},
            "cluster": {"spec": cluster["spec"]},
        },
    }


def submit_daskjob(manifest: dict[str, Any], settings: Settings) -> None:
    """Create the DaskJob through kr8s' public API for custom resources; a refusal (RBAC,
    no operator, no cluster) is one ClusterError that says what to do."""
    from kr8s.asyncio.objects import new_class

    kind = new_class("DaskJob", version=API_VERSION, namespaced=True)

    async def create() -> None:
        resource = await kind(manifest, namespace=settings.namespace)
        await resource.create()

    try:
        asyncio.run(asyncio.wait_for(create(), settings.cluster_timeout or None))
    except Exception as exc:
        raise ClusterError(explain(exc, settings, manifest["metadata"]["name"])) from exc
