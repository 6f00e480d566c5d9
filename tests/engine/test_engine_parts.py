"""The engine's own compressed parts (`-Z`, `Sink.write_compressed`) against the raw path (the
engine's text cut and compressed by the Sink in Python): the same part boundaries, counts and
content, for SMILES and SDfile, one formula and a batch whose parts cross formulae."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.formats import SDF, SMILES, StructureFormat
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.storage import Store, open_store

CASES = [
    (["C7H8O"], 1000, SMILES),  # one formula, a short last part
    (["C6H6"], 217, SMILES),  # parts of exactly the formula's count: no empty part after
    (["C4H8O", "C5H8O", "C3H6O", "C6H10O"], 700, SMILES),  # parts across formulae of a batch
    (["C4H8O", "C5H5N"], 1, SMILES),  # a part per structure
    (["C5H8O", "C3H6O"], 250, SDF),
    (["C6H14"], 1_000_000, SMILES),  # one part
]


def stored(
    root: Path, formulae: list[str], part_size: int, fmt: StructureFormat, framed: bool
) -> tuple[Store, Manifest]:
    store = open_store(str(root))
    sink = Sink(store, get_codec("zst", content=fmt.extension), part_size, structure_format=fmt)
    task = Task.shard(formulae) if len(formulae) > 1 else Task(formulae[0])
    engine = str(engine_path())
    option = sink.engine_parts if framed else None
    with Generation(engine, task, formulae=formulae, output=fmt.option, parts=option) as run:
        if framed:
            manifest = sink.write_compressed(task, run.parts())
        else:
            manifest = sink.write_parts(task, run.blocks())
        assert manifest.structures == run.result.structures
    return store, manifest


@pytest.mark.parametrize(("formulae", "part_size", "fmt"), CASES)
def test_engine_parts_are_the_sinks(
    tmp_path: Path, formulae: list[str], part_size: int, fmt: StructureFormat
) -> None:
    raw_store, raw = stored(tmp_path / "raw", formulae, part_size, fmt, framed=False)
    fast_store, fast = stored(tmp_path / "fast", formulae, part_size, fmt, framed=True)
    assert fast.structures == raw.structures > 0
    assert [(p.path, p.structures, p.raw_bytes) for p in fast.parts] == [
        (p.path, p.structures, p.raw_bytes) for p in raw.parts
    ]
    assert (fast.raw_bytes, fast.format, fast.codec) == (raw.raw_bytes, raw.format, raw.codec)
    codec = get_codec("zst")
    for mine, theirs in zip(fast.parts, raw.parts, strict=True):
        data = fast_store.read_bytes(mine.path)
        assert len(data) == mine.compressed_bytes
        content = codec.decompress(data)
        assert content == codec.decompress(raw_store.read_bytes(theirs.path))
        assert len(content) == mine.raw_bytes
        assert content.count(fmt.terminator) == mine.structures


def test_engine_parts_redo_is_byte_identical(tmp_path: Path) -> None:
    first = stored(tmp_path / "a", ["C7H8O", "C6H6"], 3000, SMILES, framed=True)[1]
    again = stored(tmp_path / "b", ["C7H8O", "C6H6"], 3000, SMILES, framed=True)[1]
    assert len(first.parts) == 5
    assert [p.sha256 for p in first.parts] == [p.sha256 for p in again.parts]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-Z1", "C6H6"], "option -Z needs LEVEL:PARTSIZE"),
        (["-Z0:10", "C6H6"], "level must be 1 to 22"),
        (["-Z1:0", "C6H6"], "part size must be at least 1"),
        (["-u", "-Z1:10", "C6H6"], "option -Z needs -S or -F output"),
        (["-S", "-z", "-Z1:10", "C6H6"], "options -Z and -z exclude each other"),
    ],
)
def test_bad_engine_part_options_are_refused(args: list[str], message: str) -> None:
    done = subprocess.run(
        [str(engine_path()), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(">E ") and message in done.stderr


def test_the_option_is_only_for_zstd() -> None:
    store = open_store("memory://engine-parts-option")
    assert Sink(store, get_codec("zst"), 123).engine_parts == "-Z1:123"
    assert Sink(store, get_codec("zst", level=3), 5).engine_parts == "-Z3:5"
    for name in ("gz", "zip"):
        assert Sink(store, get_codec(name), 123).engine_parts is None
