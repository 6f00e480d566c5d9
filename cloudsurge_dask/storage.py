"""Where parts and manifests go: any fsspec URL (local path, `gs://`, `memory://`, ...).

A `Store` is a root URL plus relative paths. Every operation retries transient failures
(network errors, timeouts, HTTP 5xx/408/429) with exponential backoff and jitter, then raises
one `StorageError` that names the operation and the URL. Retries are bounded once: on `gs://`
gcsfs already retries each request (6 tries over ~30 s), so there a `Store` makes a single
attempt, and gcsfs's log records (a traceback when it gives up) are kept off the terminal
unless `GCSFS_DEBUG` asks for them. Writes are all-or-nothing for a
reader: object stores publish an object on close; on a local disk we write a hidden
temporary name in the same folder and rename it. Data always goes from memory to the store:
no local temporary files.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import fsspec

from .errors import ObjectNotFound, StorageError

STORAGE_ATTEMPTS = 5  # attempts per operation (one on gs://, where gcsfs retries each request)
BACKOFF_SECONDS = 0.2  # first pause; doubles per attempt, jittered by x0.5-1.5
MAX_BACKOFF_SECONDS = 5.0
_PERMANENT_ERRNOS = {
    errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOENT,
    errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.EINVAL,
}  # fmt: skip
_GCS_PROTOCOLS = {"gs", "gcs"}
_T = TypeVar("_T")


def _gcsfs_quiet() -> None:
    """gcsfs logs a traceback (`logger.exception`) each time it runs out of retries; with no
    handler of ours Python's last-resort handler prints it on stderr, from every worker. The
    `StorageError` we raise says what failed, so its log stays off the terminal (unless
    `GCSFS_DEBUG` asks for it, when gcsfs installs its own handler)."""
    if os.environ.get("GCSFS_DEBUG"):
        return
    logger = logging.getLogger("gcsfs")
    logger.propagate = False
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _without_grpc_probe() -> None:
    """gcsfs reads this switch when it is imported and otherwise asks every bucket's type over
    gRPC/TLS (a ~60 s stall against an HTTP emulator). Every URL is opened through this module,
    so setting it here, before fsspec first imports gcsfs, covers every process (Dask workers
    included) without a side effect at import time."""
    os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


def open_file(url: str, mode: str) -> Any:
    """An fsspec file context for a single file (compression inferred from the name)."""
    _without_grpc_probe()
    if url.split("://", 1)[0] in _GCS_PROTOCOLS:
        _gcsfs_quiet()
    return fsspec.open(url, mode, compression="infer")


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: network trouble, timeouts, HTTP 5xx/408/429."""
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return False
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return False
    if isinstance(exc, OSError):  # includes TimeoutError, ConnectionError, aiohttp's OS errors
        return exc.errno not in _PERMANENT_ERRNOS
    code = getattr(exc, "code", None)  # gcsfs.retry.HttpError (an int, sometimes a str)
    if code is None:
        code = getattr(exc, "status", None)  # aiohttp.ClientResponseError
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    return isinstance(code, int) and (code >= 500 or code in (408, 429))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found (missing folder or bucket?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, NotADirectoryError):
        return "a parent path is a file, not a folder"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "no space left on device (the disk is full)"
    if isinstance(exc, OSError) and exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return f"{type(exc).__name__}: {exc}"


class Store:
    """A root location and relative paths beneath it; see the module docstring."""

    def __init__(
        self,
        url: str,
        fs: Any,
        root: str,
        options: dict[str, Any] | None = None,
        retries: int = STORAGE_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
    ) -> None:
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/")
        self.options = dict(options or {})
        self.retries = max(1, retries)
        self.backoff = backoff
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
        self.local = "file" in protocols
        self.gcs = bool(_GCS_PROTOCOLS.intersection(protocols))  # gcsfs retries each request

    def __reduce__(self) -> tuple[Any, ...]:
        # Reopen by URL in the receiving process so gcsfs is imported after our env setup.
        return (_reopen, (self.url, self.options, self.retries, self.backoff))

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def path(self, relpath: str) -> str:
        """The filesystem path of `relpath` (no protocol), checked to stay under the root."""
        parts = relpath.split("/")
        if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not a clean relative path: {relpath!r}")
        return f"{self.root}/{relpath}"

    def url_of(self, relpath: str) -> str:
        path = self.path(relpath)
        return path if self.local else str(self.fs.unstrip_protocol(path))

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Publish `data` at `relpath` all at once, replacing what was there."""
        path = self.path(relpath)
        if self.local:
            self._retry("write", relpath, lambda: self._write_local(path, data))
        else:
            self._retry("write", relpath, lambda: self._write_object(path, data))

    def _write_local(self, path: str, data: bytes) -> None:
        folder, name = path.rsplit("/", 1)
        self.fs.makedirs(folder, exist_ok=True)
        temporary = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            self.fs.pipe_file(temporary, data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def _write_object(self, path: str, data: bytes) -> None:
        self.fs.pipe_file(path, data)
        self.fs.invalidate_cache(path.rsplit("/", 1)[0])

    def read_bytes(self, relpath: str) -> bytes:
        """The whole object; `ObjectNotFound` if it does not exist."""
        path = self.path(relpath)
        data: bytes = self._retry("read", relpath, lambda: self.fs.cat_file(path), missing=True)
        return data

    def exists(self, relpath: str) -> bool:
        path = self.path(relpath)

        def probe() -> bool:
            self.fs.invalidate_cache(path)
            return bool(self.fs.exists(path))

        return self._retry("check", relpath, probe)

    def list(self, relprefix: str = "") -> list[str]:
        """Sorted relative paths of every object under the folder `relprefix` (recursive).

        Hidden names (our temporary files and probes) are left out.
        """
        base = self.path(relprefix.strip("/")) if relprefix.strip("/") else self.root

        def find() -> list[str]:
            self.fs.invalidate_cache(base)
            return list(self.fs.find(base))

        found = self._retry("list", relprefix or ".", find)
        start = len(self.root) + 1
        names = []
        for full in found:
            full = full.rstrip("/")
            if not full.startswith(base + "/") or full.rsplit("/", 1)[-1].startswith("."):
                continue
            names.append(full[start:])
        return sorted(names)

    def delete(self, relpath: str) -> None:
        """Remove one object; a missing object is already deleted."""
        path = self.path(relpath)

        def remove() -> None:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)
            self.fs.invalidate_cache(path.rsplit("/", 1)[0])

        self._retry("delete", relpath, remove)

    def _retry(
        self, what: str, relpath: str, operation: Callable[[], _T], missing: bool = False
    ) -> _T:
        delay = self.backoff
        where = self.url_of(relpath) if relpath not in ("", ".") else self.url
        for attempt in range(1, self.retries + 1):
            try:
                return operation()
            except FileNotFoundError as exc:
                if missing:
                    raise ObjectNotFound(f"cannot {what} {where}: no such object") from exc
                raise StorageError(f"cannot {what} {where}: {_describe(exc)}") from exc
            except Exception as exc:
                if not is_transient(exc) or attempt == self.retries:
                    tries = f" after {attempt} attempts" if attempt > 1 else ""
                    if self.gcs and is_transient(exc):
                        tries = " after gcsfs's retries"
                    raise StorageError(f"cannot {what} {where}{tries}: {_describe(exc)}") from exc
            time.sleep(min(delay, MAX_BACKOFF_SECONDS) * random.uniform(0.5, 1.5))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


def _storage_options(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    if protocol in _GCS_PROTOCOLS and (
        os.environ.get("STORAGE_EMULATOR_HOST") or options.get("endpoint_url")
    ):
        options.setdefault("token", "anon")  # the emulator takes no credentials
    return options


def protocol(url: str) -> str:
    """`gs`, `memory`, ...; `file` for a plain path."""
    return url.split("://", 1)[0] if "://" in url else "file"


def is_local(url: str) -> bool:
    """A plain path or `file://` URL: the output is a folder on this machine."""
    return protocol(url) == "file"


def local_path(url: str) -> str:
    """The absolute path of a local output (`is_local`)."""
    return os.path.abspath(url.removeprefix("file://"))


def open_store(url: str, **options: Any) -> Store:
    """A `Store` rooted at `url`; `options` go to the fsspec filesystem (e.g. `endpoint_url`).

    `gs://` uses Application Default Credentials (Workload Identity on GKE), or anonymous
    access when `STORAGE_EMULATOR_HOST` or `endpoint_url` points at an emulator. On `gs://`
    every operation is a single attempt: gcsfs's own retries are the bound.
    """
    retries = int(options.pop("retries", STORAGE_ATTEMPTS))
    backoff = float(options.pop("backoff", BACKOFF_SECONDS))
    if not url:
        raise StorageError("no output location given")
    kind = protocol(url)
    _without_grpc_probe()
    if kind in _GCS_PROTOCOLS:
        retries = 1
        _gcsfs_quiet()
    fs_options = _storage_options(kind, options)
    try:
        fs, root = fsspec.core.url_to_fs(url, **fs_options)
    except Exception as exc:  # unknown protocol, missing backend, unusable credentials
        raise StorageError(f"cannot open storage {url}: {type(exc).__name__}: {exc}") from exc
    if "file" in ((fs.protocol,) if isinstance(fs.protocol, str) else fs.protocol):
        url = root  # an absolute local path reads best in messages and records
    return Store(url.rstrip("/"), fs, root, options, retries, backoff)


def _reopen(url: str, options: dict[str, Any], retries: int, backoff: float) -> Store:
    return open_store(url, retries=retries, backoff=backoff, **options)


def check_writable(url: str, **options: Any) -> Store:
    """Write, read back and delete a probe object; one clear `StorageError` if that fails."""
    store = open_store(url, **options)
    probe = f".cloudsurge-probe-{uuid.uuid4().hex}"
    payload = b"cloudsurge-dask write probe\n"
    try:
        store.write_bytes(probe, payload)
        if store.read_bytes(probe) != payload:
            raise StorageError(f"{store.url_of(probe)}: read back different bytes than written")
        store.delete(probe)
    except StorageError as exc:
        raise StorageError(f"output location {store.url} is not writable: {exc}") from exc
    return store
