"""A run whose parts the engine compresses itself (built-in engine, zst) against the same
run forced onto the raw path (a copy of the engine is another generator: one process per
formula, its text cut and compressed by the Sink): the same tasks, part boundaries, counts
and structures."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.generate.generator import takes_several_formulae
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.layout import MANIFESTS
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.results.verify import verify_output
from cloudsurge_dask.run.job import run_job
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import Store, open_store

FORMULAE = ["C5H8O", "C4H9N", "C6H6", "C3H6O2", "C5H5N", "C4H8O", "C6H12", "C7H8O", "CH4"]


def count(formula: str) -> int:
    done = subprocess.run([str(engine_path()), "-S", formula], capture_output=True, check=True)
    return done.stdout.count(b"\n")


def manifests(store: Store) -> dict[str, Manifest]:
    found = [Manifest.from_json(store.read_bytes(p)) for p in store.list(MANIFESTS)]
    return {m.task: m for m in found}


def test_engine_parts_and_raw_parts_hold_the_same(tmp_path: Path) -> None:
    copy = tmp_path / "engine-copy"
    shutil.copy2(engine_path(), copy)  # not the built-in engine's path: the raw path
    assert not takes_several_formulae(str(copy))
    formulae = [parse_formula(f) for f in FORMULAE]
    stores = {}
    for name, surge in (("fast", str(engine_path())), ("raw", str(copy))):
        settings = Settings.build(
            {"output": str(tmp_path / name), "workers": 2, "lease_seconds": 5.0,
             "part_size": 1500, "surge": surge, "shard_formulae": 4},
            env={},
        )  # fmt: skip
        outcome = run_job(settings, formulae, quiet=True)
        assert (outcome.records["status"] == TaskStatus.OK).all()
        assert verify_output(settings, outcome.job).ok
        stores[name] = open_store(outcome.output)
    fast, raw = manifests(stores["fast"]), manifests(stores["raw"])
    assert sorted(fast) == sorted(raw) and any("+" in key for key in fast)  # shards too
    codec = get_codec("zst")
    total = 0
    for key, mine in fast.items():
        theirs = raw[key]
        counts = ("structures", "raw_bytes", "generated", "index", "starts", "format")
        assert [getattr(mine, c) for c in counts] == [getattr(theirs, c) for c in counts]
        assert [(p.path, p.structures, p.raw_bytes) for p in mine.parts] == [
            (p.path, p.structures, p.raw_bytes) for p in theirs.parts
        ]
        for part in mine.parts:
            content = codec.decompress(stores["fast"].read_bytes(part.path))
            assert content == codec.decompress(stores["raw"].read_bytes(part.path))
            total += content.count(b"\n")
    assert total == sum(count(f) for f in FORMULAE)
