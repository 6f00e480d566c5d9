"""A real private redis-server for the tests (AOF on), shared by the whole session.

Tests isolate themselves by job id (`job_id` fixture), never by FLUSHALL, so they can share
one server. A test that restarts or kills Redis must start its own: `RedisServer(...)`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from cloudsurge_dask.queue.jobqueue import new_job_id
from cloudsurge_dask.queue.redisclient import connect
from cloudsurge_dask.queue.redisserver import RedisServer

__all__ = ["RedisServer", "job_id", "redis_client", "redis_server", "redis_url"]


def _require_redis() -> None:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server not on PATH (apt-get install -y redis-server)")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session, with the append-only file on."""
    _require_redis()
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session server (contains its password: never print it)."""
    return redis_server.url


@pytest.fixture
def job_id() -> str:
    """A fresh job id, so tests sharing the server never touch each other's keys."""
    return new_job_id()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A checked client (decode_responses=True) from `redisclient.connect`."""
    client = connect(redis_url)
    yield client
    client.close()
