"""A run's DaskCluster on Kubernetes: its spec (the operator's template plus our hardened
workers and scheduler), its start through dask-kubernetes' KubeCluster, bounded by
--cluster-timeout and given up at once when the run stops meanwhile, and its removal when a
start fails. `cluster.py` picks it for --cluster kubernetes; a detached run's DaskJob
(`daskjob.py`) takes the same spec.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client

from ..errors import ClusterError, ConfigError
from ..settings import ClusterKind, Settings
from .cluster import Abandoned, ClusterHandle, dashboard_of, start_limit, wait_for_workers
from .clusterphase import settled_phase
from .dashboard import routes_env
from .kubeaccess import check_access
from .kubefailure import explain
from .kubeobjects import SCRATCH, base_env, harden_pod, resources, worker_env
from .sizing import expected_drains, screen_processes

log = logging.getLogger(__name__)

SCHEDULER_RESOURCES = resources("1", "2Gi", "1Gi")
ABORT_POLL = 0.2  # seconds between looks at a start's abort event
IDLE_TIMEOUT = 600  # the operator deletes a cluster whose client died and whose scheduler idles


def _operator() -> Any:
    """The dask-kubernetes operator module, imported only when a Kubernetes run asks for it."""
    try:
        from dask_kubernetes import operator
    except ImportError:
        raise ConfigError(
            "--cluster kubernetes needs dask-kubernetes: pip install 'cloudsurge-dask[kubernetes]'"
        ) from None
    return operator


def cluster_name() -> str:
    """A fresh DaskCluster name; unique so parallel runs in one namespace never collide."""
    return f"cloudsurge-{uuid.uuid4().hex[:8]}"


def kube_cluster_spec(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """The `DaskCluster` for a run: the operator's template plus our workers and hardening."""
    if settings.adaptive_max and settings.adaptive_max < settings.pods:
        raise ConfigError("--adaptive-max must be 0 (off) or at least --pods")
    name = name or cluster_name()
    spec: dict[str, Any] = _operator().make_cluster_spec(
        name=name,
        image=settings.image,
        n_workers=settings.pods,
        resources=resources(settings.pod_cpu, settings.pod_memory, settings.pod_ephemeral_storage),
        env=worker_env(settings.redis_secret, settings.storage_secret),
        worker_command=shlex.split(
            f"dask worker --nworkers {settings.processes_per_pod} --nthreads 1 "
            f"--local-directory {SCRATCH}"
        ),
        idle_timeout=IDLE_TIMEOUT,
    )
    worker = spec["spec"]["worker"]["spec"]
    harden_pod(worker, settings.pod_ephemeral_storage, settings.storage_secret)
    if settings.service_account:
        worker["serviceAccountName"] = settings.service_account
    scheduler = spec["spec"]["scheduler"]["spec"]
    container = scheduler["containers"][0]
    container["args"] = ["dask", "scheduler", "--host", "0.0.0.0"]
    container["env"] = [*base_env(), routes_env()]  # the scheduler serves our page too
    container["resources"] = SCHEDULER_RESOURCES
    harden_pod(scheduler, SCHEDULER_RESOURCES["requests"]["ephemeral-storage"])
    return spec


@contextmanager
def kubernetes_cluster(settings: Settings, abort: threading.Event) -> Iterator[ClusterHandle]:
    operator = _operator()
    spec = kube_cluster_spec(settings)
    name = spec["metadata"]["name"]
    limit = start_limit(settings)
    log.info("starting DaskCluster %s in namespace %s", name, settings.namespace)

    def create() -> Any:
        _check_access(settings.namespace)
        with settled_phase(name, settings.namespace):  # the operator's race, see clusterphase
            return operator.KubeCluster(
                custom_cluster_spec=spec,
                namespace=settings.namespace,
                shutdown_on_close=True,
                resource_timeout=int(limit) if limit else 3600,
                quiet=True,
                # outside the cluster (the user says so with --redis-forward): port-forward the
                # scheduler at once instead of trying its Service name for ~10 s first
                port_forward_cluster_ip=True if settings.redis_forward else None,
            )

    try:
        cluster = _bounded(create, limit, lambda late: late.close(timeout=60), abort)
    except ClusterError:
        _forget(operator, name)  # refused before anything was made
        raise
    except Abandoned:
        _forget(operator, name)
        _delete_cluster(name, settings.namespace, wait=True)
        raise ClusterError(abandoned(name)) from None
    except Exception as exc:
        _forget(operator, name)
        # whatever failed, the resource may exist; an API that did not answer in time is
        # not waited for again
        _delete_cluster(name, settings.namespace, wait=not isinstance(exc, TimeoutError))
        raise ClusterError(explain(exc, settings, name)) from exc
    try:
        if settings.adaptive_max:
            cluster.adapt(minimum=settings.pods, maximum=settings.adaptive_max)
        drains = expected_drains(settings)
        with Client(cluster) as client:
            hint = (
                f"see `kubectl get pods -n {settings.namespace} -l dask.org/cluster-name={name}`"
                " (ImagePullBackOff: check --image; Pending: not enough CPU/memory quota)"
            )
            try:
                wait_for_workers(client, 1, settings, hint, abort)
            except Abandoned:
                raise ClusterError(abandoned(name)) from None  # closed below, with its pods
            yield ClusterHandle(
                client, drains, dashboard_of(cluster), ClusterKind.KUBERNETES,
                screen_processes(settings, ClusterKind.KUBERNETES),
            )  # fmt: skip
    finally:
        cluster.close(timeout=limit or 3600)


def _check_access(namespace: str) -> None:
    """Every permission of the client Role (one line naming what is missing, see kubeaccess),
    then the namespace's DaskClusters listed in one lone request, before KubeCluster starts.

    KubeCluster sends requests from concurrent tasks sharing one kr8s session, and kr8s meets
    a 401/403 by re-creating that session (the token may have expired), which aborts the other
    task's request in flight: missing RBAC grants then often surface as a bare httpx ReadError.
    Alone, a 403 (RBAC) or 404 (operator CRDs not installed) arrives as itself for explain().
    """
    check_access(namespace)

    async def probe() -> None:
        async for _ in dask_cluster_kind().list(namespace=namespace):
            break

    asyncio.run(probe())


def abandoned(name: str) -> str:
    return f"the start of DaskCluster {name} was given up: the run is stopping; it was removed"


def _bounded(
    create: Callable[[], Any],
    limit: float | None,
    on_late: Callable[[Any], None],
    abort: threading.Event,
) -> Any:
    """Run `create` in a daemon thread and give up after `limit` s (TimeoutError) or once
    `abort` is set (Abandoned); a late result is closed."""
    box: dict[str, Any] = {}
    done = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        try:
            box["value"] = create()
        except BaseException as exc:  # re-raised in the calling thread below
            box["error"] = exc
        with lock:
            done.set()
            late = box.get("abandoned", False)
        if late and "value" in box:
            with contextlib.suppress(Exception):
                on_late(box["value"])

    threading.Thread(target=run, name="cloudsurge-cluster-start", daemon=True).start()
    deadline = None if limit is None else time.monotonic() + limit
    while not done.wait(ABORT_POLL):
        late = deadline is not None and time.monotonic() >= deadline
        if late or abort.is_set():
            with lock:
                if not done.is_set():
                    box["abandoned"] = True
                    if late:
                        raise TimeoutError(f"no Dask scheduler after {limit:g} s")
                    raise Abandoned
            break
    if "error" in box:
        raise box["error"]
    return box["value"]


def dask_cluster_kind() -> Any:
    """The operator's DaskCluster resource through kr8s' public API for custom resources."""
    from kr8s.asyncio.objects import new_class

    return new_class("DaskCluster", version="kubernetes.dask.org/v1", namespaced=True)


def _forget(operator: Any, name: str) -> None:
    """Drop a failed KubeCluster from dask-kubernetes' exit-time reaper (it would only re-fail).

    The one use of a private name of a third-party package: dask-kubernetes offers no public
    way to unregister a cluster whose constructor failed (there is no object to close).
    tests/pipeline/test_cluster.py pins the attribute's shape, so an upgrade that changes it fails
    that test instead of silently reaping again."""
    instances = operator.KubeCluster._instances
    for instance in list(instances):
        if instance.name == name:
            instances.discard(instance)


def _delete_cluster(name: str, namespace: str, wait: bool) -> None:
    """Best effort: remove a DaskCluster whose start failed or timed out, so its pods stop
    costing money (a missing one, or no rights to delete it, is no error); `wait` up to
    ~35 s for it, else in the background."""

    async def delete() -> None:
        resource = await dask_cluster_kind().get(name, namespace=namespace, timeout=10)
        await resource.delete()

    def run() -> None:
        with contextlib.suppress(Exception):
            asyncio.run(asyncio.wait_for(delete(), 30))

    deleting = threading.Thread(target=run, name="cloudsurge-cluster-delete", daemon=True)
    deleting.start()
    if wait:
        deleting.join(35)
