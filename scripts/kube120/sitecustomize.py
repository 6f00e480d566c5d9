"""Kubernetes 1.20 compatibility for kr8s, for the test cluster of scripts/test-kubernetes.sh only.

Loaded (as `sitecustomize`, through PYTHONPATH) by the Dask operator process that script
starts and by the client processes of tests/kubernetes/test_kubernetes_live.py. Kubernetes < 1.27 leaves
`singularName` empty in its API resource lists; kr8s (>= 0.20) builds its object classes from
that name, so on 1.20 a listed Pod is not a `Pod` and KubeCluster fails with "Unexpected type
<class 'list'> returned from API". Filling in the lower-case kind (what newer servers send)
is all it takes. GKE (1.30+) needs none of this.

Also, when CLOUDSURGE_TEST_CLUSTER_HOSTS names the Service hosts file that the test cluster's
DNS serves (`SERVICE.NAMESPACE.svc.cluster.local` per line), names this machine cannot
resolve are looked up there: this machine is the cluster's node, so a client here reaches
Services directly, as one inside the cluster would, and dask-kubernetes then connects to the
scheduler's Service instead of port-forwarding (kr8s' WebSocket port-forward does not carry
data on 1.20). On GKE the client port-forwards.
"""

from __future__ import annotations

from typing import Any


def _patch() -> None:
    try:
        from kr8s._api import Api
    except ImportError:
        return
    original = Api.async_api_resources_uncached

    async def api_resources(self: Any) -> list[dict[str, Any]]:
        resources: list[dict[str, Any]] = await original(self)
        for resource in resources:
            if not resource.get("singularName"):
                resource["singularName"] = str(resource.get("kind", "")).lower()
        return resources

    Api.async_api_resources_uncached = api_resources  # type: ignore[method-assign]


def _cluster_names() -> None:
    import os
    import socket
    import time

    hosts = os.environ.get("CLOUDSURGE_TEST_CLUSTER_HOSTS")
    if not hosts:
        return
    original = socket.getaddrinfo

    def read(host: str) -> tuple[str | None, bool]:
        """(address, whether `host` is SERVICE.NAMESPACE of a namespace the file knows)."""
        try:
            with open(hosts) as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None, False
        names = {host, f"{host}.svc.cluster.local", f"{host}.cluster.local"}
        namespace = f".{host.split('.', 1)[-1]}.svc.cluster.local" if "." in host else None
        known = False
        for line in lines:
            words = line.split()
            if len(words) == 2 and words[1] in names:
                return words[0], True
            known = known or bool(namespace and len(words) == 2 and words[1].endswith(namespace))
        return None, known

    def lookup(host: str) -> str | None:
        """The file is rewritten once a second from the Services: a Service just made in a
        known namespace (a new scheduler's) is waited for, or dask-kubernetes would fall back
        to a port-forward, which carries no data on 1.20."""
        deadline = time.monotonic() + 15
        while True:
            address, known = read(host)
            if address is not None or not known or time.monotonic() > deadline:
                return address
            time.sleep(0.25)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(host, *args, **kwargs)
        except socket.gaierror:
            address = lookup(host) if isinstance(host, str) else None
            if address is None:
                raise
            return original(address, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


_patch()
_cluster_names()
