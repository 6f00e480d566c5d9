"""The Kubernetes objects a run needs besides the DaskCluster, rendered from the user's values.

Nothing site-specific lives in the repository: namespace, image, bucket and service accounts
come from `KubeValues` (the `manifests` subcommand's flags), and Secrets are created by the
user with kubectl (docs/gke.md). The pod helpers here are shared with `daskcluster.py`, so every
pod of ours (Dask workers and scheduler, plain Job pods, Redis) is hardened from the same
values and wired the same way.
"""

from __future__ import annotations

import copy
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml

from ..declaration import check, setting, shared
from ..settings import Settings

RUN_AS = 10001  # the non-root uid/gid of images/worker.Dockerfile
REDIS_UID = 999  # the redis user of the official redis image
SCRATCH = "/scratch"  # the only writable path in our pods (emptyDir); the root fs is read-only
CREDENTIALS_DIR = "/var/secrets/google"
CREDENTIALS_KEY = "key.json"  # key inside the storage Secret
REDIS_URL_KEY = "url"  # key inside the Redis Secret: the in-cluster redis:// URL for workers
REDIS_PASSWORD_KEY = "password"  # key inside the Redis Secret: the server's requirepass
REDIS_NAME = "cloudsurge-redis"  # StatefulSet, Service and default Secret name
CLIENT_NAME = "cloudsurge-client"  # ServiceAccount, Role and RoleBinding of the run's client
WORKER_SERVICE_ACCOUNT = "cloudsurge-worker"  # Kubernetes SA bound to the Google SA
LABELS = {"app.kubernetes.io/part-of": "cloudsurge"}
_READ = ("get", "list", "watch")
# what the run's client does, and all it may do (the Role; clusters/kubeaccess.py asks for each)
CLIENT_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["kubernetes.dask.org"],
        "resources": ["daskclusters", "daskworkergroups", "daskautoscalers", "daskjobs"],
        "verbs": [*_READ, "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": [*_READ]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["get", "create"]},
]


def _manifests_only(default: Any, help: str, kind: Any = click.STRING, **more: Any) -> Any:
    """A setting only the `manifests` subcommand takes (help group Kubernetes)."""
    return setting(default, help, kind, ("manifests",), "Kubernetes", **more)


@dataclass(frozen=True)
class KubeValues:
    """The `manifests` subcommand's values: settings it shares with `run` are the very
    declarations of `Settings`; the rest are declared here."""

    namespace: str = shared(Settings, "namespace")
    image: str = shared(Settings, "image")
    redis_secret: str = shared(Settings, "redis_secret")
    redis_image: str = _manifests_only("redis:7.2.5-bookworm", "Redis image.")
    redis_storage: str = _manifests_only("10Gi", "Size of the Redis volume.")
    redis_memory: str = _manifests_only("1Gi", "Redis memory request and limit.")
    storage_class: str | None = _manifests_only(
        None, "StorageClass of the Redis volume.", shown_default="the cluster's default"
    )
    gcp_service_account: str | None = _manifests_only(
        None, f"Google service account for Workload Identity; renders the "
        f"'{WORKER_SERVICE_ACCOUNT}' Kubernetes service account (then run with "
        f"--service-account {WORKER_SERVICE_ACCOUNT}).",
    )
    storage_secret: str | None = shared(Settings, "storage_secret")
    client_user: str | None = _manifests_only(
        None, "User (e.g. an e-mail) bound to the client Role as well."
    )
    job: str | None = _manifests_only(None, "Job id from `enqueue`: also render the plain Job.")
    parallelism: int = _manifests_only(4, "Pods of the plain Job.", click.IntRange(min=1))
    pod_cpu: str = shared(Settings, "pod_cpu")
    pod_memory: str = shared(Settings, "pod_memory")
    pod_ephemeral_storage: str = shared(Settings, "pod_ephemeral_storage")

    def __post_init__(self) -> None:
        check(self)


def base_env() -> list[dict[str, Any]]:
    """Environment every pod of ours gets: gcsfs without the gRPC probe, writable HOME/TMPDIR."""
    return [
        {"name": "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "value": "false"},
        {"name": "HOME", "value": SCRATCH},
        {"name": "TMPDIR", "value": SCRATCH},
    ]


def worker_env(redis_secret: str, storage_secret: str | None) -> list[dict[str, Any]]:
    """Worker environment: the Redis URL from a Secret, never from the image or a flag."""
    ref = {"secretKeyRef": {"name": redis_secret, "key": REDIS_URL_KEY}}
    env = [{"name": "CLOUDSURGE_REDIS_URL", "valueFrom": ref}, *base_env()]
    if storage_secret:
        path = f"{CREDENTIALS_DIR}/{CREDENTIALS_KEY}"
        env.append({"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": path})
    return env


def pod_security(uid: int) -> dict[str, Any]:
    """The pod-level half of our hardening: non-root as `uid`, the runtime's seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """The container-level half: no privilege escalation, read-only root, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def harden_pod(pod: dict[str, Any], scratch_size: str, storage_secret: str | None = None) -> None:
    """Non-root, no privilege escalation, read-only root with an emptyDir scratch; no API token."""
    pod["automountServiceAccountToken"] = False
    pod["securityContext"] = pod_security(RUN_AS)
    pod["volumes"] = [{"name": "scratch", "emptyDir": {"sizeLimit": scratch_size}}]
    mounts: list[dict[str, Any]] = [{"name": "scratch", "mountPath": SCRATCH}]
    if storage_secret:
        secret = {"secretName": storage_secret, "defaultMode": 0o440}
        pod["volumes"].append({"name": "storage-credentials", "secret": secret})
        mounts.append(
            {"name": "storage-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True}
        )
    container = pod["containers"][0]
    container["securityContext"] = container_security()
    container["volumeMounts"] = mounts


def resources(cpu: str, memory: str, ephemeral: str) -> dict[str, Any]:
    """Requests equal limits: Autopilot bills requests, and Guaranteed pods are evicted last."""
    amounts = {"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeral}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _meta(name: str, values: KubeValues, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": values.namespace, "labels": dict(LABELS), **extra}


def dns_name(text: str) -> str:
    """`text` as a valid object name (RFC 1123 label: lower case, digits, '-', <= 63 chars)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "x"


def render_objects(values: KubeValues) -> list[dict[str, Any]]:
    """Every object to apply, in apply order (namespace first)."""
    return [doc for docs in render_files(values).values() for doc in docs]


def render_files(values: KubeValues) -> dict[str, list[dict[str, Any]]]:
    """The objects to apply, grouped by the file each group is written to."""
    groups = {"redis.yaml": _redis(values), "rbac.yaml": _rbac(values)}
    if values.namespace != "default":
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": values.namespace},
        }
        groups = {"namespace.yaml": [namespace], **groups}
    if values.job:
        groups["job.yaml"] = [_job(values, values.job)]
    return groups


def write_objects(values: KubeValues, out: str | Path) -> list[Path]:
    """Render and write one multi-document YAML file per group; returns the files written."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, docs in render_files(values).items():
        path = folder / filename
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        written.append(path)
    return written


def _redis(values: KubeValues) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": REDIS_NAME, **LABELS}
    secret = values.redis_secret

    def from_secret(name: str) -> dict[str, Any]:
        ref = {"name": secret, "key": REDIS_PASSWORD_KEY}
        return {"name": name, "valueFrom": {"secretKeyRef": ref}}

    ping = {"exec": {"command": ["sh", "-c", "redis-cli ping | grep -q PONG"]}}
    container = {
        "name": "redis",
        "image": values.redis_image,
        "args": shlex.split(
            "redis-server --appendonly yes --dir /data --requirepass $(REDIS_PASSWORD)"
        ),
        "env": [from_secret("REDIS_PASSWORD"), from_secret("REDISCLI_AUTH")],
        "ports": [{"name": "redis", "containerPort": 6379}],
        "readinessProbe": {**ping, "periodSeconds": 5, "timeoutSeconds": 3},
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 20},
        "resources": resources("500m", values.redis_memory, "1Gi"),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": values.redis_storage}},
    }
    if values.storage_class:
        claim["storageClassName"] = values.storage_class
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _meta(REDIS_NAME, values),
        "spec": {
            "serviceName": REDIS_NAME,
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": REDIS_NAME}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(REDIS_UID),
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "data", "labels": labels}, "spec": claim}
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(REDIS_NAME, values),
        "spec": {
            "selector": {"app.kubernetes.io/name": REDIS_NAME},
            "ports": [{"name": "redis", "port": 6379, "targetPort": "redis"}],
        },
    }
    return [statefulset, service]


def _rbac(values: KubeValues) -> list[dict[str, Any]]:
    subjects: list[dict[str, Any]] = [
        {"kind": "ServiceAccount", "name": CLIENT_NAME, "namespace": values.namespace}
    ]
    if values.client_user:
        subjects.append(
            {"kind": "User", "name": values.client_user, "apiGroup": "rbac.authorization.k8s.io"}
        )
    # a detached run's client pod writes the output as this account: Workload Identity too
    identity = {}
    if values.gcp_service_account:
        identity = {"annotations": {"iam.gke.io/gcp-service-account": values.gcp_service_account}}
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(CLIENT_NAME, values, **identity),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _meta(CLIENT_NAME, values),
            "rules": copy.deepcopy(CLIENT_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(CLIENT_NAME, values),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": CLIENT_NAME,
            },
            "subjects": subjects,
        },
    ]
    if values.gcp_service_account:
        annotations = {"iam.gke.io/gcp-service-account": values.gcp_service_account}
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": _meta(WORKER_SERVICE_ACCOUNT, values, annotations=annotations),
            }
        )
    return docs


def _job(values: KubeValues, job: str) -> dict[str, Any]:
    env = worker_env(values.redis_secret, values.storage_secret)
    container = {
        "name": "worker",
        "image": values.image,
        "args": ["python", "-m", "cloudsurge_dask", "worker", job],
        "env": env,
        "resources": resources(values.pod_cpu, values.pod_memory, values.pod_ephemeral_storage),
    }
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    harden_pod(pod, values.pod_ephemeral_storage, values.storage_secret)
    if values.gcp_service_account:
        pod["serviceAccountName"] = WORKER_SERVICE_ACCOUNT
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(dns_name(f"cloudsurge-worker-{job}"), values),
        "spec": {
            "parallelism": values.parallelism,
            "backoffLimit": 2 * values.parallelism,
            "ttlSecondsAfterFinished": 86400,
            "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod},
        },
    }
