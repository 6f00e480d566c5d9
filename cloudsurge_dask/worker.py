"""The drain loop: lease tasks, run the generator into the sink, record, acknowledge.

The same loop serves a Dask task (`drain`, one per worker process) and a plain Kubernetes
Job pod (`python -m cloudsurge_dask worker JOB`). It stops when the job is finished; while
other workers still hold leases it waits, so a task whose worker died is taken over once
its lease expires.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .codec import get_codec
from .errors import ConfigError, GeneratorCrashed, GeneratorError, StorageError
from .generator import Generation, resolve_executable
from .jobqueue import JobQueue, Lease
from .records import FAILED, OK, REJECTED, TaskRecord, utcnow
from .sink import Manifest, Sink
from .storage import open_store


@dataclass(frozen=True)
class JobMeta:
    """What every worker must know about a job; stored with the job in Redis."""

    output: str
    surge: str | None
    surge_options: tuple[str, ...]
    part_size: int
    codec: str
    generator_timeout: float
    lease_seconds: float
    max_attempts: int
    batch_size: int

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["surge_options"] = list(self.surge_options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobMeta:
        fields = {name: data[name] for name in cls.__dataclass_fields__}
        fields["surge_options"] = tuple(fields["surge_options"])
        return cls(**fields)


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class _Heartbeat:
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
                self._queue.heartbeat(self._consumer, leases)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class Worker:
    """Drains one job; `run()` returns the records this worker made final."""

    def __init__(self, redis_url: str, job: str, consumer: str | None = None) -> None:
        client = JobQueue.connect(redis_url)
        probe = JobQueue(client, job)
        self.meta = JobMeta.from_dict(probe.meta())
        self.job = job
        self.queue = JobQueue(
            client, job, lease_seconds=self.meta.lease_seconds, max_attempts=self.meta.max_attempts
        )
        self.consumer = consumer or consumer_name()
        self.executable = resolve_executable(self.meta.surge)
        self.sink = Sink(
            open_store(self.meta.output), get_codec(self.meta.codec), self.meta.part_size
        )

    def run(self, on_record: Callable[[TaskRecord], None] | None = None) -> list[TaskRecord]:
        records: list[TaskRecord] = []
        heartbeat = _Heartbeat(self.queue, self.consumer, max(self.meta.lease_seconds / 3, 0.05))
        try:
            while True:
                leases = self.queue.lease(self.consumer, self.meta.batch_size)
                if not leases:
                    if self.queue.finished():
                        return records
                    time.sleep(min(max(self.meta.lease_seconds / 4, 0.05), 1.0))
                    continue
                heartbeat.hold(leases)
                for index, lease in enumerate(leases):
                    record = self.process(lease)
                    heartbeat.hold(leases[index + 1 :])
                    if record is not None:
                        records.append(record)
                        if on_record is not None:
                            on_record(record)
        finally:
            heartbeat.stop()

    def process(self, lease: Lease) -> TaskRecord | None:
        """Run one task; returns its record if it became final here.

        The manifest (the commit point of the output) is written only after the generator
        exited cleanly and its own count equals the lines stored.
        """
        task = lease.task
        started = utcnow()
        clock = time.perf_counter()
        try:
            with Generation(
                self.executable, task, self.meta.surge_options, self.meta.generator_timeout
            ) as generation:

                def check(manifest: Manifest) -> None:
                    reported = generation.result.structures
                    if manifest.structures != reported:
                        raise GeneratorCrashed(
                            f"{task.key}: generator reported {reported} structures "
                            f"but wrote {manifest.structures}"
                        )

                try:
                    manifest = self.sink.write_task(task, generation.blocks(), check)
                except ValueError as exc:
                    raise GeneratorCrashed(f"{task.key}: {exc}") from None
                result = generation.result
        except (GeneratorError, StorageError) as exc:
            permanent = isinstance(exc, GeneratorError) and exc.permanent
            record = self._record(
                lease, started, status=REJECTED if permanent else FAILED, error=str(exc)
            )
            final = self.queue.fail(lease, record, permanent=permanent)
            return record if final else None
        wall = time.perf_counter() - clock
        record = TaskRecord(
            job=self.job,
            task=task.key,
            formula=task.formula,
            worker=self.consumer,
            started=started,
            finished=utcnow(),
            generator_seconds=result.seconds,
            write_seconds=max(wall - result.seconds, 0.0),
            structures=manifest.structures,
            parts=len(manifest.parts),
            raw_bytes=manifest.raw_bytes,
            compressed_bytes=manifest.compressed_bytes,
            status=OK,
            attempts=lease.attempt,
        )
        self.queue.complete(lease, record)
        return record

    def _record(self, lease: Lease, started: datetime, *, status: str, error: str) -> TaskRecord:
        return TaskRecord(
            job=self.job,
            task=lease.task.key,
            formula=lease.task.formula,
            worker=self.consumer,
            started=started,
            finished=utcnow(),
            generator_seconds=0.0,
            write_seconds=0.0,
            structures=0,
            parts=0,
            raw_bytes=0,
            compressed_bytes=0,
            status=status,
            error=error,
            attempts=lease.attempt,
        )


def drain(redis_url: str | None, job: str) -> list[TaskRecord]:
    """The Dask task: one per worker process, returns the records it made final.

    `redis_url` None means: the worker's own `CLOUDSURGE_REDIS_URL` (pods get the in-cluster
    address from a Secret; the client may only see Redis through a port-forward).
    """
    url = redis_url or os.environ.get("CLOUDSURGE_REDIS_URL")
    if not url:
        raise ConfigError("drain: no Redis URL given and CLOUDSURGE_REDIS_URL is not set")
    return Worker(url, job).run()
