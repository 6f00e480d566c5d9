"""The Redis Streams job queue against a real redis-server."""

from __future__ import annotations

import multiprocessing
import re
import socket
import time
from collections import Counter

import pytest
import redis

from cloudsurge_dask.errors import QueueError
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.output.records import TaskRecord, TaskStatus, utcnow
from cloudsurge_dask.queue.jobqueue import Counters, JobQueue, Lease, new_job_id
from cloudsurge_dask.queue.presence import PRESENCE_SECONDS, Presence, holder
from cloudsurge_dask.queue.redisclient import connect
from cloudsurge_dask.queue.redisserver import RedisServer

META = {"surge": None, "surge_options": ["-S"], "output": "memory://out", "codec": "zst"}


def _tasks(count: int) -> list[Task]:
    return [Task(f"C{n}H{2 * n + 2}") for n in range(1, count + 1)]


def _record(
    queue: JobQueue, lease: Lease, worker: str = "w1", structures: int = 7, **changes: object
) -> TaskRecord:
    now = utcnow()
    fields: dict[str, object] = {
        "job": queue.job, "task": lease.task.key, "formula": lease.task.formula,
        "worker": worker, "started": now, "finished": now, "generator_seconds": 0.5,
        "write_seconds": 0.1, "structures": structures, "parts": 1, "raw_bytes": 100,
        "compressed_bytes": 40, "status": TaskStatus.OK, "error": None, "attempts": lease.attempt,
    }  # fmt: skip
    fields.update(changes)
    return TaskRecord(**fields)  # type: ignore[arg-type]


def _job_keys(client: redis.Redis, job: str) -> dict[str, bytes | None]:
    raw = redis.Redis(connection_pool=client.connection_pool)
    keys = sorted(str(k) for k in client.scan_iter(match=f"cloudsurge:{job}:*", count=1000))
    return {key: raw.execute_command("DUMP", key, NEVER_DECODE=True) for key in keys}


def test_new_job_id_is_sortable_and_unique() -> None:
    first = new_job_id()
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", first)
    assert len({new_job_id() for _ in range(50)}) == 50


def test_round_trip_in_order_with_progress(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id)
    tasks = [*_tasks(4), Task("C9H20", 1, 4)]
    assert not queue.exists()
    assert queue.create(tasks, META) == 5
    assert queue.exists()
    assert queue.meta() == META
    assert job_id in JobQueue.jobs(redis_client)
    first = queue.lease("w1", 3)
    assert [lease.task for lease in first] == tasks[:3]
    assert all(lease.attempt == 1 for lease in first)
    assert queue.progress() == Counters(
        total=5, done=0, failed=0, structures=0, pending=5, leased=3, formulae=4
    )
    for n, lease in enumerate(first):
        assert queue.complete(lease, _record(queue, lease, structures=n + 1))
    rest = queue.lease("w2", 10)
    assert [lease.task for lease in rest] == tasks[3:]
    assert not queue.finished()
    for lease in rest:
        assert queue.complete(lease, _record(queue, lease, worker="w2", structures=10))
    assert queue.lease("w1", 3) == []
    assert queue.progress() == Counters(5, 5, 0, 1 + 2 + 3 + 20, 0, 0, 4, 4)  # 1 slice of 4
    assert queue.finished()
    records = {record.task: record for record in queue.records()}
    assert set(records) == {task.key for task in tasks}
    assert records["C9H20~1of4"].worker == "w2"
    assert queue.errors() == []


def test_released_leases_come_back_at_once_with_the_same_attempt(
    redis_client: redis.Redis, job_id: str
) -> None:
    """What an interrupted client and a stopping worker do: no wait for the lease to expire,
    no attempt spent; a shard counts its formulae in the progress."""
    queue = JobQueue(redis_client, job_id, lease_seconds=3600)
    shard = Task.shard(["CH4", "C2H6", "C3H8"])
    queue.create([shard, *_tasks(2)], META)
    held = queue.lease("gone", 3)
    assert queue.lease("other", 3) == []  # leased for an hour
    assert queue.release([held[0].entry_id]) == 1
    again = queue.lease("other", 3)
    assert [(lease.task, lease.attempt) for lease in again] == [(shard, 1)]
    assert queue.release() == 3  # every pending one: held[1:] and the one just taken again
    retaken = queue.lease("third", 5)
    assert sorted(lease.attempt for lease in retaken) == [1, 1, 1]
    for lease in retaken:
        queue.complete(lease, [_record(queue, lease, formula=f) for f in lease.task.formulae])
    progress = queue.progress()
    assert (progress.formulae, progress.formulae_final, progress.finished) == (5, 5, True)
    assert queue.stop_requested() is None
    queue.request_stop("interrupted by SIGINT")
    assert queue.stop_requested() == "interrupted by SIGINT"
    queue.clear_stop()
    assert queue.stop_requested() is None


def test_a_split_formula_is_final_with_its_last_slice(
    redis_client: redis.Redis, job_id: str
) -> None:
    queue = JobQueue(redis_client, job_id)
    slices = [Task("C9H20", res, 3) for res in range(3)]
    queue.create([*slices, *_tasks(1)], META)
    assert queue.progress().formulae == 2
    finals = []
    for lease in queue.lease("w", 4):
        queue.complete(lease, _record(queue, lease))
        finals.append(queue.progress().formulae_final)
    assert finals == [0, 0, 1, 2]  # slices first (queued first), then CH4


def test_duplicate_and_unknown_jobs_are_refused(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id)
    queue.create(_tasks(2), META)
    with pytest.raises(QueueError, match="already exists"):
        JobQueue(redis_client, job_id).create(_tasks(1), {})
    assert queue.progress().total == 2
    unknown = JobQueue(redis_client, new_job_id())
    assert not unknown.exists()
    with pytest.raises(QueueError, match="unknown"):
        unknown.meta()
    with pytest.raises(QueueError, match="unknown"):
        unknown.lease("w1", 1)
    with pytest.raises(QueueError, match="invalid job id"):
        JobQueue(redis_client, "a:b")


def test_expired_lease_is_reclaimed_as_new_attempt(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id, lease_seconds=0.3)
    queue.create(_tasks(1), META)
    (held,) = queue.lease("dead", 1)
    assert queue.lease("alive", 1) == []
    time.sleep(0.4)
    (reclaimed,) = queue.lease("alive", 1)
    assert reclaimed.task == held.task
    assert reclaimed.entry_id == held.entry_id
    assert reclaimed.attempt == 2
    assert queue.heartbeat("dead", [held]) == 0
    assert queue.complete(reclaimed, _record(queue, reclaimed, worker="alive", structures=3))
    assert not queue.complete(held, _record(queue, held, worker="dead", structures=3))
    assert queue.progress() == Counters(1, 1, 0, 3, 0, 0, 1, 1)
    (record,) = queue.records()
    assert (record.worker, record.attempts) == ("alive", 2)


def test_heartbeat_keeps_a_long_lease(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id, lease_seconds=0.5)
    queue.create(_tasks(2), META)
    leases = queue.lease("slow", 2)
    for _ in range(6):
        time.sleep(0.15)
        assert queue.heartbeat("slow", leases) == 2
        assert queue.lease("thief", 2) == []
    assert queue.progress().leased == 2


def test_complete_twice_counts_once(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id)
    queue.create(_tasks(1), META)
    (lease,) = queue.lease("w1", 1)
    assert queue.complete(lease, _record(queue, lease, structures=11))
    assert not queue.complete(lease, _record(queue, lease, structures=11))
    assert queue.progress() == Counters(1, 1, 0, 11, 0, 0, 1, 1)
    with pytest.raises(ValueError, match="do not match"):
        queue.complete(lease, _record(queue, Lease(Task("C2H6"), lease.entry_id, 1)))


def test_bounded_retries_then_failed(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id, max_attempts=3)
    queue.create(_tasks(1), META)
    outcomes, attempts = [], []
    for _ in range(3):
        (lease,) = queue.lease("w1", 1)
        attempts.append(lease.attempt)
        failure = _record(
            queue, lease, structures=0, status=TaskStatus.FAILED, error="surge crashed"
        )
        outcomes.append(queue.fail(lease, failure, permanent=False))
    assert attempts == [1, 2, 3]
    assert outcomes == [False, False, True]
    assert queue.lease("w1", 1) == []
    (record,) = queue.records()
    assert (record.status, record.attempts, record.error) == (TaskStatus.FAILED, 3, "surge crashed")
    assert queue.progress() == Counters(1, 0, 1, 0, 0, 0, 1, 1)
    assert queue.finished()
    errors = queue.errors()
    assert len(errors) == 3
    assert all("surge crashed" in line and "C1H4" in line for line in errors)
    assert "attempt 3/3" in errors[-1]


def test_permanent_failure_is_rejected_at_once(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id, max_attempts=3)
    queue.create(_tasks(2), META)
    lease = queue.lease("w1", 1)[0]
    refusal = _record(queue, lease, structures=0, status=TaskStatus.FAILED, error=">E bad formula")
    assert queue.fail(lease, refusal, permanent=True)
    (record,) = queue.records()
    assert (record.status, record.attempts) == (TaskStatus.REJECTED, 1)
    assert queue.progress() == Counters(2, 0, 1, 0, 1, 0, 2, 1)
    assert [lease.task.key for lease in queue.lease("w1", 5)] == ["C2H6"]


def test_lost_leases_exhaust_attempts_then_late_success_wins(
    redis_client: redis.Redis, job_id: str
) -> None:
    queue = JobQueue(redis_client, job_id, lease_seconds=0.2, max_attempts=2)
    queue.create(_tasks(1), META)
    (first,) = queue.lease("a", 1)
    time.sleep(0.25)
    (second,) = queue.lease("b", 1)
    assert second.attempt == 2
    time.sleep(0.25)
    assert queue.lease("c", 1) == []
    (record,) = queue.records()
    assert record.status == TaskStatus.FAILED
    assert record.error == "lease expired 2 times: worker lost"
    assert queue.progress() == Counters(1, 0, 1, 0, 0, 0, 1, 1)
    assert queue.complete(second, _record(queue, second, worker="b", structures=4))
    assert queue.progress() == Counters(1, 1, 0, 4, 0, 0, 1, 1)
    assert not queue.complete(first, _record(queue, first, worker="a", structures=4))
    assert queue.records()[0].worker == "b"


def test_jobs_never_touch_each_other(redis_client: redis.Redis) -> None:
    mine, other = JobQueue(redis_client, new_job_id()), JobQueue(redis_client, new_job_id())
    mine.create(_tasks(3), META)
    other.create(_tasks(3), {"output": "elsewhere"})
    before = _job_keys(redis_client, other.job)
    assert sorted(before) == [f"cloudsurge:{other.job}:{n}" for n in ("meta", "progress", "stream")]
    leases = mine.lease("w1", 3)
    mine.complete(leases[0], _record(mine, leases[0]))
    failed = TaskStatus.FAILED
    mine.fail(leases[1], _record(mine, leases[1], status=failed, error="x"), permanent=False)
    mine.fail(leases[2], _record(mine, leases[2], status=failed, error="y"), permanent=True)
    mine.heartbeat("w1", leases)
    assert set(_job_keys(redis_client, mine.job)) == {
        f"cloudsurge:{mine.job}:{name}" for name in ("meta", "stream", "records", "errors",
                                                    "progress")
    }  # fmt: skip
    assert mine.delete() == 5
    assert _job_keys(redis_client, mine.job) == {}
    assert _job_keys(redis_client, other.job) == before
    assert other.progress() == Counters(3, 0, 0, 0, 3, 0, 3, 0)
    assert mine.job not in JobQueue.jobs(redis_client)


def test_unreachable_redis_fails_fast_without_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(QueueError, match="cannot reach Redis") as caught:
        connect(f"redis://:hunter2secret@127.0.0.1:{port}/0")
    assert time.monotonic() - started < 3.0
    assert "hunter2secret" not in str(caught.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in str(caught.value)


def test_wrong_password_and_bad_url(redis_server: RedisServer) -> None:
    with pytest.raises(QueueError, match="refused the credentials") as caught:
        connect(f"redis://:not-the-password@127.0.0.1:{redis_server.port}/0")
    assert "not-the-password" not in str(caught.value)
    with pytest.raises(QueueError, match="bad Redis URL"):
        connect("http://:pw@127.0.0.1:1/0")
    with pytest.raises(QueueError, match="decode_responses"):
        JobQueue(redis.Redis.from_url(redis_server.url), new_job_id())


def test_large_job_is_created_in_batches(redis_client: redis.Redis, job_id: str) -> None:
    queue = JobQueue(redis_client, job_id)
    count = 50_000
    started = time.monotonic()
    tasks = (Task("C30H62", n, count) for n in range(count))
    assert queue.create(tasks, META) == count
    assert time.monotonic() - started < 20
    assert [lease.task.res for lease in queue.lease("w1", 3)] == [0, 1, 2]
    assert queue.progress().total == count
    queue.delete()


def test_restart_with_aof_mid_job_loses_nothing() -> None:
    with RedisServer(appendonly=True) as server:
        client = connect(server.url)
        queue = JobQueue(client, new_job_id(), lease_seconds=0.3)
        queue.create(_tasks(30), META)
        held = queue.lease("w1", 10)
        for lease in held[:5]:
            queue.complete(lease, _record(queue, lease))
        server.restart()
        for lease in held[5:]:
            assert queue.complete(lease, _record(queue, lease))
        deadline = time.monotonic() + 10
        while not queue.finished() and time.monotonic() < deadline:
            for lease in queue.lease("w2", 8):
                assert queue.complete(lease, _record(queue, lease, worker="w2"))
        assert queue.progress() == Counters(30, 30, 0, 30 * 7, 0, 0, 30, 30)
        assert sorted(r.task for r in queue.records()) == sorted(t.key for t in _tasks(30))
        client.close()


def _drain(url: str, job: str, name: str, results: multiprocessing.Queue) -> None:
    queue = JobQueue.open(url, job)
    done: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        leases = queue.lease(name, 5)
        if not leases:
            if queue.finished():
                break
            time.sleep(0.01)
            continue
        for lease in leases:
            time.sleep(0.002)
            if queue.complete(lease, _record(queue, lease, worker=name, structures=1)):
                done.append(lease.task.key)
    results.put((name, done))


def test_concurrent_consumers_complete_every_task_once(redis_url: str, job_id: str) -> None:
    queue = JobQueue(connect(redis_url), job_id)
    tasks = [Task("C12H26", n, 200) for n in range(200)]
    queue.create(tasks, META)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(target=_drain, args=(redis_url, job_id, f"p{n}", results)) for n in range(4)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0
    counts = Counter(key for _, keys in collected for key in keys)
    assert set(counts) == {task.key for task in tasks}
    assert set(counts.values()) == {1}
    assert sum(1 for _, keys in collected if keys) >= 2
    assert queue.progress() == Counters(200, 200, 0, 200, 0, 0, 1, 1)
    assert len(queue.records()) == 200


def test_a_client_present_while_it_drives_and_gone_after_or_when_it_dies(
    redis_client: redis.Redis, job_id: str
) -> None:
    """What `status` and `stop` read: the key of the client driving the job, renewed while
    its `with` lasts, deleted after it, expiring on its own if the client is killed."""
    queue = JobQueue(redis_client, job_id)
    queue.create(_tasks(1), META)
    assert holder(queue) is None
    with Presence(queue, "PID 1 on pod-a"):
        assert holder(queue) == "PID 1 on pod-a"
        assert 0 < redis_client.ttl(queue.client_key) <= PRESENCE_SECONDS
    assert holder(queue) is None
    queue.delete()
    assert not redis_client.keys(f"cloudsurge:{job_id}:*")
