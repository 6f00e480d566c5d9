"""A Service of the cluster reached from a machine outside it, through a forward the client
keeps up itself: how `run --redis-forward` reaches the queue's Redis from a laptop.

`kubectl port-forward svc/NAME` picks one pod when it starts and ends for good when that pod
goes, so the Redis restart a run otherwise survives would end it. Here a local port accepts
each connection the Redis client opens and carries it over a pods/portforward WebSocket of
the Kubernetes API (the one kubectl and dask-kubernetes use) to the pod behind the Service at
that moment. A connection cut because its pod went is simply opened again by the Redis
client's retries (queue/redisclient.py, ~2 minutes) and reaches the pod that replaced it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ClusterError, ConfigError
from ..settings import Settings
from .kubeaccess import check_access
from .kubefailure import explain

log = logging.getLogger(__name__)

DATA, ERROR = 0, 1  # the portforward protocol's channels for one port (its first frame: the port)
POD_WAIT = 10.0  # seconds a new connection waits for a ready pod behind the Service
CHUNK = 1 << 16


class ForwardFailed(Exception):
    """The pod side refused or ended one forwarded connection (the next one tries again)."""


class ServiceForward:
    """127.0.0.1:`local_port` forwarded to `port` of the ready pod behind a Service, chosen
    anew whenever the last one failed; runs its own event loop in a daemon thread."""

    def __init__(self, namespace: str, service: str, port: int) -> None:
        self.namespace, self.service, self.port = namespace, service, port
        self.local_port = 0
        self.connections = 0  # forwarded connections so far (the tests read it)
        self.pods_seen: set[str] = set()
        self._pod: str | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cloudsurge-forward", daemon=True)

    def __enter__(self) -> ServiceForward:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0)
            )
            self.local_port = server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _pod_name(self) -> str:
        """The pod used last, else a ready one behind the Service (waiting up to POD_WAIT s)."""
        if self._pod is not None:
            return self._pod
        from kr8s.asyncio.objects import Service

        deadline = self._loop.time() + POD_WAIT
        while True:
            service = await Service.get(self.service, namespace=self.namespace)
            ready = sorted(pod.name for pod in await service.ready_pods())
            if ready:
                self._pod = ready[0]
                self.pods_seen.add(ready[0])
                return ready[0]
            if self._loop.time() > deadline:
                raise ForwardFailed(f"no ready pod behind Service {self.service}")
            await asyncio.sleep(0.5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import httpx
        import httpx_ws
        import kr8s

        self.connections += 1
        try:
            pod = await self._pod_name()
            api = await kr8s.asyncio.api()
            async with api.open_websocket(
                version="v1", url=f"pods/{pod}/portforward", namespace=self.namespace,
                params={"ports": str(self.port)},
            ) as socket:  # fmt: skip
                await _pump(reader, writer, socket)
        except (ForwardFailed, OSError, httpx.HTTPError, httpx_ws.HTTPXWSException,
                kr8s.ServerError, kr8s.NotFoundError, kr8s.ConnectionClosedError,
                TimeoutError) as exc:  # fmt: skip
            self._pod = None  # choose again for the next connection
            log.debug("forward to %s/%s: %s", self.namespace, self.service, exc)
        except asyncio.CancelledError:
            # the forward closes with connections open: end this one quietly (Python 3.11's
            # stream server would print the cancelled handler's traceback)
            log.debug("forward to %s/%s: closed mid-connection", self.namespace, self.service)
        finally:
            writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, socket: Any) -> None:
    """Bytes both ways until either side ends; each channel's first frame is its port number,
    and anything the error channel says after it ends the connection."""

    async def to_pod() -> None:
        while data := await reader.read(CHUNK):
            await socket.send_bytes(bytes([DATA]) + data)

    async def from_pod() -> None:
        opened: set[int] = set()
        while True:
            frame = await socket.receive_bytes()
            channel, payload = frame[0], frame[1:]
            if channel not in opened:
                opened.add(channel)
            elif channel == ERROR and payload:
                raise ForwardFailed(payload.decode(errors="replace"))
            elif channel == DATA:
                writer.write(payload)
                await writer.drain()

    tasks = [asyncio.ensure_future(to_pod()), asyncio.ensure_future(from_pod())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()


def forward_target(settings: Settings) -> tuple[str, str, int]:
    """(namespace, Service, port) named by --redis-url's host: SERVICE[.NAMESPACE[.svc...]]
    (the in-cluster URL of the Redis Secret), the namespace else --namespace."""
    if not settings.redis_url:
        raise ConfigError("--redis-forward needs --redis-url (or CLOUDSURGE_REDIS_URL)")
    parts = urlsplit(settings.redis_url)
    labels = (parts.hostname or "").split(".")
    namespace = labels[1] if len(labels) > 1 and labels[1] != "svc" else settings.namespace
    return namespace, labels[0], parts.port or 6379


@contextlib.contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """--redis-url as this client reaches it: through a ServiceForward with --redis-forward."""
    if not settings.redis_forward:
        yield str(settings.redis_url)
        return
    namespace, service, port = forward_target(settings)
    try:
        check_access(namespace)  # a refused port-forward would look like a Redis that is down
    except ClusterError:
        raise
    except Exception as exc:  # no credentials, an unreadable kubeconfig, no API server...
        raise ClusterError(explain(exc, settings, service)) from None
    with ServiceForward(namespace, service, port) as forward:
        parts = urlsplit(str(settings.redis_url))
        auth, at, _ = parts.netloc.rpartition("@")
        yield urlunsplit(parts._replace(netloc=f"{auth}{at}127.0.0.1:{forward.local_port}"))


@contextlib.contextmanager
def forwarded(settings: Settings) -> Iterator[Settings]:
    """`settings` with --redis-url as this process reaches it: for `status`, `stop` and
    `export` from outside the cluster, as `run --redis-forward` reaches it."""
    if not settings.redis_forward:
        yield settings
        return
    with redis_url(settings) as url:
        yield dataclasses.replace(settings, redis_url=url, redis_forward=False)
