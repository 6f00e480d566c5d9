"""A private `redis-server` for the embedded default of `run` and for the tests.

It listens on a free loopback port (or on `bind`, an address compute nodes reach), requires a
random password and keeps its files in its own directory. The password goes into a mode-0600
config file rather than onto the command line, so it never shows up in `ps`, in logs or in a
repr. Clients reach it, like any Redis, through `redisclient.connect`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import QueueError

HOST = "127.0.0.1"
_LOG = "redis.log"
_CONF = "redis.conf"


def _free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _cleanup(process: subprocess.Popen[bytes], directory: Path | None) -> None:
    """Last resort when a server is garbage-collected or Python exits without `stop()`."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A pre-exec hook that makes the kernel send `sig` to the child when the thread that
    started it ends, so no child (a Redis server, a screening process) outlives its parent
    however the parent ends (SIGKILL included); SIGTERM lets Redis flush its append-only
    file first. Resolved before the fork: the hook itself only makes two system calls."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before the call: nobody to wait for
            os._exit(1)

    return hook


def config_value(config: Path, key: str) -> str | None:
    """One value (`requirepass`, `port`) of a config this module wrote: to restart a server
    from its state, or to reach the server of a job running now."""
    try:
        lines = config.read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value:
            return value
    return None


def advertised(bind: str) -> str:
    """The host a client names to reach a server bound to `bind` (all addresses: this host)."""
    return socket.getfqdn() if bind in ("0.0.0.0", "::", "*") else bind


_T = TypeVar("_T")


def _started(value: _T | None) -> _T:
    """A value only a started server has (its port, its directory)."""
    if value is None:
        raise QueueError("the embedded Redis server has not been started")
    return value


class RedisServer:
    """One `redis-server` child process; `restart()` keeps port, password and data dir.

    With `appendonly=True` every write goes to the append-only file, so a restart (graceful:
    SIGTERM makes Redis flush the AOF) loses nothing; that is what the fault tests rely on.
    Given a `directory` that holds a config of an earlier server, it starts from that state
    with the same password (a resumed job). With `die_with_parent` (the default) a server
    started from the main thread ends with its process, however that ends.
    """

    def __init__(
        self,
        *,
        appendonly: bool = False,
        binary: str | None = None,
        directory: str | os.PathLike[str] | None = None,
        startup_timeout: float = 10.0,
        die_with_parent: bool = True,
        bind: str | None = None,
    ) -> None:
        self.bind = bind or HOST
        self.appendonly = appendonly
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self._binary = binary
        self._own_dir = directory is None
        self._dir = Path(directory) if directory is not None else None
        known = config_value(self._dir / _CONF, "requirepass") if self._dir is not None else None
        self._password = known or secrets.token_urlsafe(24)
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        return _started(self._port)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer(port={self._port}, dir={str(self._dir)!r}, {state})"

    @property
    def url(self) -> str:
        """`redis://:PASSWORD@127.0.0.1:PORT/0` — secret: print `redacted_url(url)` instead."""
        return f"redis://:{self._password}@{advertised(self.bind)}:{self.port}/0"

    @property
    def directory(self) -> Path:
        return _started(self._dir)

    def start(self) -> RedisServer:
        """Start on a fresh free port (retried if another process grabs it first)."""
        if self.running:
            return self
        executable = self._find_binary()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="cloudsurge-redis-"))
        if self._port is not None:
            self._launch(executable)
            return self
        for _ in range(3):
            self._port = _free_port(self.bind)
            try:
                self._launch(executable)
                return self
            except QueueError:
                if "Address already in use" not in self._log_tail():
                    raise
        raise QueueError(f"{executable}: no free port on {self.bind}:\n{self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGTERM flushes the AOF); removes the directory if it made it."""
        self._terminate(timeout)
        if self._own_dir and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._port = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again with the same port, password and directory."""
        _started(self._port)
        self._terminate(timeout)
        self._launch(self._find_binary())

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _find_binary(self) -> str:
        found = shutil.which(self._binary or "redis-server")
        if found is None:
            raise QueueError(
                f"{self._binary or 'redis-server'} not found on PATH: install the Debian "
                "package redis-server (apt-get install -y redis-server) or pass --redis-url"
            )
        return found

    def _write_config(self) -> Path:
        config = self.directory / _CONF
        lines = [
            f"bind {self.bind}",
            f"port {self.port}",
            f"requirepass {self._password}",
            'save ""',
            f"appendonly {'yes' if self.appendonly else 'no'}",
            f'dir "{self.directory}"',
            "daemonize no",
            "protected-mode yes",
        ]
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return config

    def _launch(self, executable: str) -> None:
        config = self._write_config()
        log_path = self.directory / _LOG
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(
                [executable, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                preexec_fn=die_with_parent() if self._tied() else None,
            )
        # Its own session shields it from a terminal's Ctrl-C; still never outlive Python.
        weakref.finalize(self, _cleanup, self._process, self._dir if self._own_dir else None)
        self._wait_ready(executable)

    def _tied(self) -> bool:
        """Tie the server's life to this thread only from the main thread: the kernel's
        signal fires when the starting *thread* ends, and a helper thread (one that
        restarts the server, say) ends long before the process."""
        return self.die_with_parent and threading.current_thread() is threading.main_thread()

    def _wait_ready(self, executable: str) -> None:
        client = redis.Redis(
            host=HOST if advertised(self.bind) != self.bind else self.bind,
            port=self.port,
            password=self._password,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        deadline = time.monotonic() + self.startup_timeout
        try:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    break
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    time.sleep(0.02)
        finally:
            client.close()
        code = None if self._process is None else self._process.poll()
        self._terminate(1.0)
        why = f"exited with code {code}" if code is not None else "did not answer PING"
        raise QueueError(
            f"{executable} {why} within {self.startup_timeout:g} s on {self.bind}:{self._port}; "
            f"log tail:\n{self._log_tail()}"
        )

    def _terminate(self, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def _log_tail(self, lines: int = 15) -> str:
        if self._dir is None:
            return ""
        try:
            text = (self._dir / _LOG).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]).replace(self._password, "***")
