"""Storage and the sink on real stores: a local folder, fsspec memory and the GCS emulator."""

from __future__ import annotations

import dataclasses
import errno
import os
import pickle
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from support.refdata import REFERENCE

from cloudsurge_dask.errors import CorruptData, ObjectNotFound, StorageError, TornOutput
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.formats import SDF
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.layout import manifest_path
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.storage import (
    Store,
    check_writable,
    is_transient,
    open_store,
)


def lines(count: int, seed: int = 1) -> bytes:
    """Distinct lines of uneven length, so block edges fall mid-line."""
    return b"".join(b"C" * (1 + (i * 7 + seed) % 23) + b"N%d\n" % i for i in range(count))


def split(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(params=["local", "memory", "gcs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return open_store(str(tmp_path / "job"))
    if request.param == "memory":
        return open_store(f"memory://job-{uuid.uuid4().hex}")
    return open_store(request.getfixturevalue("gcs_bucket"))


def read_parts(store: Store, manifest: Manifest) -> list[bytes]:
    codec = get_codec(manifest.codec)
    return [codec.decompress(store.read_bytes(p.path)) for p in manifest.parts]


# -- the sink ---------------------------------------------------------------------------------


@pytest.mark.parametrize("part_size", [1, 7, 1000])
@pytest.mark.parametrize("block", [1, 5, 13, 4096])
def test_parts_cut_at_exact_boundaries(part_size: int, block: int) -> None:
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    count = 150 if part_size == 1 else 2500
    data = lines(count)
    manifest = Sink(store, get_codec("zst"), part_size).write_task(
        Task("C9H9N"), split(data, block)
    )
    parts = read_parts(store, manifest)
    assert b"".join(parts) == data
    assert len(parts) == -(-count // part_size)
    for index, (part, info) in enumerate(zip(parts, manifest.parts, strict=True)):
        expected = min(part_size, count - index * part_size)
        assert part.count(b"\n") == info.structures == expected
        assert part.endswith(b"\n")
        assert info.path == f"parts/C9H9N/C9H9N.{index:05d}.smi.zst"
    assert manifest.structures == count


@pytest.mark.parametrize("codec", ["zst", "gz", "zip"])
def test_every_codec_on_every_store(store: Store, codec: str) -> None:
    data = lines(3000)
    task = Task("C7H8", 2, 4)
    manifest = Sink(store, get_codec(codec), 1000).write_task(task, split(data, 1 << 12))
    assert [p.structures for p in manifest.parts] == [1000, 1000, 1000]
    assert b"".join(read_parts(store, manifest)) == data
    assert store.list("parts") == [p.path for p in manifest.parts]
    assert Manifest.from_json(store.read_bytes(manifest_path(task.key))) == manifest
    assert verify_job(store, {task.key: 3000}).ok


def test_manifest_sums_and_json(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    manifest = Sink(store, get_codec("gz"), 400).write_task(Task("C6H6"), [lines(1000)])
    assert manifest.task == "C6H6" and manifest.formula == "C6H6" and manifest.codec == "gz"
    assert manifest.structures == sum(p.structures for p in manifest.parts) == 1000
    assert manifest.raw_bytes == sum(p.raw_bytes for p in manifest.parts) == len(lines(1000))
    assert manifest.compressed_bytes == sum(p.compressed_bytes for p in manifest.parts)
    for part in manifest.parts:
        assert (tmp_path / part.path).stat().st_size == part.compressed_bytes
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert (tmp_path / "manifests" / "C6H6.json").read_text() == manifest.to_json()
    with pytest.raises(CorruptData, match="malformed manifest"):
        Manifest.from_json('{"task": "C6H6"}')


@pytest.mark.parametrize("blocks", [[], [b""], [b"", b""]], ids=["none", "empty", "empties"])
def test_empty_output_has_a_manifest_without_parts(store: Store, blocks: list[bytes]) -> None:
    manifest = Sink(store, get_codec("zst"), 10).write_task(Task("C2"), blocks)
    assert manifest.parts == () and manifest.structures == 0 and manifest.raw_bytes == 0
    assert store.exists(manifest_path("C2"))
    assert store.list("parts") == []


def test_output_without_trailing_newline_is_rejected(store: Store) -> None:
    data = lines(25) + b"CCO"
    with pytest.raises(TornOutput, match="does not end with a newline"):
        Sink(store, get_codec("zst"), 10).write_task(Task("C2H6O"), split(data, 7))
    assert not store.exists(manifest_path("C2H6O"))
    report = verify_job(store)
    assert report.ok and report.tasks == 0
    assert report.orphans == store.list("parts")  # uncommitted, listed, not an error


def test_redo_writes_identical_bytes(store: Store) -> None:
    data = lines(5000)
    sink = Sink(store, get_codec("zst"), 1234)
    first = sink.write_task(Task("C8H11NO"), split(data, 4096))
    before = {p: store.read_bytes(p) for p in store.list("")}
    second = sink.write_task(Task("C8H11NO"), split(data, 999))  # other block edges
    assert second == first
    assert {p: store.read_bytes(p) for p in store.list("")} == before


def test_generator_failure_mid_stream_leaves_no_manifest() -> None:
    store = open_store(f"memory://job-{uuid.uuid4().hex}")

    def broken() -> Iterator[bytes]:
        yield lines(100)
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError, match="generator died"):
        Sink(store, get_codec("zst"), 30).write_task(Task("C3H8"), broken())
    assert not store.exists(manifest_path("C3H8"))


def test_full_parts_are_stored_while_generation_goes_on() -> None:
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    second = "parts/C3H6/C3H6.00001.smi.zst"

    def generator() -> Iterator[bytes]:
        yield lines(250)  # two full parts and half of a third
        deadline = time.monotonic() + 5
        while not store.exists(second):  # stored by the background thread, not at the end
            assert time.monotonic() < deadline, "full parts were not written during generation"
            time.sleep(0.005)
        yield lines(10, seed=3)

    manifest = Sink(store, get_codec("zst"), 100).write_task(Task("C3H6"), generator())
    assert [p.structures for p in manifest.parts] == [100, 100, 60]


def test_parts_are_uncommitted_until_the_manifest_is() -> None:
    """write_parts stores parts and says what it stored; nothing is committed until the
    caller, having checked the counts, commits the manifest."""
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    sink = Sink(store, get_codec("zst"), 10)
    written = sink.write_parts(Task("C5H12"), [lines(40)])
    assert written.structures == 40 and len(written.parts) == 4
    assert not store.exists(manifest_path("C5H12"))
    assert len(verify_job(store).orphans) == 4
    committed = sink.commit(written)
    assert Manifest.from_json(store.read_bytes(manifest_path("C5H12"))) == committed
    report = verify_job(store)
    assert report.ok and not report.orphans and report.structures == 40


# -- the store --------------------------------------------------------------------------------


def test_local_writes_are_atomic_renames(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.write_bytes("a/b/c.bin", b"one")
    store.write_bytes("a/b/c.bin", b"two")
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"two"
    assert os.listdir(tmp_path / "a" / "b") == ["c.bin"]  # no temporary left behind
    (tmp_path / "a" / "b" / ".c.bin.1234.tmp").write_bytes(b"torn")
    assert store.list("a") == ["a/b/c.bin"]
    assert store.url_of("a/b/c.bin") == str(tmp_path / "a" / "b" / "c.bin")


def test_store_basics(store: Store) -> None:
    store.write_bytes("x/one", b"1")
    store.write_bytes("x/two", b"22")
    store.write_bytes("xy/three", b"333")
    assert store.list("x") == ["x/one", "x/two"]
    assert store.list("") == ["x/one", "x/two", "xy/three"]
    assert store.exists("x/one") and not store.exists("x/none")
    with pytest.raises(ObjectNotFound):
        store.read_bytes("x/none")
    with pytest.raises(FileNotFoundError):
        store.read_bytes("x/none")
    store.delete("x/one")
    store.delete("x/one")  # already gone: fine
    assert store.list("x") == ["x/two"]
    assert pickle.loads(pickle.dumps(store)).read_bytes("x/two") == b"22"
    with pytest.raises(ValueError):
        store.path("../escape")


def test_a_pickled_store_works_in_a_fresh_process(gcs_bucket: str) -> None:
    """What a Dask worker process does: inherit the env, unpickle the store, read."""
    store = open_store(gcs_bucket)
    store.write_bytes("hello.txt", b"from the parent")
    env = {k: v for k, v in os.environ.items() if k != "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"}
    code = (
        "import pickle, sys; print(pickle.loads(sys.stdin.buffer.read()).read_bytes('hello.txt'))"
    )
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(store), capture_output=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr.decode()
    assert child.stdout.strip() == b"b'from the parent'"
    assert time.monotonic() - started < 20  # no gRPC bucket-type stall


def test_check_writable_passes_and_leaves_nothing(store: Store) -> None:
    again = check_writable(store.url)
    assert again.list("") == []


def _assert_fast_storage_error(url: str) -> str:
    started = time.monotonic()
    with pytest.raises(StorageError, match="is not writable") as caught:
        check_writable(url)
    assert time.monotonic() - started < 3.0
    return str(caught.value)


def test_unwritable_local_location(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    message = _assert_fast_storage_error(str(blocker / "results"))
    assert str(blocker) in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert "permission denied" in _assert_fast_storage_error(str(folder))
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs sysfs")
def test_read_only_system_folder() -> None:
    # sysfs refuses new files even to root: a read-only location on any Linux box.
    _assert_fast_storage_error(f"/sys/cloudsurge-{uuid.uuid4().hex}")


def test_missing_bucket(gcs_emulator: str) -> None:
    message = _assert_fast_storage_error(f"gs://no-such-bucket-{uuid.uuid4().hex[:8]}/job")
    assert "not found" in message


# -- retries ----------------------------------------------------------------------------------


def test_which_errors_are_transient() -> None:
    from gcsfs.retry import HttpError

    assert is_transient(HttpError({"code": 503, "message": "backend"}))
    assert is_transient(HttpError({"code": 429, "message": "slow down"}))
    assert not is_transient(HttpError({"code": 403, "message": "forbidden"}))
    assert is_transient(TimeoutError()) and is_transient(ConnectionResetError())
    assert is_transient(OSError(errno.EIO, "io"))
    assert not is_transient(PermissionError(errno.EACCES, "denied"))
    assert not is_transient(OSError(errno.EROFS, "read-only"))
    assert not is_transient(ValueError("bug"))


def test_unknown_protocol_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot open storage"):
        open_store("nosuchproto://x/y")


class FlakyFileSystem(MemoryFileSystem):
    """The real memory filesystem, but every `fail_every`-th write raises a transient OSError."""

    protocol = ("flaky",)
    store: ClassVar[dict[str, Any]] = {}
    pseudo_dirs: ClassVar[list[str]] = [""]
    fail_every = 3
    writes = 0
    faults = 0

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(super()._strip_protocol(str(path).removeprefix("flaky://")))

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        cls.writes += 1
        if cls.writes % cls.fail_every == 0:
            cls.faults += 1
            raise OSError(errno.EIO, "injected transient fault")
        super().pipe_file(path, value, *args, **kwargs)


@pytest.fixture
def flaky() -> Iterator[type[FlakyFileSystem]]:
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    FlakyFileSystem.writes = FlakyFileSystem.faults = 0
    FlakyFileSystem.fail_every = 3
    yield FlakyFileSystem
    FlakyFileSystem.store.clear()


def test_transient_write_faults_are_retried(flaky: type[FlakyFileSystem]) -> None:
    store = open_store(f"flaky://job-{uuid.uuid4().hex}", backoff=0.001)
    sink = Sink(store, get_codec("zst"), 100)
    data = {f"C{n}H{2 * n + 2}": lines(50 * n, seed=n) for n in range(1, 9)}
    for formula, output in data.items():
        sink.write_task(Task(formula), split(output, 333))
    assert flaky.faults > 5
    expected = {formula: output.count(b"\n") for formula, output in data.items()}
    report = verify_job(store, expected)
    assert report.ok, report.problems
    assert report.structures == sum(expected.values())


def test_persistent_faults_end_in_storage_error(flaky: type[FlakyFileSystem]) -> None:
    flaky.fail_every = 1
    store = open_store(f"flaky://job-{uuid.uuid4().hex}", retries=3, backoff=0.001)
    with pytest.raises(StorageError, match=r"after 3 attempts.*injected transient fault"):
        Sink(store, get_codec("zst"), 10).write_task(Task("C4H10"), [lines(35)])
    assert flaky.writes == 3  # the first part failed three times, then the task stopped
    assert not store.exists(manifest_path("C4H10"))


# -- SDfile records -----------------------------------------------------------------------


def sdf_sample(name: str) -> bytes:
    """Surge's own `-F` output (the records before the sample's stderr section)."""
    text = (REFERENCE / "surge2" / name).read_bytes()
    return text.split(b"---- stderr ----\n")[0]


@pytest.mark.parametrize("part_size", [1, 4, 1000])
@pytest.mark.parametrize("block", [1, 5, 6, 7, 13, 4096])
def test_sdf_parts_cut_after_whole_records(part_size: int, block: int) -> None:
    """A record ends with a `$$$$` line, which may straddle blocks of any size."""
    data = sdf_sample("sample-F_C3H4O.txt")
    records = data.count(b"\n$$$$\n")
    assert records == 13  # the sample's own `>Z` count
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    manifest = Sink(store, get_codec("zst", content=".sdf"), part_size,
                    structure_format=SDF).write_task(Task("C3H4O"), split(data, block))  # fmt: skip
    assert manifest.format == "sdf" and manifest.structures == records
    assert all(p.path.endswith(".sdf.zst") for p in manifest.parts)
    parts = read_parts(store, manifest)
    assert b"".join(parts) == data
    assert len(parts) == -(-records // part_size)
    for part, info in zip(parts, manifest.parts, strict=True):
        assert part.endswith(b"\nM  END\n$$$$\n") and part.startswith(b"\nSurge 2.0\n")
        assert part.count(b"\n$$$$\n") == info.structures
    report = verify_job(store, {"C3H4O": records})
    assert report.ok and report.structures == records, report.problems


def test_sdf_output_cut_inside_a_record_is_torn() -> None:
    data = sdf_sample("sample-F_C2H6O.txt")
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    sink = Sink(store, get_codec("gz", content=".sdf"), 10, structure_format=SDF)
    with pytest.raises(TornOutput, match=r"does not end with a '\$\$\$\$' line"):
        sink.write_task(Task("C2H6O"), split(data[:-3], 50))
    assert not store.exists(manifest_path("C2H6O"))


def test_verify_counts_sdf_records_not_lines() -> None:
    data = sdf_sample("sample-F_C2AzH7.txt")
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    manifest = Sink(store, get_codec("zip", content=".sdf"), 10,
                    structure_format=SDF).write_task(Task("C2H7N"), [data])  # fmt: skip
    assert manifest.structures == 2 and data.count(b"\n") > 20
    assert verify_job(store, {"C2H7N": 2}).ok
    (part,) = manifest.parts
    lines_counted = data.count(b"\n")
    wrong = dataclasses.replace(
        manifest,
        structures=lines_counted,
        parts=(dataclasses.replace(part, structures=lines_counted),),
    )
    store.write_bytes(manifest_path("C2H7N"), wrong.to_json().encode())
    problems = verify_job(store, {"C2H7N": lines_counted}).problems
    assert problems == [
        f"{part.path}: holds 2 structures / {len(data)} bytes, "
        f"manifest says {lines_counted} / {len(data)}"
    ]
