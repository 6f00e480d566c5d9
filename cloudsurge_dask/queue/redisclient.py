"""The one way every part of the project connects to a Redis: checked, retried through a
restart, its password never shown (`redacted_url` for anything printed or logged)."""

from __future__ import annotations

import contextlib
import time
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from ..errors import ConfigError, QueueError


def redacted_url(url: str) -> str:
    """`url` with its password replaced by `***`, safe to print or log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable Redis URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    with contextlib.suppress(ValueError):
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _scrub(text: str, url: str) -> str:
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            text = text.replace(password, "***").replace(unquote(password), "***")
    return text


def required_url(url: str | None, who: str) -> str:
    """The one check that a command which cannot embed a Redis of its own was given one."""
    if not url:
        raise ConfigError(f"{who} needs --redis-url (or CLOUDSURGE_REDIS_URL)")
    return url


REDIS_RETRIES = 63  # 0.05 s doubling to a 2 s cap: ~2 minutes in all


def connect(url: str, *, timeout: float = 10.0, patient: bool = False) -> redis.Redis:
    """A checked client; transient connection errors are retried with backoff for ~2 minutes.

    The budget covers a Redis pod deleted and recreated by its StatefulSet (old pod gone, new
    one scheduled, volume mounted, AOF loaded, readiness probe passed, Service endpoint back):
    ~70 s on the test cluster of scripts/test-kubernetes.sh, and on GKE the volume may have to
    move to another node. The first PING is tried once (a person typing a wrong address hears
    so at once) unless `patient`: a worker (re)started while Redis restarts waits it out too."""
    shown = redacted_url(url)
    options: dict[str, Any] = {
        "socket_connect_timeout": min(timeout, 3.0),
        "socket_timeout": timeout,
        "socket_keepalive": True,
        "decode_responses": True,
    }
    try:
        probe = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    except ValueError as exc:
        raise QueueError(f"bad Redis URL {shown}: {_scrub(str(exc), url)}") from None
    try:
        _first_ping(probe, patient)
    except redis.AuthenticationError as exc:
        message = _scrub(str(exc), url)
        raise QueueError(f"Redis at {shown} refused the credentials: {message}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        message = _scrub(str(exc), url)
        raise QueueError(f"cannot reach Redis at {shown}: {message}") from None
    except redis.RedisError as exc:
        raise QueueError(f"Redis at {shown} answered: {_scrub(str(exc), url)}") from None
    finally:
        probe.close()
    backoff = Retry(ExponentialBackoff(cap=2.0, base=0.05), REDIS_RETRIES)
    return redis.Redis.from_url(url, retry=backoff, health_check_interval=30, **options)


def _first_ping(probe: redis.Redis, patient: bool) -> None:
    """PING once, or (patient) through connection errors with the same budget as later calls."""
    pauses = ExponentialBackoff(cap=2.0, base=0.05)
    for attempt in range(REDIS_RETRIES if patient else 0):
        try:
            probe.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            time.sleep(pauses.compute(attempt))
    probe.ping()
