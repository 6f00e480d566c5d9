"""The screening stage of a worker: between the generator's stdout and the sink, in order.

The generator's blocks are cut into chunks of whole lines and screened either in this
process (one screening process) or by child processes (`python -m
cloudsurge_dask.screen.child`, one per core the drain may use), chunks dealt round-robin and
read back in the same order, so a redone task writes identical parts. At most two chunks
per child are in flight: when the children are busy the stage stops reading, the pipe from
the generator fills and the generator waits (back-pressure, bounded memory). Children die
with their drain (PR_SET_PDEATHSIG, and end of input) and are replaced after any failure.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..errors import ScreenError, TornOutput
from ..queue.redisserver import die_with_parent
from .screener import Screener, ScreenSpec, Tally

CHUNK_LINES = 2048  # ~0.1-1 s of RDKit work: IPC per structure is noise beside it
IN_FLIGHT = 2  # chunks per child process
_HEADER = struct.Struct("<Q")


def send(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next framed value; EOFError when the other side is gone."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class _Child:
    """One screening process; its spec is the first frame it reads."""

    def __init__(self, spec: ScreenSpec) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cloudsurge_dask.screen.child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )  # fmt: skip
        assert self.process.stdin is not None and self.process.stdout is not None
        self.input, self.output = self.process.stdin, self.process.stdout
        send(self.input, spec)

    def submit(self, lines: list[bytes]) -> None:
        try:
            send(self.input, lines)
        except (BrokenPipeError, OSError):
            raise ScreenError(self._gone()) from None

    def ready(self) -> None:
        """Wait until its screens are built (or raise why they cannot be)."""
        self.result()

    def result(self) -> tuple[bytes, Tally]:
        try:
            kind, value = receive(self.output)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise ScreenError(self._gone()) from None
        if kind == "error":
            raise ScreenError(value)
        return value

    def _gone(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(2)
        return f"a screening process ended with status {self.process.returncode}"

    def close(self, kill: bool = False) -> None:
        if kill and self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(OSError):
            self.input.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.close()


def _lines(tagged: Iterable[tuple[str, bytes | bytearray]]) -> Iterator[tuple[str, list[bytes]]]:
    """(formula, chunk of whole lines without their newlines); a formula's output must end
    with a newline (else it was cut short)."""
    carry, current = b"", None
    pending: list[bytes] = []
    for formula, block in tagged:
        if formula != current:
            if carry:
                raise TornOutput(f"{current}: output does not end with a newline")
            if pending:
                yield current or "", pending
                pending = []
            current = formula
        if not block:
            continue
        *whole, carry = (carry + bytes(block)).split(b"\n")
        pending.extend(whole)
        while len(pending) >= CHUNK_LINES:
            yield formula, pending[:CHUNK_LINES]
            pending = pending[CHUNK_LINES:]
    if carry:
        raise TornOutput(f"{current}: output does not end with a newline")
    if pending and current is not None:
        yield current, pending


class ScreenStage:
    """Screens tasks for one drain: `run(tagged blocks)` yields kept blocks in order and fills
    `tallies` (per formula) by the time it is exhausted."""

    def __init__(self, spec: ScreenSpec, processes: int = 1) -> None:
        self.spec = spec
        self.processes = max(1, processes)
        self._inline: Screener | None = None
        self._children: list[_Child] = []
        self.tallies: dict[str, Tally] = {}

    def start(self) -> None:
        """Build the screens now (the models load, the children start, in parallel), so that
        the first task does not pay for it; `run` starts them itself otherwise."""
        if self.processes == 1:
            if self._inline is None:
                self._inline = Screener(self.spec)
            return
        if not self._children:
            children = [_Child(self.spec) for _ in range(self.processes)]
            try:
                for child in children:
                    child.ready()
            except ScreenError:
                for child in children:
                    child.close(kill=True)
                raise
            self._children = children

    def _tally(self, formula: str, tally: Tally) -> None:
        self.tallies.setdefault(formula, Tally(removed=[0] * len(self.spec.labels))).add(tally)

    def run(self, tagged: Iterable[tuple[str, bytes | bytearray]]) -> Iterator[bytes]:
        self.tallies = {}
        self.start()
        if self._inline is not None:
            for formula, lines in _lines(tagged):
                out, tally = self._inline.screen(lines)
                self._tally(formula, tally)
                if out:
                    yield out
            return
        yield from self._parallel(tagged)

    def _parallel(self, tagged: Iterable[tuple[str, bytes | bytearray]]) -> Iterator[bytes]:
        flight: collections.deque[tuple[str, _Child]] = collections.deque()
        done = False
        try:
            for turn, (formula, lines) in enumerate(_lines(tagged)):
                if len(flight) >= IN_FLIGHT * len(self._children):
                    yield from self._collect(flight)
                child = self._children[turn % len(self._children)]
                child.submit(lines)
                flight.append((formula, child))
            while flight:
                yield from self._collect(flight)
            done = True
        finally:
            if not done:  # an error, or the consumer stopped: results in flight are stale
                self.close(kill=True)

    def _collect(self, flight: collections.deque[tuple[str, _Child]]) -> Iterator[bytes]:
        formula, child = flight.popleft()
        out, tally = child.result()
        self._tally(formula, tally)
        if out:
            yield out

    def close(self, kill: bool = False) -> None:
        children, self._children = self._children, []
        for child in children:
            child.close(kill=kill)
