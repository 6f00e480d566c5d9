"""A starting DaskCluster's phase, set right where the Dask operator leaves it wrong.

The dask-kubernetes operator (2026.3.0, the latest release) races with itself: the handler of
a new scheduler Service sets the DaskCluster's `status.phase` to Running while the handler
that created that Service is still at work, and that one ends by writing Pending over it
(dask/dask-kubernetes#968; fixed upstream by #977, unreleased). The Service never changes
again, so the phase stays Pending, and KubeCluster, which waits for Running, hangs until
--cluster-timeout: seen here on the test cluster in attached runs.

While a KubeCluster starts, `settled_phase` watches its DaskCluster; once it has been Pending
for a while with its scheduler Service in place, it applies the operator's own rule
(`running_phase`) and writes Running. A correct operator leaves it nothing to do. The client
Role already grants `patch daskclusters` (KubeCluster scales through it); the CRD has no
status subresource, so the phase is patched on the resource itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# how long a Pending phase with the Service in place is left to the operator first: its own
# handlers take well under a second to move on
GRACE_SECONDS = 5.0


def running_phase(service: dict[str, Any]) -> bool:
    """The operator's rule for a scheduler Service: Running, unless it is a LoadBalancer that
    has no address yet (then Pending is right and stays until the cloud gives it one)."""
    if service.get("spec", {}).get("type") != "LoadBalancer":
        return True
    return bool(service.get("status", {}).get("loadBalancer", {}).get("ingress"))


async def _watch(name: str, namespace: str, stop: threading.Event) -> None:
    import httpx  # with kr8s, only in a Kubernetes run (the `kubernetes` extra)
    import kr8s
    from kr8s.asyncio.objects import Service

    from .daskcluster import dask_cluster_kind  # it imports this module

    kind = dask_cluster_kind()
    pending_since: float | None = None
    while not stop.is_set():
        await asyncio.sleep(POLL_SECONDS)
        try:
            cluster = await kind.get(name, namespace=namespace)
            phase = cluster.raw.get("status", {}).get("phase")
            if phase == "Running":
                return
            service = await Service.get(f"{name}-scheduler", namespace=namespace)
        except (kr8s.NotFoundError, kr8s.ServerError, httpx.HTTPError, TimeoutError):
            pending_since = None  # not made yet, or a passing API error: look again
            continue
        if phase != "Pending" or not running_phase(service.raw):
            pending_since = None
            continue
        pending_since = pending_since or time.monotonic()
        if time.monotonic() - pending_since < GRACE_SECONDS:
            continue
        with contextlib.suppress(kr8s.ServerError, httpx.HTTPError):
            await cluster.patch({"status": {"phase": "Running"}})
            log.info(
                "the Dask operator left DaskCluster %s at Pending with its scheduler Service "
                "in place (dask/dask-kubernetes#968): set it Running",
                name,
            )
        pending_since = None


@contextlib.contextmanager
def settled_phase(name: str, namespace: str) -> Iterator[None]:
    """Watch DaskCluster `name` in a thread of its own while the block starts it."""
    stop = threading.Event()

    def run() -> None:
        try:
            asyncio.run(_watch(name, namespace, stop))
        except Exception as exc:  # a helper only: failing, it leaves KubeCluster's wait as it was
            log.debug("not watching the phase of DaskCluster %s: %r", name, exc)

    watcher = threading.Thread(target=run, name="cloudsurge-cluster-phase", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(POLL_SECONDS + 15)
