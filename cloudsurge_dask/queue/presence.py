"""Whether a client is driving a job right now, said through the job's own Redis.

A run's client renews a short-lived key from a thread while it holds the job, and deletes it
once the job's records and ledger are saved. `status` and `stop` read it from wherever the
Redis is reachable: a shared Redis has no lock file to look at, and a detached client runs in
a pod far from the user's machine. A client killed outright stops renewing, and the key
expires after `PRESENCE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import redis

from ..errors import QueueError
from .jobqueue import JobQueue

PRESENCE_SECONDS = 15  # a client that has not renewed its key for this long is gone
RENEW_SECONDS = 3.0


def here() -> str:
    """How a client names itself: its PID and host (a pod's name, in a pod)."""
    return f"PID {os.getpid()} on {socket.gethostname()}"


def holder(queue: JobQueue) -> str | None:
    """Who drives the job now (`PID n on host`), or None if no client does."""
    try:
        value = queue.client.get(queue.client_key)
    except redis.RedisError as exc:
        raise QueueError(f"Redis failed for job {queue.job}: {exc}") from exc
    return None if value is None else str(value)


class Presence:
    """The client's key, renewed from a thread for the length of its `with`, deleted after."""

    def __init__(self, queue: JobQueue, name: str | None = None) -> None:
        self._queue, self._name = queue, name or here()
        self._key = queue.client_key
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudsurge-presence", daemon=True)

    def _renew(self) -> None:
        # a Redis outage must not end the renewals for good: try again next round
        with contextlib.suppress(redis.RedisError):
            self._queue.client.set(self._key, self._name, ex=PRESENCE_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            self._renew()

    def __enter__(self) -> Presence:
        self._renew()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with contextlib.suppress(redis.RedisError):  # Redis gone: the key expires on its own
            self._queue.client.delete(self._key)
