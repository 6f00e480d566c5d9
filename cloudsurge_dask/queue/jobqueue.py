"""The work queue of one job: a Redis Stream read through a consumer group.

A task is leased by reading its stream entry into the group (it then sits in the pending list
of that consumer). A worker that dies leaves it pending; once idle for `lease_seconds` any
consumer reclaims it (XAUTOCLAIM), which counts as a new attempt. Every state change that
must not be half-done (record + ack + counters, ack + requeue) runs as one Lua script.
All keys of a job are `cloudsurge:<job>:*`; the set `cloudsurge:jobs` lists the job ids.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import redis

from ..errors import ConfigError, QueueError
from ..formulae.task import Task
from ..output.records import TaskRecord, TaskStatus, utcnow
from .redisclient import connect, redacted_url
from .scripts import COMPLETE, ENQUEUE, HEARTBEAT, LEASE, RELEASE, REQUEUE

JOBS_KEY = "cloudsurge:jobs"
GROUP = "workers"
BATCH = 1_000
MAX_ERRORS = 10_000
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def new_job_id() -> str:
    """Sortable by creation time (UTC) and unique: `20261125T101500-3fa9c2`."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Lease:
    """A task handed to one consumer; `attempt` counts from 1 across retries and reclaims."""

    task: Task
    entry_id: str
    attempt: int


@dataclass(frozen=True)
class Counters:
    """Counters of one job; `pending` = not final yet, `leased` = held by a worker now.
    `total`, `done`, `failed` and `pending` count tasks; `formulae` and `formulae_final` count
    formulae (a shard is many), `estimate` is the plan's estimate of the job's structures."""

    total: int
    done: int
    failed: int
    structures: int
    pending: int
    leased: int = 0
    formulae: int = 0
    formulae_final: int = 0
    estimate: int = 0
    generated: int = 0

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total


def _chunks(items: Iterable[Task], size: int) -> Iterator[list[Task]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class JobQueue:
    """The queue, records and counters of one job in Redis."""

    def __init__(
        self,
        client: redis.Redis,
        job: str,
        *,
        lease_seconds: float = 60,
        max_attempts: int = 3,
    ) -> None:
        if not _JOB_ID.match(job):
            raise QueueError(f"invalid job id {job!r}: use letters, digits, '.', '_' or '-'")
        if lease_seconds <= 0 or max_attempts < 1:
            raise ConfigError("lease_seconds must be > 0 and max_attempts >= 1")
        if not client.get_encoder().decode_responses:
            raise QueueError(
                "JobQueue needs a client with decode_responses=True (see redisclient.connect)"
            )
        self.client = client
        self.job = job
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        prefix = f"cloudsurge:{job}"
        self.meta_key, self.stream_key = f"{prefix}:meta", f"{prefix}:stream"
        self.records_key, self.errors_key = f"{prefix}:records", f"{prefix}:errors"
        self.progress_key, self.stop_key = f"{prefix}:progress", f"{prefix}:stop"
        self.client_key = f"{prefix}:client"  # queue.presence: the client driving the job
        self._enqueue = client.register_script(ENQUEUE)
        self._lease = client.register_script(LEASE)
        self._heartbeat = client.register_script(HEARTBEAT)
        self._complete = client.register_script(COMPLETE)
        self._requeue = client.register_script(REQUEUE)
        self._release = client.register_script(RELEASE)

    def __repr__(self) -> str:
        return f"JobQueue(job={self.job!r}, lease_seconds={self.lease_seconds:g})"

    @classmethod
    def open(cls, url: str, job: str, *, patient: bool = False) -> JobQueue:
        """The one way to attach to an existing job: connect, check that it is there (one
        QueueError if not) and take the lease and attempt limits it was queued with;
        `patient` (a worker) waits out a Redis restart even for the first connection."""
        queue = cls(connect(url, patient=patient), job)
        if not queue.exists():
            raise QueueError(f"job {job} is not on the queue at {redacted_url(url)}")
        meta = queue.meta()
        queue.lease_seconds = float(meta.get("lease_seconds", queue.lease_seconds))
        queue.max_attempts = int(meta.get("max_attempts", queue.max_attempts))
        return queue

    @staticmethod
    def jobs(client: redis.Redis) -> list[str]:
        """All job ids in this Redis, oldest first."""
        return sorted(str(job) for job in client.smembers(JOBS_KEY))

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            if "NOGROUP" in str(exc):
                raise QueueError(f"job {self.job} has no queue in Redis (unknown job?)") from exc
            raise QueueError(f"Redis failed for job {self.job}: {exc}") from exc

    def create(self, tasks: Iterable[Task], meta: dict[str, Any], estimate: int = 0) -> int:
        """Store meta, enqueue tasks in the given order, then open the group; returns the count.
        The group and the counters appear together last: a job is complete once they exist."""
        text = json.dumps(meta, sort_keys=True)
        count = formulae = 0
        with self._errors():
            if not self.client.set(self.meta_key, text, nx=True):
                raise QueueError(f"job {self.job} already exists")
            self.client.sadd(JOBS_KEY, self.job)
            for chunk in _chunks(tasks, BATCH):
                count += self._add([(task.spec, 1) for task in chunk])
                formulae += sum(len(task.formulae) for task in chunk if task.res == 0)
            pipe = self.client.pipeline(transaction=True)
            pipe.xgroup_create(self.stream_key, GROUP, id="0", mkstream=True)
            pipe.hset(self.progress_key, mapping={
                "total": count, "done": 0, "failed": 0, "structures": 0,
                "formulae": formulae, "formulae_final": 0, "estimate": estimate,
            })  # fmt: skip
            pipe.execute()
        return count

    def exists(self) -> bool:
        with self._errors():
            return bool(self.client.exists(self.meta_key))

    def meta(self) -> dict[str, Any]:
        with self._errors():
            text = self.client.get(self.meta_key)
        if text is None:
            raise QueueError(f"job {self.job} is unknown")
        meta: dict[str, Any] = json.loads(text)
        return meta

    def lease(self, consumer: str, count: int) -> list[Lease]:
        """Up to `count` tasks: expired leases first (a new attempt each), then fresh ones."""
        if count < 1:
            return []
        idle_ms = max(1, int(self.lease_seconds * 1000))
        with self._errors():
            rows = self._lease(
                keys=[self.stream_key, self.records_key], args=[GROUP, consumer, count, idle_ms]
            )
        leases = []
        for entry_id, fields, deliveries in rows:
            data = dict(zip(fields[::2], fields[1::2], strict=True))
            task = Task.from_spec(data["task"])
            attempt = int(data["attempt"]) + int(deliveries) - 1
            if attempt <= self.max_attempts:
                leases.append(Lease(task, entry_id, attempt))
                continue
            lost = [
                TaskRecord.failure(
                    self.job,
                    task.key,
                    formula,
                    "",
                    utcnow(),
                    TaskStatus.FAILED,
                    f"lease expired {int(deliveries) - 1} times: worker lost",
                    attempt - 1,
                )
                for formula in task.formulae
            ]
            self._final(Lease(task, entry_id, attempt - 1), lost)
        return leases

    def heartbeat(self, consumer: str, leases: Iterable[Lease]) -> int:
        """Reset the idle time of the leases this consumer still holds; returns how many."""
        ids = [lease.entry_id for lease in leases]
        if not ids:
            return 0
        with self._errors():
            return int(self._heartbeat(keys=[self.stream_key], args=[GROUP, consumer, *ids]))

    def complete(self, lease: Lease, records: TaskRecord | Sequence[TaskRecord]) -> bool:
        """Store the final record(s) (one per formula of the task) and ack; counters move
        only if the task had no final record yet."""
        return self._final(lease, records)

    def fail(
        self, lease: Lease, records: TaskRecord | Sequence[TaskRecord], *, permanent: bool
    ) -> bool:
        """Final (rejected/failed) if permanent or out of attempts, else requeue; True if final."""
        listed = [records] if isinstance(records, TaskRecord) else list(records)
        if permanent or lease.attempt >= self.max_attempts:
            status = TaskStatus.REJECTED if permanent else TaskStatus.FAILED
            self._final(
                lease,
                [dataclasses.replace(r, status=status, attempts=lease.attempt) for r in listed],
            )
            return True
        with self._errors():
            self._requeue(
                keys=[self.stream_key, self.errors_key, self.records_key],
                args=[GROUP, lease.entry_id, lease.task.spec, lease.attempt + 1,
                      self._error_line(lease, listed[0]), MAX_ERRORS],
            )  # fmt: skip
        return False

    def _final(self, lease: Lease, records: TaskRecord | Sequence[TaskRecord]) -> bool:
        listed = [records] if isinstance(records, TaskRecord) else list(records)
        if [r.formula for r in listed] != list(lease.task.formulae) or any(
            r.task != lease.task.key for r in listed
        ):
            raise ValueError(f"records do not match the formulae of task {lease.task.key}")
        statuses = {r.status for r in listed}
        status = (
            TaskStatus.FAILED if TaskStatus.FAILED in statuses
            else TaskStatus.REJECTED if statuses == {TaskStatus.REJECTED}
            else TaskStatus.OK
        )  # fmt: skip
        if lease.task.members:
            text = json.dumps({"status": status, "records": [r.to_dict() for r in listed]})
        else:
            text = listed[0].to_json()
        problem = next((r for r in listed if r.status != TaskStatus.OK), None)
        line = "" if problem is None else self._error_line(lease, problem)
        with self._errors():
            new = self._complete(
                keys=[self.records_key, self.stream_key, self.progress_key, self.errors_key],
                args=[GROUP, lease.entry_id, lease.task.spec, text, status,
                      sum(r.structures for r in listed), line, MAX_ERRORS,
                      lease.task.formula if lease.task.mod > 1 else len(listed),
                      lease.task.mod, sum(r.generated for r in listed)],
            )  # fmt: skip
        return bool(new)

    def _error_line(self, lease: Lease, record: TaskRecord) -> str:
        stamp = utcnow().isoformat(timespec="seconds")
        where = f" on {record.worker}" if record.worker else ""
        return (
            f"{stamp} {lease.task.key} attempt {lease.attempt}/{self.max_attempts}{where}: "
            f"{record.error or record.status}"
        )

    def progress(self) -> Counters:
        names = [
            "total", "done", "failed", "structures", "formulae", "formulae_final", "estimate",
            "generated",
        ]  # fmt: skip
        with self._errors():
            pipe = self.client.pipeline(transaction=False)
            pipe.hmget(self.progress_key, names)
            pipe.xpending(self.stream_key, GROUP)
            values, pending = pipe.execute()
        total, done, failed, structures, formulae, final, estimate, generated = (
            int(value or 0) for value in values
        )
        remaining = max(0, total - done - failed)
        return Counters(
            total, done, failed, structures, remaining, int(pending["pending"]),
            formulae, final, estimate, generated,
        )  # fmt: skip

    def release(self, entry_ids: Sequence[str] | None = None) -> int:
        """Give leases back at once without spending an attempt: the given ones (a worker that
        stops early), or every pending one (a client whose own workers are all gone, say
        after an interruption). Returns how many went back."""
        idle = str(max(int(self.lease_seconds * 1000) * 10, 1 << 40))

        def give_back(ids: list[str]) -> int:
            return int(self._release(keys=[self.stream_key], args=[GROUP, idle, *ids]))

        with self._errors():
            if entry_ids is not None:
                return give_back(list(entry_ids)) if entry_ids else 0
            returned, start = 0, "-"
            while rows := self.client.xpending_range(self.stream_key, GROUP, start, "+", BATCH):
                ids = [str(row["message_id"]) for row in rows]
                returned += give_back(ids)
                if len(ids) < BATCH:
                    break
                start = "(" + ids[-1]
            return returned

    def request_stop(self, reason: str) -> None:
        """Ask every worker of the job to stop before its next lease (the client stops)."""
        with self._errors():
            self.client.set(self.stop_key, reason)

    def stop_requested(self) -> str | None:
        with self._errors():
            reason = self.client.get(self.stop_key)
        return None if reason is None else str(reason)

    def clear_stop(self) -> None:
        with self._errors():
            self.client.delete(self.stop_key)

    def finished(self) -> bool:
        return self.progress().finished

    def records(self) -> list[TaskRecord]:
        with self._errors():
            texts = [text for _, text in self.client.hscan_iter(self.records_key, count=1000)]
        records: list[TaskRecord] = []
        for text in texts:
            data = json.loads(text)
            if "records" in data:
                records.extend(TaskRecord.from_dict(item) for item in data["records"])
            else:
                records.append(TaskRecord.from_dict(data))
        return records

    def errors(self) -> list[str]:
        with self._errors():
            return [str(line) for line in self.client.lrange(self.errors_key, 0, -1)]

    def _add(self, entries: list[tuple[str, int]]) -> int:
        args = [value for entry in entries for value in entry]
        return int(self._enqueue(keys=[self.stream_key], args=args))

    def delete(self) -> int:
        """Remove every key of this job (and its id from the jobs set); returns keys deleted."""
        keys = [self.meta_key, self.stream_key, self.records_key, self.errors_key,
                self.progress_key, self.stop_key, self.client_key]  # fmt: skip
        with self._errors():
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(*keys)
            pipe.srem(JOBS_KEY, self.job)
            deleted, _ = pipe.execute()
        return int(deleted)
