"""The local state of a job on the embedded default: a folder with its private Redis.

The embedded Redis writes every change to an append-only file in this folder, so a run
stopped any way at all (Ctrl-C, SIGTERM, SIGKILL, a full disk) can be resumed from it. For a
local output the folder is `OUTPUT/JOB/state/`, next to what it describes; for a remote one
(`gs://`) it is `$XDG_STATE_HOME/cloudsurge-dask/JOB/` (default `~/.local/state`). The folder
is private to its user (mode 0700, the config holding the password 0600). A lock held for the
length of a run keeps a second client from starting the same job's Redis on the same files;
the kernel drops it however the holder ends. A reserve file gives back a few MiB when the
disk fills up, so Redis can still flush its last writes and the records can be saved.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from ..errors import ConfigError
from ..output.layout import job_url
from ..storage import is_local
from .redisserver import RedisServer, advertised, config_value

STATE_FOLDER = "state"
_CONFIG = "redis.conf"  # what RedisServer writes; its presence means "a saved state"
_LOCK = "lock"
_RESERVE = "reserve"
RESERVE_BYTES = 8 << 20


def _user_state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "cloudsurge-dask"


class LocalState:
    """One job's state folder; `server()` is its Redis, `lock()` the run's exclusive hold."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock: IO[str] | None = None

    @classmethod
    def of(cls, output: str, job: str) -> LocalState:
        if is_local(output):
            root = Path(job_url(output.removeprefix("file://"), job)).absolute()
            return cls(root / STATE_FOLDER)
        return cls(_user_state_home() / job)

    def __repr__(self) -> str:
        return f"LocalState({str(self.folder)!r})"

    def exists(self) -> bool:
        """True once a server has written its config here (a job that can be resumed)."""
        return (self.folder / _CONFIG).is_file()

    def create(self) -> None:
        """The folder (private to this user) and its reserve."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.folder.chmod(0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create the job's state folder {self.folder}: {exc}") from exc
        self.refill_reserve()

    def server(self, bind: str | None = None) -> RedisServer:
        """The job's Redis, keeping every write in the append-only file of this folder;
        listening on `bind` (default loopback) for workers on other machines."""
        return RedisServer(appendonly=True, directory=self.folder, bind=bind)

    def live_url(self) -> str | None:
        """The URL of the job's Redis while a client runs it (None if nobody does)."""
        if self.holder() is None:
            return None
        config = self.folder / _CONFIG
        port, password = config_value(config, "port"), config_value(config, "requirepass")
        if port is None or password is None:
            return None
        host = advertised(config_value(config, "bind") or "127.0.0.1")
        return f"redis://:{password}@{host}:{port}/0"

    def lock(self) -> None:
        """Hold the job for this process, or say which process holds it."""
        path = self.folder / _LOCK
        handle = open(path, "a+")  # noqa: SIM115 (held until release() or process end)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"the job is being run by {holder} (its state {self.folder} is locked)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def holder(self) -> str | None:
        """Who runs the job right now (`PID n`), or None if nobody holds its lock."""
        path = self.folder / _LOCK
        if not path.is_file():
            return None
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another process"
        return None

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def free_reserve(self) -> bool:
        """Delete the reserve (the disk is full): True if there was one."""
        try:
            (self.folder / _RESERVE).unlink()
        except FileNotFoundError:
            return False
        return True

    def refill_reserve(self) -> None:
        """Put the reserve back if the disk has room; a full disk just goes without one."""
        path = self.folder / _RESERVE
        if path.is_file() and path.stat().st_size == RESERVE_BYTES:
            return
        try:
            with open(path, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()

    def remove(self) -> None:
        """Forget the state (the job is finished: its records are in the output)."""
        self.release()
        shutil.rmtree(self.folder, ignore_errors=True)
