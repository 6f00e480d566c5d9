"""SIGINT and SIGTERM during a run: turned into one exception at a point where the client can
stop cleanly (workers stopped, leases returned, records saved, the resume command printed).

While the job is being queued the signal waits (a half-queued job could not be resumed);
once the client is stopping, further signals are noted and ignored, so a second Ctrl-C
cannot cut the saving of the records short.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(BaseException):
    """A SIGINT or SIGTERM reached the client (a BaseException, like KeyboardInterrupt, so
    no `except Exception` on the way swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)


class SignalGuard:
    """Installs the handlers (main thread only; elsewhere it does nothing) for its `with`."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._armed = True
        self._stopping = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None or self._stopping:
            return  # already stopping
        self.received = signum
        if self._armed:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A section a signal must not cut: a signal in it is raised by the next `check()`."""
        self._armed = False
        try:
            yield
        finally:
            self._armed = not self._stopping

    def check(self) -> None:
        """Raise now a signal that arrived while deferred."""
        if self.received is not None and not self._stopping:
            raise Interrupted(self.received)

    def stopping(self) -> None:
        """From now on signals are noted, not raised: the client is already stopping."""
        self._armed = False
        self._stopping = True

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_CODES:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
