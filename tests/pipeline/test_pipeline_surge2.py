"""Surge 2.0's options through the whole pipeline on the built-in engine: the production
preset, the aromaticity filter's count and SDfile parts, each against Surge 2.0's own counts
(`../shared/reference/surge2/surge2_counts.csv`) and re-read by `verify`."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem, rdBase
from support.refdata import hill_counts, surge2_counts

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.errors import FormulaError
from cloudsurge_dask.formulae.formula import EXTRA_VALENCES, Formula, parse_formula
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.results.verify import verify_output
from cloudsurge_dask.run.job import Outcome, run_job
from cloudsurge_dask.settings import Settings

PRODUCTION = "-P -T -B1,2,3,4,5,7,8,9 -t0 -f0"


def table(options: str) -> dict[Formula, str]:
    """Surge 2.0's counts under `options` for the formulae our grammar takes."""
    chosen: dict[Formula, str] = {}
    for (text, opts), count in surge2_counts().items():
        if opts == options:
            try:
                chosen[parse_formula(text)] = count
            except FormulaError:
                continue  # an element defined by -E (As, Az, Ge, ...): not in the grammar
    return chosen


def sample(expected: dict[Formula, str], n: int, seed: int) -> dict[Formula, str]:
    keys = random.Random(seed).sample(sorted(expected, key=str), n)
    return {formula: expected[formula] for formula in keys}


def settings_for(tmp_path: Path, **changes: object) -> Settings:
    values: dict[str, object] = {"output": str(tmp_path / "out"), "workers": 2,
                                 "lease_seconds": 5.0, "surge": str(engine_path())}  # fmt: skip
    values.update(changes)
    return Settings.build(values, env={})


def assert_counts(outcome: Outcome, expected: dict[Formula, str]) -> None:
    frame = outcome.records.set_index("formula")
    assert sorted(frame.index) == sorted(f.hill for f in expected)
    for formula, count in expected.items():
        row = frame.loc[formula.hill]
        if count == "error":
            assert row["status"] == TaskStatus.REJECTED, (formula, row["error"])
        else:
            found = (row["status"], row["structures"])
            assert found == (TaskStatus.OK, int(count)), (formula, row["error"])


def test_production_preset_reproduces_surge(tmp_path: Path) -> None:
    expected = sample(table(PRODUCTION), 80, seed=11)
    settings = settings_for(tmp_path, preset="cloudsurge-production", part_size=300)
    outcome = run_job(settings, list(expected), quiet=True)
    assert_counts(outcome, expected)
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems
    assert report.structures == sum(int(c) for c in expected.values() if c != "error")


def test_aromaticity_filter_counts_the_last_number_of_the_summary(tmp_path: Path) -> None:
    """With -R the `>Z` line has four counts and only the last equals what was stored; the
    formulae whose -R count is below their plain count (few up to 6 heavy atoms) are in."""
    plain = hill_counts()
    rows = {f: c for f, c in table("-R").items() if c != "error" and f.hill in plain}
    reduced = {f: c for f, c in rows.items() if int(c) < plain[f.hill]}
    assert reduced, "the table lost its -R rows that differ from the plain counts"
    expected = {**sample(rows, 11, seed=5), **reduced}
    settings = settings_for(tmp_path, surge_options=("-R",))
    outcome = run_job(settings, list(expected), quiet=True)
    assert_counts(outcome, expected)
    assert verify_output(settings, outcome.job).ok


def sdf_records(path: Path, manifest: Manifest) -> list[bytes]:
    codec = get_codec(manifest.codec, content=".sdf")
    data = b"".join(codec.decompress((path / p.path).read_bytes()) for p in manifest.parts)
    return [record + b"$$$$\n" for record in data.split(b"$$$$\n")[:-1]]


def run_cli(out: Path, *flags: str) -> tuple[str, pd.DataFrame]:
    """`run` from the command line on the built-in engine; the job id and its records."""
    done = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "run", "--output", str(out), "--quiet",
         "--surge", str(engine_path()), "--workers", "2", *flags],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job = done.stdout.strip().splitlines()[-1]
    return job, pd.read_parquet(out / job / "records.parquet")


def verify_cli(out: Path, job: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", "verify", job, "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_sdf_end_to_end_from_the_command_line(tmp_path: Path) -> None:
    """`run --format sdf` writes .sdf.zst parts of whole records RDKit reads, each task's
    structures are Surge's count, and `verify` re-counts the records."""
    expected = {f: c for f, c in sample(table(PRODUCTION), 25, seed=3).items() if c != "error"}
    listing = tmp_path / "formulae.txt"
    listing.write_text("".join(f"{f.hill}\n" for f in expected))
    out = tmp_path / "out"
    job, frame = run_cli(out, "--formulae", str(listing), "--format", "sdf",
                         "--preset", "cloudsurge-production", "--part-size", "200")  # fmt: skip
    counts = frame.set_index("formula")["structures"].to_dict()
    assert counts == {f.hill: int(c) for f, c in expected.items()}
    rdBase.DisableLog("rdApp.*")
    manifests = [Manifest.from_json(p.read_bytes()) for p in (out / job / "manifests").iterdir()]
    stored = 0
    for manifest in manifests:
        assert manifest.format == "sdf"
        assert all(p.path.endswith(".sdf.zst") for p in manifest.parts)
        records = sdf_records(out / job, manifest)
        assert len(records) == manifest.structures
        for record in records:
            assert Chem.MolFromMolBlock(record.decode(), sanitize=False) is not None, record
        stored += len(records)
    assert stored == sum(int(c) for c in expected.values())
    assert verify_cli(out, job).endswith(f"{stored:,} structures: OK")


@pytest.mark.parametrize("options", ["", "-B1,2,3,4,5,7,8,9"])
def test_silicon_and_the_extra_valences_run_like_surge(tmp_path: Path, options: str) -> None:
    """Formulae with Si, Nx, Px, Sx or Sy (a file's formulae; not CDK's --elements)."""
    extra = {"Si", *EXTRA_VALENCES}
    rows = {f: c for f, c in table(options).items() if extra & {e for e, _ in f.counts}}
    expected = sample(rows, 40, seed=13)
    assert {e for f in expected for e, _ in f.counts} >= extra
    settings = settings_for(tmp_path, surge_options=options, part_size=500)
    outcome = run_job(settings, list(expected), quiet=True)
    assert_counts(outcome, expected)
    assert verify_output(settings, outcome.job).ok


@pytest.mark.parametrize("options", ["-b", "-e6:8", "-C0", "-d3"])
def test_other_filters_reach_the_engine(tmp_path: Path, options: str) -> None:
    expected = sample(table(options), 10, seed=len(options))
    settings = settings_for(tmp_path, surge_options=options, workers=1)
    assert_counts(run_job(settings, list(expected), quiet=True), expected)



@pytest.mark.parametrize(("heavy_atoms", "fmt"), [(6, "smiles"), (5, "sdf")])
def test_whole_production_job_reproduces_every_count(
    tmp_path: Path, heavy_atoms: int, fmt: str
) -> None:
    """Every formula up to N heavy atoms under the production preset, CDK to records: each
    count is Surge 2.0's (refused formulae rejected), and `verify` re-reads every part."""
    job, frame = run_cli(
        tmp_path, "--max-heavy-atoms", str(heavy_atoms), "--preset", "cloudsurge-production",
        "--format", fmt,
    )  # fmt: skip
    expected = {f.hill: c for f, c in table(PRODUCTION).items() if f.heavy_atoms <= heavy_atoms}
    assert sorted(frame["formula"]) == sorted(expected)
    got = {
        row.formula: "error" if row.status == TaskStatus.REJECTED else str(row.structures)
        for row in frame.itertuples()
    }
    assert got == expected
    assert (frame["status"] != "failed").all()
    total = sum(int(c) for c in expected.values() if c != "error")
    assert verify_cli(tmp_path, job).endswith(f"{total:,} structures: OK")
