"""The private redis-server: start, password hygiene, restart with AOF, clear start-up errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cloudsurge_dask.errors import QueueError
from cloudsurge_dask.queue.redisclient import redacted_url
from cloudsurge_dask.queue.redisserver import RedisServer


def _password(url: str) -> str:
    return url.split("://:", 1)[1].split("@", 1)[0]


def test_url_answers_and_password_stays_hidden(redis_server: RedisServer) -> None:
    url = redis_server.url
    password = _password(url)
    assert url == f"redis://:{password}@127.0.0.1:{redis_server.port}/0"
    assert len(password) >= 24
    assert redis.Redis.from_url(url).ping()
    assert password not in repr(redis_server)
    assert password not in redacted_url(url)
    assert redacted_url(url) == f"redis://:***@127.0.0.1:{redis_server.port}/0"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(
            host="127.0.0.1", port=redis_server.port, password="wrong", retry=Retry(NoBackoff(), 0)
        ).ping()


def test_password_not_on_command_line_and_config_private(redis_server: RedisServer) -> None:
    password = _password(redis_server.url)
    assert redis_server._process is not None
    cmdline = Path(f"/proc/{redis_server._process.pid}/cmdline").read_bytes()
    assert password.encode() not in cmdline
    config = redis_server.directory / "redis.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_redacted_url_variants() -> None:
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redacted_url("redis://user:s3cr%40t@host:1/2") == "redis://user:***@host:1/2"
    assert redacted_url("rediss://:pw@[::1]:7000") == "rediss://:***@[::1]:7000"


def test_restart_keeps_port_password_and_aof_data() -> None:
    with RedisServer(appendonly=True) as server:
        url, directory = server.url, server.directory
        redis.Redis.from_url(url).set("survivor", "yes")
        server.restart()
        assert server.url == url
        assert server.directory == directory
        assert redis.Redis.from_url(url).get("survivor") == b"yes"
    assert not server.running
    assert not directory.exists()


def test_restart_without_aof_loses_data() -> None:
    with RedisServer(appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        client.set("ephemeral", "1")
        server.restart()
        assert client.get("ephemeral") is None


def test_missing_binary_names_debian_package() -> None:
    with pytest.raises(QueueError, match="Debian package redis-server"):
        RedisServer(binary="no-such-redis-server-binary").start()


def test_crashing_binary_reports_exit_and_log_tail(tmp_path: Path) -> None:
    fake = tmp_path / "fake-redis"
    fake.write_text("#!/bin/sh\necho 'fatal: pretend config error'\nexit 3\n")
    fake.chmod(0o755)
    server = RedisServer(binary=str(fake), directory=tmp_path / "data", startup_timeout=5)
    (tmp_path / "data").mkdir()
    with pytest.raises(QueueError) as caught:
        server.start()
    message = str(caught.value)
    assert str(fake) in message
    assert "exited with code 3" in message
    assert "pretend config error" in message
    assert _password(server.url) not in message
    assert not server.running


def test_stop_is_idempotent_and_keeps_a_given_directory(tmp_path: Path) -> None:
    server = RedisServer(directory=tmp_path)
    server.start()
    assert server.running
    server.stop()
    server.stop()
    assert not server.running
    assert (tmp_path / "redis.log").exists()
    assert os.path.isdir(tmp_path)


def test_forgotten_server_does_not_outlive_python(tmp_path: Path) -> None:
    script = (
        "from cloudsurge_dask.queue.redisserver import RedisServer\n"
        "server = RedisServer().start()\n"
        "print(server._process.pid, server.directory)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
    )
    pid, directory = done.stdout.split()
    assert not Path(directory).exists()
    assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
