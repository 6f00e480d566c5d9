"""verify_job: a clean job passes; deleted, torn, altered and stray parts are all caught."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from pathlib import Path

import pytest

from cloudsurge_dask.errors import VerifyError
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.layout import manifest_path
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.storage import Store, open_store

OUTPUTS = {
    "C6H6": 1200,
    "C7H8~0of2": 700,
    "C7H8~1of2": 650,
    "C2": 0,
}


def lines(count: int) -> bytes:
    return b"".join(b"C" * (1 + i % 17) + b"O%d\n" % i for i in range(count))


def write_job(store: Store, codec: str = "zst") -> dict[str, Manifest]:
    sink = Sink(store, get_codec(codec), 500)
    return {
        key: sink.write_task(Task.from_key(key), [lines(count)]) for key, count in OUTPUTS.items()
    }


@pytest.fixture(params=["local", "gcs"])
def job(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, dict[str, Manifest]]:
    if request.param == "local":
        store = open_store(str(tmp_path / "job"))
    else:
        store = open_store(request.getfixturevalue("gcs_bucket"))
    return store, write_job(store)


def test_clean_job_passes(job: tuple[Store, dict[str, Manifest]]) -> None:
    store, manifests = job
    report = verify_job(store, OUTPUTS)
    assert report.ok, report.problems
    assert report.tasks == 4
    assert report.parts == sum(len(m.parts) for m in manifests.values()) == 3 + 2 + 2
    assert report.structures == sum(OUTPUTS.values())
    assert report.orphans == []
    report.raise_if_failed()


def test_deleted_part(job: tuple[Store, dict[str, Manifest]]) -> None:
    store, manifests = job
    victim = manifests["C6H6"].parts[1].path
    store.delete(victim)
    report = verify_job(store)
    assert not report.ok
    assert report.problems == [f"{victim}: missing"]
    with pytest.raises(VerifyError, match="1 problem"):
        report.raise_if_failed()
    assert report.structures == sum(OUTPUTS.values()) - 500


def test_truncated_part(job: tuple[Store, dict[str, Manifest]]) -> None:
    store, manifests = job
    victim = manifests["C7H8~0of2"].parts[0].path
    store.write_bytes(victim, store.read_bytes(victim)[:-10])
    (problem,) = verify_job(store).problems
    assert problem.startswith(victim) and "bytes stored" in problem


def test_altered_byte_same_length(job: tuple[Store, dict[str, Manifest]]) -> None:
    store, manifests = job
    victim = manifests["C6H6"].parts[2].path
    data = bytearray(store.read_bytes(victim))
    data[len(data) // 2] ^= 0x20
    store.write_bytes(victim, bytes(data))
    (problem,) = verify_job(store).problems
    assert problem == f"{victim}: sha256 differs from the manifest"


def test_rehashed_corruption_is_still_caught(tmp_path: Path) -> None:
    """Even a manifest edited to match a torn part fails on decompression and counts."""
    store = open_store(str(tmp_path))
    manifest = write_job(store)["C6H6"]
    part = manifest.parts[0]
    torn = get_codec("zst").compress(lines(499), "x")  # one structure short, valid stream
    fake = dataclasses.replace(
        part, compressed_bytes=len(torn), sha256=hashlib.sha256(torn).hexdigest()
    )
    edited = dataclasses.replace(
        manifest,
        parts=(fake, *manifest.parts[1:]),
        compressed_bytes=manifest.compressed_bytes - part.compressed_bytes + len(torn),
    )
    store.write_bytes(part.path, torn)
    store.write_bytes(manifest_path("C6H6"), edited.to_json().encode())
    (problem,) = verify_job(store).problems
    assert "holds 499 structures" in problem


def test_orphans(job: tuple[Store, dict[str, Manifest]]) -> None:
    store, _ = job
    codec = get_codec("zst")
    unfinished = "parts/C8H10/C8H10.00000.smi.zst"  # a killed worker's uncommitted part
    store.write_bytes(unfinished, codec.compress(lines(10), "x"))
    report = verify_job(store, OUTPUTS)
    assert report.ok and report.orphans == [unfinished]
    stray = "parts/C6H6/C6H6.00007.smi.zst"  # beside a committed task: not expected
    store.write_bytes(stray, codec.compress(lines(10), "x"))
    report = verify_job(store, OUTPUTS)
    assert report.orphans == [stray, unfinished]
    assert report.problems == [f"{stray}: stray part beside committed task C6H6"]


def test_expected_counts() -> None:
    store = open_store(f"memory://job-{uuid.uuid4().hex}")
    write_job(store)
    report = verify_job(store, {**OUTPUTS, "C6H6": 1201, "C9H20": 35})
    assert sorted(report.problems) == [
        "C6H6: manifest has 1200 structures, the generator reported 1201",
        "C9H20: no manifest",
    ]
    del_one = {k: v for k, v in OUTPUTS.items() if k != "C2"}
    report = verify_job(store, del_one)
    assert report.ok and report.unexpected == ["C2"]


def test_unreadable_manifest(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    write_job(store, codec="zip")
    store.write_bytes(manifest_path("C6H6"), b"{not json")
    report = verify_job(store)
    assert len(report.problems) == 1 and "malformed manifest" in report.problems[0]
    assert report.tasks == 3
    assert report.orphans == [f"parts/C6H6/C6H6.0000{i}.smi.zip" for i in range(3)]
