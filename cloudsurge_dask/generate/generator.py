"""The one choke point through which the structure generator runs.

Argv lists only (never a shell), stdout read in large blocks, stderr drained concurrently by
a thread, a timeout that kills a hung generator, and a non-zero exit raised with the tail of
its stderr. Works the same for upstream Surge and the built-in engine.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, EngineMissing, GeneratorCrashed, GeneratorRejected, TornOutput
from ..formulae.task import Task
from .formats import SMILES
from .framed import CompressedPart, PartStream

BLOCK_SIZE = 1 << 20
# `>Z generated A -> B -> C in T sec`: graphs, coloured graphs, structures; with `-R` a fourth
# count, the structures left after the aromaticity filter, which is then the count.
_SUMMARY = re.compile(
    rb">Z (?:wrote|generated) (\d+) -> (\d+) -> (\d+)(?: -> (\d+))? in ([0-9.]+) sec"
)


# how the built-in engine names the first formula of a batch it refuses
_REFUSED = re.compile(r"formula \d+ of \d+ \('(?P<formula>[A-Za-z0-9]+)'\): (?P<reason>.*)$")


def refused_formula(message: str) -> tuple[str, str] | None:
    """(formula, reason) of a batch refusal that names its formula, else None."""
    match = _REFUSED.search(message)
    return None if match is None else (match["formula"], match["reason"])


def resolve_executable(surge: str | None) -> str:
    """An explicit path, else `surge` on PATH, else the built-in engine."""
    if surge:
        found = shutil.which(surge) if os.sep not in surge else surge
        if not found or not os.access(found, os.X_OK) or not Path(found).is_file():
            raise ConfigError(f"--surge: {surge!r} is not an executable file")
        return str(Path(found).resolve())
    on_path = shutil.which("surge")
    if on_path:
        return on_path
    from ..engine import engine_path

    return str(engine_path())  # EngineMissing is a ConfigError


def takes_several_formulae(executable: str) -> bool:
    """Only the built-in engine runs several formulae in one process (a shard); upstream
    Surge takes exactly one."""
    from ..engine import engine_path

    try:
        return Path(executable).resolve() == engine_path().resolve()
    except EngineMissing:
        return False


@dataclass(frozen=True)
class GeneratorResult:
    """The generator's own summary (`>Z` line) of one run; with several formulae in one run
    (the built-in engine's batch mode) `counts`/`times` hold one `>Z` line's figures each.

    `cpu_seconds` is the process's user + system time (its children included) as the kernel
    counted it: the time really spent generating, where `wall_seconds` also holds the time
    it waited on a full pipe or for a core."""

    graphs: int
    coloured: int
    structures: int
    seconds: float
    wall_seconds: float
    cpu_seconds: float = 0.0
    counts: tuple[int, ...] = ()
    times: tuple[float, ...] = ()


class Generation:
    """One running generator: iterate `blocks()`, then read `result`.

    Use as a context manager so the process is always reaped, and killed if the consumer
    stops early (for example because a part could not be written).
    """

    def __init__(
        self,
        executable: str,
        task: Task,
        options: Sequence[str] = (),
        timeout: float = 0.0,
        stderr_lines: int = 20,
        formulae: Sequence[str] | None = None,
        output: str = SMILES.option,
        parts: str | None = None,
    ) -> None:
        """`formulae` (several, in one process) only for a generator that takes them;
        `output` is the generator's output-format option (`-S`, `-F`); `parts` the built-in
        engine's option for compressed parts (`framed.parts_option`): then read `parts()`,
        not `blocks()`."""
        chosen = list(formulae) if formulae else [task.formula]
        framing = [parts] if parts else []
        self.argv = [executable, *options, *task.split_options, output, *framing, *chosen]
        self.expected_summaries = len(chosen)
        self.formulae = chosen
        self.task = task
        self.timeout = timeout
        self._stderr: collections.deque[bytes] = collections.deque(maxlen=stderr_lines)
        self._summaries: list[re.Match[bytes]] = []
        self._timed_out = False
        self._result: GeneratorResult | None = None
        self._started = time.perf_counter()
        try:
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                close_fds=True,
                # its own process group, so a timeout also ends a wrapper's children
                start_new_session=True,
            )
        except OSError as exc:
            raise GeneratorCrashed(f"{task.key}: cannot start {executable}: {exc}") from None
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()
        self._timer: threading.Timer | None = None
        if timeout > 0:
            self._timer = threading.Timer(timeout, self._kill_on_timeout)
            self._timer.daemon = True
            self._timer.start()

    def _drain_stderr(self) -> None:
        """Read stderr in large chunks (the pipe is unbuffered: iterating its lines would
        cost one system call per byte, a third of a CPU second for 10,000 `>Z` lines)."""
        assert self._process.stderr is not None
        fd = self._process.stderr.fileno()
        pending = b""
        while chunk := os.read(fd, 1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._stderr_line(line)
            if len(pending) > 1 << 16:  # a line without end: keep its head, bound memory
                self._stderr_line(pending)
                pending = b""
        if pending:
            self._stderr_line(pending)

    def _stderr_line(self, line: bytes) -> None:
        match = _SUMMARY.search(line)
        if match:
            self._summaries.append(match)
        self._stderr.append(line[:500])

    def _kill_on_timeout(self) -> None:
        self._timed_out = True
        self._kill()

    def _kill(self) -> None:
        """The whole process group, so a wrapper's child cannot keep the pipe open."""
        if self._process.returncode is not None:  # reaped: its group id may be reused
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def blocks(self) -> Iterator[bytearray]:
        """Raw stdout in blocks of exactly BLOCK_SIZE bytes (the last one shorter); checked to
        be plain ASCII text.

        The pipe is enlarged and each block is read straight into its own fresh buffer (one
        copy, kernel to user), so the generator runs ahead while this process compresses and
        no block is copied again on its way to the compressor: copies cost as much CPU as the
        newline count.
        """
        fd = self._enlarged_pipe()
        while True:
            block = bytearray(BLOCK_SIZE)
            with memoryview(block) as view:
                filled = 0
                while filled < BLOCK_SIZE:
                    got = os.readv(fd, [view[filled:]])
                    if not got:
                        break
                    filled += got
            if filled < BLOCK_SIZE:
                del block[filled:]
            if block:
                if not block.isascii():
                    self._kill()
                    raise GeneratorCrashed(f"{self.task.key}: generator wrote non-ASCII output")
                yield block
            if filled < BLOCK_SIZE:
                break
        self._finish()

    def _enlarged_pipe(self) -> int:
        """stdout's descriptor, its pipe enlarged to a block: the generator runs ahead."""
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, BLOCK_SIZE)
        return fd

    def parts(self) -> Iterator[CompressedPart]:
        """The compressed parts of a run with `parts` set, as the engine cut them. A torn
        stream raises TornOutput (with the generator's exit when it crashed or was killed),
        or the generator's refusal as it is."""
        with open(self._enlarged_pipe(), "rb", BLOCK_SIZE, closefd=False) as reader:
            stream = PartStream(reader.read, self._where)
            try:
                yield from stream
            except TornOutput:
                if not stream.at_eof:  # it wrote garbage and may still be running
                    self._kill()
                    self._reap()
                    raise
                try:
                    self._finish()
                except GeneratorCrashed as crash:  # a refusal is raised as it is
                    raise TornOutput(f"{crash}; {stream.detail}") from None
                raise
        self._finish()

    def stderr_tail(self) -> str:
        return "\n".join(line.decode("ascii", "replace") for line in self._stderr)

    def _reap(self) -> float:
        """Wait for the process; return its CPU seconds (wait4 is the one call that reports
        them for exactly this child)."""
        try:
            _, status, usage = os.wait4(self._process.pid, 0)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): no figures
            self._process.wait()
            return 0.0
        self._process.returncode = os.waitstatus_to_exitcode(status)
        return float(usage.ru_utime + usage.ru_stime)

    def _finish(self) -> None:
        cpu = self._reap()
        code = self._process.returncode
        self._drain.join()
        if self._timer is not None:
            self._timer.cancel()
        wall = time.perf_counter() - self._started
        tail = self.stderr_tail()
        where = self._where()
        if self._timed_out:
            raise GeneratorCrashed(f"{where}: generator timed out after {self.timeout:g} s")
        if code != 0:
            errors = [line for line in tail.splitlines() if line.startswith(">E")]
            if errors and code > 0:
                raise GeneratorRejected(f"{self.task.key}: {errors[-1][2:].strip()}")
            said = f": {tail[-400:]}" if tail.strip() else " and wrote nothing to stderr"
            raise GeneratorCrashed(f"{where}: {self.argv[0]} exited with {code}{said}")
        if len(self._summaries) != self.expected_summaries:
            raise GeneratorCrashed(
                f"{self.task.key}: generator printed {len(self._summaries)} '>Z' summary "
                f"line(s), expected {self.expected_summaries}"
            )
        # (graphs, coloured, structures: the last count of the line, seconds) per line
        rows = [
            (int(m[1]), int(m[2]), int(m[4] if m[4] is not None else m[3]), float(m[5]))
            for m in self._summaries
        ]
        self._result = GeneratorResult(
            graphs=sum(row[0] for row in rows),
            coloured=sum(row[1] for row in rows),
            structures=sum(row[2] for row in rows),
            seconds=sum(row[3] for row in rows),
            wall_seconds=wall,
            cpu_seconds=cpu,
            counts=tuple(row[2] for row in rows),
            times=tuple(row[3] for row in rows),
        )

    def _where(self) -> str:
        """The task, and in a run of several formulae the one it was at (the first without
        its `>Z` line), so a failure names the formula that failed, not the shard's first."""
        if len(self.formulae) < 2:
            return self.task.key
        at = self.formulae[min(len(self._summaries), len(self.formulae) - 1)]
        return f"{self.task.key} (at formula {at})"

    @property
    def result(self) -> GeneratorResult:
        if self._result is None:
            raise GeneratorCrashed(f"{self.task.key}: generator output was not read to the end")
        return self._result

    def close(self) -> None:
        if self._process.returncode is None:  # not reaped yet, so its group id is still ours
            self._kill()
        self._process.wait()
        self._drain.join(timeout=5)
        if self._timer is not None:
            self._timer.cancel()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Generation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROBE_FORMULA = "CH4"


def probe(executable: str, options: Sequence[str], output: str = SMILES.option) -> None:
    """Run the generator once on a tiny formula before any work is queued, so a wrong
    `--surge` or options it does not take fail in a second with its own words rather than
    task by task. A refusal of the formula is an answer: only a crash fails the probe."""
    try:
        with Generation(executable, Task(PROBE_FORMULA), options, 60.0, output=output) as run:
            for _ in run.blocks():
                pass
            run.result  # noqa: B018 (raises if the run did not end cleanly)
    except GeneratorRejected:
        return
    except GeneratorCrashed as exc:
        raise ConfigError(
            f"the generator failed its probe on {PROBE_FORMULA}, so nothing was queued: {exc}"
        ) from None
