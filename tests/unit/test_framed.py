"""The engine's framed stream of compressed parts (`-Z`) read through the choke point: whole
streams give their parts, every torn one (cut short, killed engine, garbage) raises a precise
error, and a worker commits nothing of it."""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.errors import GeneratorRejected, TornOutput
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.framed import HEADER, PART, PartStream, parts_option
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.layout import manifest_path
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.queue.jobqueue import new_job_id
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.run.job import enqueue
from cloudsurge_dask.run.worker import Worker
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import open_store

ZSTD = get_codec("zst")


def engine_output(*args: str) -> bytes:
    return subprocess.run([str(engine_path()), *args], capture_output=True, check=True).stdout


def read(data: bytes) -> tuple[list[tuple[bytes, int, int]], PartStream]:
    stream = PartStream(io.BytesIO(data).read, lambda: "T")
    parts = list(stream)  # whole, or it raises
    return [(ZSTD.decompress(p.data), p.structures, p.raw_bytes) for p in parts], stream


def frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of every frame of a whole stream."""
    found, at = [], 0
    while at < len(data):
        _, size, _, _ = HEADER.unpack_from(data, at)
        found.append((at, HEADER.size + size))
        at += HEADER.size + size
    return found


def test_a_whole_stream_gives_its_parts() -> None:
    raw = engine_output("-S", "C6H6", "C5H8O")
    parts, _ = read(engine_output("-S", "-Z1:100", "C6H6", "C5H8O"))
    lines = raw.splitlines(keepends=True)
    assert [n for _, n, _ in parts] == [100] * (len(lines) // 100) + [len(lines) % 100]
    assert b"".join(content for content, _, _ in parts) == raw
    assert all(len(content) == size for content, _, size in parts)


def test_every_cut_of_a_stream_is_torn() -> None:
    data = engine_output("-S", "-Z1:50", "C5H8O")
    cuts = {*range(0, 60), *(at for at, _ in frames(data)), len(data) - 1, len(data) // 2}
    for cut in sorted(cuts):
        with pytest.raises(TornOutput, match=r"^T: engine output torn after \d+ part\(s\)"):
            read(data[:cut])
    with pytest.raises(TornOutput, match="bytes after its end frame"):
        read(data + b"x")


def test_a_lost_part_end_or_a_strange_frame_is_torn() -> None:
    data = engine_output("-S", "-Z1:50", "C5H8O")
    at, size = next((at, n) for at, n in frames(data) if data[at : at + 4] == PART)
    with pytest.raises(TornOutput, match="end frame counts"):
        read(data[:at] + data[at + size :])
    with pytest.raises(TornOutput, match="unexpected frame b'JUNK'") as info:
        read(b"JUNK" + data[4:])
    assert "torn after 0 part(s)" in str(info.value)


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def parts_of(executable: str, formula: str, part_size: int = 100) -> int:
    with Generation(executable, Task(formula), parts=parts_option(1, part_size)) as run:
        return sum(part.structures for part in run.parts())


def test_a_stream_cut_short_is_torn(tmp_path: Path) -> None:
    cut = script(tmp_path, "cut", f'"{engine_path()}" "$@" | head -c 100\n')
    with pytest.raises(TornOutput, match=r"C5H8O: .*torn after 0 part.*inside a data frame"):
        parts_of(cut, "C5H8O")


def test_a_killed_engine_is_torn(tmp_path: Path) -> None:
    task = Task("C10H16O")
    with Generation(str(engine_path()), task, parts=parts_option(1, 1000)) as run:
        parts = run.parts()
        assert next(parts).structures == 1000
        os.kill(run._process.pid, signal.SIGKILL)
        with pytest.raises(TornOutput, match=r"C10H16O: .*exited with -9.*; engine output torn"):
            for _ in parts:
                pass


def test_garbage_is_torn_and_the_generator_ends(tmp_path: Path) -> None:
    garbage = script(tmp_path, "garbage", "yes not-a-frame\n")
    with Generation(garbage, Task("C2H6"), parts=parts_option(1, 10)) as run:
        with pytest.raises(TornOutput, match="unexpected frame b'not-'"):
            list(run.parts())
        assert run._process.returncode is not None  # killed and reaped, not left running


def test_a_refusal_stays_a_refusal() -> None:
    with pytest.raises(GeneratorRejected, match="C2"):
        parts_of(str(engine_path()), "C2")


def test_a_worker_commits_nothing_of_a_torn_stream(redis_url: str, tmp_path: Path) -> None:
    settings = Settings.build(
        {"output": str(tmp_path / "out"), "max_attempts": 1, "part_size": 500}, env={}
    )
    job = new_job_id()
    enqueue(redis_url, settings, [parse_formula("C7H8O")], job)
    worker = Worker(redis_url, job)
    assert worker.engine_parts == "-Z1:500"  # the built-in engine compresses its parts
    # the same engine, its stream cut inside the third part
    worker.sources.executable = script(tmp_path, "cut", f'"{engine_path()}" "$@" | head -c 4000\n')
    (record,) = worker.run()
    assert record.status == TaskStatus.FAILED
    # the engine died of SIGPIPE before its summary: that and the torn stream are said
    assert str(record.error).startswith("C7H8O: generator printed 0 '>Z' summary line(s)")
    assert "engine output torn after 2 part(s): the stream ended" in str(record.error)
    store = open_store(str(tmp_path / "out" / job))
    assert not store.exists(manifest_path("C7H8O"))  # stored parts stay uncommitted orphans
    report = verify_job(store)
    assert report.orphans and report.structures == 0
