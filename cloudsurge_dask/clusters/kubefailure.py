"""What went wrong starting a Dask cluster on Kubernetes, as one line a user can act on.

KubeCluster and kr8s fail in many ways (no credentials, a broken kubeconfig, RBAC, missing
operator CRDs, an unreachable API server, a scheduler that never starts); `explain` reads
the exception and its causes (public attributes and messages only) plus the kubeconfig
itself, and names the fix, with the guide's section to read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import yaml

from ..settings import Settings

GUIDE = "docs/gke.md"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _unreadable_kubeconfig() -> str | None:
    """The first kubeconfig file that exists but holds no clusters (empty or malformed)."""
    listed = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    for name in filter(None, listed.split(os.pathsep)):
        path = Path(name)
        if not path.is_file():
            continue
        try:
            config = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return name
        if not isinstance(config, dict) or not config.get("clusters"):
            return name
    return None


def explain(exc: BaseException, settings: Settings, name: str) -> str:
    """One line saying what went wrong starting the Kubernetes cluster and what to do about it."""
    chain = list(_causes(exc))
    text = " ".join(str(e) for e in chain)
    codes = [getattr(getattr(e, "response", None), "status_code", None) for e in chain]
    kinds = {type(e).__name__ for e in chain}
    ns = settings.namespace
    if "Unable to find valid credentials" in text:
        return (
            "no Kubernetes credentials: set KUBECONFIG or run `gcloud container clusters "
            f"get-credentials CLUSTER --region REGION` (see {GUIDE})"
        )
    where = _unreadable_kubeconfig()
    if where:
        return (
            f"cannot read your kubeconfig ({where}: {type(exc).__name__}: {exc}); it is empty or "
            f"malformed: recreate it with `gcloud container clusters get-credentials` ({GUIDE})"
        )
    if 401 in codes:
        return (
            "the Kubernetes API server rejected your credentials (401): refresh them with "
            f"`gcloud container clusters get-credentials CLUSTER --region REGION` ({GUIDE})"
        )
    if 403 in codes:
        return (
            f"forbidden by Kubernetes RBAC in namespace {ns} (403: {chain[0]}); apply rbac.yaml "
            f"from `python -m cloudsurge_dask manifests --client-user YOU` ({GUIDE})"
        )
    if 404 in codes or "Custom Resource Definitions" in text:
        return (
            "the Dask operator's custom resources (daskclusters.kubernetes.dask.org) are not "
            f"installed: install the operator with helm as in {GUIDE}, then retry"
        )
    if kinds & {"ConnectError", "ConnectionRefusedError", "APITimeoutError", "ConnectTimeout"}:
        return (
            f"cannot reach the Kubernetes API server ({chain[-1]}): check `kubectl cluster-info` "
            "and your kubeconfig context"
        )
    if kinds & {"SchedulerStartupError", "CrashLoopBackOffError"}:
        return f"the Dask scheduler pod crashed; check --image. {text[:2000]}"
    if isinstance(exc, TimeoutError):
        return (
            f"the Dask cluster {name} did not start within {settings.cluster_timeout:g} s "
            "(--cluster-timeout): is the Dask operator running (`kubectl get pods -n "
            f"dask-operator`)? are its pods Pending (`kubectl get pods -n {ns} -l "
            f"dask.org/cluster-name={name}`; `kubectl describe pod ...`)?"
        )
    return f"could not start the Dask cluster on Kubernetes: {type(exc).__name__}: {exc}"
