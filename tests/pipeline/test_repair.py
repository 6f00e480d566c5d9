"""`verify --repair`: a finished job whose parts were deleted, truncated or altered (and a
manifest lost) is regenerated exactly, on a local folder and on the GCS emulator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.refdata import hill_counts

from cloudsurge_dask.cli import main
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.layout import JOB_FILE, MANIFESTS, PARTS, job_url
from cloudsurge_dask.output.records import read_records
from cloudsurge_dask.run.job import run_job
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import Store, open_store

FORMULAE = sorted(f for f in hill_counts() if parse_formula(f).heavy_atoms <= 5)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def damage(store: Store) -> dict[str, bytes]:
    """Delete one part, truncate one, alter one byte of one, delete one manifest; returns what
    every part held before."""
    parts = sorted(store.list(PARTS))
    before = {path: store.read_bytes(path) for path in parts}
    assert len(parts) >= 6
    store.delete(parts[0])
    store.write_bytes(parts[2], before[parts[2]][:40])
    altered = bytearray(before[parts[4]])
    altered[30] ^= 0xFF
    store.write_bytes(parts[4], bytes(altered))
    manifests = sorted(store.list(MANIFESTS))
    store.delete(manifests[-1])
    return before


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_repair_regenerates_broken_tasks_exactly(
    tmp_path: Path, where: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "gcs":
        output = request.getfixturevalue("gcs_bucket")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", os.environ["STORAGE_EMULATOR_HOST"])
    else:
        output = str(tmp_path / "out")
    settings = Settings.build(
        {"output": output, "workers": 2, "part_size": 700, "shard_structures": 3000}, env={}
    )
    outcome = run_job(settings, [parse_formula(f) for f in FORMULAE], quiet=True)
    store = open_store(job_url(output, outcome.job))
    before = damage(store)
    code, out, err = cli("verify", outcome.job, "--output", output)
    assert code == 1 and "problems" in out
    code, out, err = cli("verify", outcome.job, "--output", output, "--repair")
    assert code == 0, err
    assert "repaired " in err and "OK" in out
    after = {path: store.read_bytes(path) for path in sorted(store.list(PARTS))}
    assert after == before  # deterministic: the same bytes, every part back
    frame = read_records(store)
    assert frame is not None and sorted(frame["formula"]) == FORMULAE
    table = hill_counts()
    ok = frame[frame["status"] == "ok"]
    assert int(ok["structures"].sum()) == sum(table[f] for f in FORMULAE)
    ledger = json.loads(store.read_bytes(JOB_FILE))
    assert ledger["state"] == "finished" and ledger["reason"].startswith("repaired ")
    assert ledger["structures"] == int(ok["structures"].sum())
    code, out, _ = cli("verify", outcome.job, "--output", output)
    assert code == 0 and "OK" in out


def test_repair_refuses_an_unfinished_job(tmp_path: Path) -> None:
    output = tmp_path / "out"
    settings = Settings.build({"output": str(output), "workers": 1}, env={})
    outcome = run_job(settings, [parse_formula("C6H6")], quiet=True)
    job_file = output / outcome.job / JOB_FILE
    ledger = json.loads(job_file.read_text())
    ledger["state"] = "interrupted"
    job_file.write_text(json.dumps(ledger))
    part = next((output / outcome.job / PARTS).rglob("*.zst"))
    part.write_bytes(b"broken")
    code, _, err = cli("verify", outcome.job, "--output", str(output), "--repair")
    assert code == 2 and "resume it instead" in err and "Traceback" not in err
