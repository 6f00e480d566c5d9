"""The generator choke point against misbehaving generators (real processes, real pipes)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from cloudsurge_dask.errors import ConfigError, GeneratorCrashed, GeneratorRejected
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import (
    BLOCK_SIZE,
    Generation,
    resolve_executable,
)


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def consume(
    executable: str, task: Task | None = None, timeout: float = 0.0
) -> tuple[bytes, object]:
    task = task or Task("C2H6")
    with Generation(executable, task, (), timeout) as generation:
        data = b"".join(generation.blocks())
        return data, generation.result


def test_summary_line_is_parsed(tmp_path: Path) -> None:
    exe = script(
        tmp_path, "ok", 'printf "CC\\nCO\\n"; echo ">Z wrote 1 -> 2 -> 2 in 0.01 sec" >&2\n'
    )
    data, result = consume(exe)
    assert data == b"CC\nCO\n"
    assert result.structures == 2 and result.graphs == 1 and result.coloured == 2  # type: ignore[attr-defined]


def test_argv_has_formula_last_and_no_shell(tmp_path: Path) -> None:
    log = tmp_path / "argv"
    exe = script(
        tmp_path,
        "echoargs",
        f'for a in "$@"; do echo "$a" >> {log}; done\n'
        'echo ">Z wrote 0 -> 0 -> 0 in 0.00 sec" >&2\n',
    )
    with Generation(exe, Task("C8H11NO", 3, 16), ("-T",)) as generation:
        assert b"".join(generation.blocks()) == b""
    assert log.read_text().split() == ["-T", "-m3/16", "-S", "C8H11NO"]


def test_rejection_is_permanent(tmp_path: Path) -> None:
    exe = script(tmp_path, "reject", 'echo ">E surge: impossible formula" >&2; exit 1\n')
    with pytest.raises(GeneratorRejected, match="impossible formula") as info:
        consume(exe)
    assert info.value.permanent


def test_crash_mid_output_is_retryable(tmp_path: Path) -> None:
    exe = script(tmp_path, "crash", 'printf "CC\\nC"; kill -SEGV $$\n')
    with pytest.raises(GeneratorCrashed) as info:
        consume(exe)
    assert not info.value.permanent


def test_missing_summary_line(tmp_path: Path) -> None:
    exe = script(tmp_path, "nosummary", 'printf "CC\\n"\n')
    with pytest.raises(GeneratorCrashed, match=">Z"):
        consume(exe)


def test_garbage_output(tmp_path: Path) -> None:
    exe = script(
        tmp_path, "garbage", 'head -c 5000 /dev/urandom; echo ">Z wrote 1 -> 1 -> 1 in 0 sec" >&2\n'
    )
    with pytest.raises(GeneratorCrashed, match="non-ASCII"):
        consume(exe)


def test_hang_is_killed_by_timeout(tmp_path: Path) -> None:
    exe = script(tmp_path, "hang", "exec sleep 30\n")
    started = time.monotonic()
    with pytest.raises(GeneratorCrashed, match="timed out"):
        consume(exe, timeout=0.5)
    assert time.monotonic() - started < 10


def test_stderr_is_drained_concurrently(tmp_path: Path) -> None:
    # 1 MB on stderr before any stdout would deadlock a reader that only reads stdout
    exe = script(
        tmp_path,
        "noisy",
        'head -c 1000000 /dev/zero | tr "\\0" "x" >&2; echo >&2; printf "C\\n"; '
        'echo ">Z wrote 1 -> 1 -> 1 in 0 sec" >&2\n',
    )
    data, result = consume(exe, timeout=20)
    assert data == b"C\n" and result.structures == 1  # type: ignore[attr-defined]


def test_closing_early_kills_the_generator(tmp_path: Path) -> None:
    exe = script(tmp_path, "endless", "yes CC\n")
    with Generation(exe, Task("C2H6")) as generation:
        first = next(iter(generation.blocks()))
        assert first.startswith(b"CC\n")
        process = generation._process
    assert process.poll() is not None


def test_with_the_aromaticity_filter_the_count_is_the_last_number(tmp_path: Path) -> None:
    """`-R` adds a fourth count to the `>Z` line: the structures left after the filter."""
    exe = script(
        tmp_path,
        "aromatic",
        'printf "CC\\nCO\\nCN\\n"; echo ">Z generated 4 -> 9 -> 5 -> 3 in 0.01 sec" >&2\n',
    )
    data, result = consume(exe)
    assert data.count(b"\n") == 3
    assert (result.graphs, result.coloured, result.structures) == (4, 9, 3)  # type: ignore[attr-defined]
    assert result.counts == (3,)  # type: ignore[attr-defined]


def test_the_output_option_is_the_formats(tmp_path: Path) -> None:
    exe = script(tmp_path, "args", 'echo "$@"; echo ">Z wrote 1 -> 1 -> 1 in 0.00 sec" >&2\n')
    with Generation(exe, Task("C2H6", 1, 4), ("-T",), output="-F") as generation:
        assert b"".join(generation.blocks()) == b"-T -m1/4 -F C2H6\n"


def test_unknown_executable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an executable"):
        resolve_executable(str(tmp_path / "nope"))
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with pytest.raises(ConfigError):
        resolve_executable(str(plain))


def test_blocks_are_whole_and_lose_nothing(tmp_path: Path) -> None:
    size = 3 * BLOCK_SIZE + 12345
    exe = script(
        tmp_path,
        "many",
        f'yes CCO | head -c {size}\necho ">Z wrote 1 -> 1 -> 1 in 0.01 sec" >&2\n',
    )
    with Generation(exe, Task("C2H6O")) as generation:
        blocks = list(generation.blocks())
    assert [len(block) for block in blocks] == [BLOCK_SIZE] * 3 + [12345]
    assert b"".join(blocks) == (b"CCO\n" * (size // 4 + 1))[:size]


def test_cpu_time_is_measured_not_wall_time(tmp_path: Path) -> None:
    """A generator that sleeps used no CPU; one whose child spins used it: wait4's figures,
    children included, not the wall clock."""
    summary = 'echo ">Z wrote 0 -> 0 -> 0 in 0.00 sec" >&2\n'
    _, sleeper = consume(script(tmp_path, "sleeper", "sleep 0.6\n" + summary))
    spin = "sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'\n"
    _, spinner = consume(script(tmp_path, "spinner", spin + summary))
    assert sleeper.wall_seconds >= 0.6 and sleeper.cpu_seconds < 0.1  # type: ignore[attr-defined]
    assert spinner.cpu_seconds > 0.1  # type: ignore[attr-defined]
    assert spinner.cpu_seconds <= spinner.wall_seconds + 0.05  # type: ignore[attr-defined]


def test_stderr_without_line_ends_is_bounded(tmp_path: Path) -> None:
    exe = script(
        tmp_path,
        "noisy",
        "yes x | tr -d '\\n' | head -c 300000 >&2\n"
        'printf "\\n>Z wrote 0 -> 0 -> 0 in 0.00 sec\\n" >&2\n',
    )
    with Generation(exe, Task("C2H6")) as generation:
        assert b"".join(generation.blocks()) == b""
        tail = generation.stderr_tail()
    assert generation.result.structures == 0
    assert len(tail) < 20 * 501 and tail.startswith("x" * 500)
