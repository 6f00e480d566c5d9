"""Lease renewal: a worker's thread that keeps the leases in hand alive during long tasks."""

from __future__ import annotations

import contextlib
import threading

from ..errors import QueueError
from .jobqueue import JobQueue, Lease


class Heartbeat:
    """Renews the leases in hand from a thread, so long formulae keep them."""

    def __init__(self, queue: JobQueue, consumer: str, interval: float) -> None:
        self._queue, self._consumer, self._interval = queue, consumer, interval
        self._leases: list[Lease] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def hold(self, leases: list[Lease]) -> None:
        with self._lock:
            self._leases = list(leases)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                leases = list(self._leases)
            if leases:
                # a Redis outage must not end the renewals for good: try again next round
                with contextlib.suppress(QueueError):
                    self._queue.heartbeat(self._consumer, leases)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
