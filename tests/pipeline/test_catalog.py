"""`cat`, `ls` and `jobs` on real jobs: run through the whole pipeline (embedded Redis, a local
Dask cluster, the engine) with small parts, shards and slices, then read back by formula and
compared with what the engine itself prints for that formula."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from support.refdata import hill_counts

from cloudsurge_dask.cli import main
from cloudsurge_dask.errors import NoStructures, UnknownFormula
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import resolve_executable
from cloudsurge_dask.output.layout import JOB_FILE, RECORDS_FILE, manifest_path
from cloudsurge_dask.output.manifest import Manifest
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.results.catalog import Catalog, list_jobs, slice_order
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.run.job import run_job
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import Store, open_store

SPLIT = "C3H6N2O"  # 1,194 structures: above the split target below, so it becomes slices
SMALL = ("C2", "C6H6", "C5H7N", "C4H4O2", SPLIT)  # C2: the generator rejects it
PLAN = {"part_size": 500, "split_structures": 400, "shard_structures": 3000}


@dataclasses.dataclass(frozen=True)
class Job:
    output: str
    job: str
    records: pd.DataFrame

    @property
    def store(self) -> Store:
        return open_store(f"{self.output}/{self.job}")

    def tasks(self, formula: str) -> list[str]:
        rows = self.records[self.records["formula"] == formula]
        return sorted(set(rows["task"]), key=slice_order)


def choose(count: int, seed: int) -> list[str]:
    """Formulae of up to 5 heavy atoms from the reference table, plus SMALL."""
    table = [parse_formula(f) for f in sorted(hill_counts())]
    pool = [f.hill for f in table if f.heavy_atoms <= 5 and f.hill not in SMALL]
    return random.Random(seed).sample(pool, count) + list(SMALL)


def run(tmp: Path, names: list[str], **changes: object) -> Job:
    values: dict[str, object] = {"output": str(tmp / "out"), "workers": 2, **PLAN, **changes}
    settings = Settings.build(values, env={})
    outcome = run_job(settings, [parse_formula(n) for n in names], quiet=True)
    return Job(settings.output, outcome.job, outcome.records)


@pytest.fixture(scope="module")
def smiles_job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    return run(tmp_path_factory.mktemp("smiles"), choose(300, seed=1))


@pytest.fixture(scope="module")
def sdf_job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    return run(tmp_path_factory.mktemp("sdf"), choose(30, seed=2), format="sdf")


def engine(formula: str, *options: str, output: str = "-S") -> bytes:
    done = subprocess.run(
        [resolve_executable(None), *options, output, formula], capture_output=True, check=True
    )
    return done.stdout


def expected(job: Job, formula: str, output: str = "-S") -> bytes:
    """The engine's own output for the formula: slice by slice when the job split it."""
    tasks = [Task.from_key(key) for key in job.tasks(formula) if "+" not in key]
    if tasks and tasks[0].mod > 1:
        return b"".join(engine(formula, *t.split_options, output=output) for t in tasks)
    return engine(formula, output=output)


def cat(job: Job, *args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(main, ["cat", job.job, *args, "--output", job.output], env={})
    return result.exit_code, result.stdout_bytes, result.stderr


def test_the_job_has_shards_over_several_parts_and_slices(smiles_job: Job) -> None:
    frame = smiles_job.records
    assert frame["task"].str.contains("~", regex=False).any()
    shards = sorted(set(frame.loc[frame["task"].str.contains("+", regex=False), "task"]))
    assert shards
    manifests = [smiles_job.store.read_bytes(manifest_path(k)) for k in shards]
    assert max(len(Manifest.from_json(m).parts) for m in manifests) >= 3
    assert verify_job(smiles_job.store).ok


def test_cat_is_the_engines_output_for_every_formula(smiles_job: Job) -> None:
    catalog = Catalog(smiles_job.store, smiles_job.job)
    ok = smiles_job.records[smiles_job.records["status"] == TaskStatus.OK]
    straddling = 0
    for formula in sorted(set(ok["formula"])):
        got = b"".join(catalog.structures(formula)).splitlines()
        assert got == expected(smiles_job, formula).splitlines(), formula
        spans = catalog.locate(formula)
        straddling += any(s.offset + s.count > s.manifest.parts[s.part].structures for s in spans)
    assert straddling >= 3  # formulae that cross a part boundary were among them
    whole = b"".join(catalog.structures(SPLIT)).splitlines()
    assert len(catalog.locate(SPLIT)) > 1 and sorted(whole) == sorted(engine(SPLIT).splitlines())


def test_cat_through_the_cli_limit_and_sample(smiles_job: Job) -> None:
    formula = SPLIT
    lines = expected(smiles_job, formula).splitlines()
    code, out, err = cat(smiles_job, formula)
    assert code == 0 and out.splitlines() == lines, err
    code, out, _ = cat(smiles_job, formula, "--limit", "700")  # past the first slice
    assert code == 0 and out.splitlines() == lines[:700]
    first = cat(smiles_job, formula, "--sample", "25", "--seed", "3")[1].splitlines()
    again = cat(smiles_job, formula, "--sample", "25", "--seed", "3")[1].splitlines()
    other = cat(smiles_job, formula, "--sample", "25", "--seed", "4")[1].splitlines()
    assert first == again != other
    assert len(first) == len(set(first)) == 25 and set(first) <= set(lines)
    assert first == [line for line in lines if line in set(first)]  # in output order
    code, out, _ = cat(smiles_job, "C6H6", "--sample", "100000")
    assert sorted(out.splitlines()) == sorted(engine("C6H6").splitlines())
    code, _, err = cat(smiles_job, formula, "--limit", "1", "--sample", "1")
    assert code == 2 and "not both" in err


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("C9H20", "C9H20 is not a formula of job"),
        ("C2", "C2 was rejected by the generator: "),
        ("H6C6", "H6C6 is not in Hill order (carbon, hydrogen, then the others alphabetically"),
        ("C6Q", "unknown element 'Q'"),
    ],
)
def test_cat_errors_are_one_line(smiles_job: Job, formula: str, message: str) -> None:
    code, out, err = cat(smiles_job, formula)
    assert code == 2 and out == b""
    assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
    if formula == "H6C6":
        assert err.rstrip().endswith("write C6H6")


def test_failed_formula_and_missing_job(smiles_job: Job, tmp_path: Path) -> None:
    copy = tmp_path / smiles_job.job
    shutil.copytree(Path(smiles_job.output) / smiles_job.job, copy)
    frame = pd.read_parquet(copy / RECORDS_FILE)
    frame.loc[frame["formula"] == "C6H6", ["status", "error"]] = ["failed", "timed out"]
    frame.to_parquet(copy / RECORDS_FILE)
    catalog = Catalog(open_store(str(copy)), smiles_job.job)
    with pytest.raises(NoStructures, match="C6H6 failed, no structures stored: timed out"):
        catalog.structures("C6H6")
    (copy / RECORDS_FILE).unlink()  # a running job: the manifests say where formulae are
    (copy / JOB_FILE).unlink(missing_ok=True)  # (from before job.json)
    catalog = Catalog(open_store(str(copy)), smiles_job.job)
    assert b"".join(catalog.structures("C6H6")).splitlines() == engine("C6H6").splitlines()
    with pytest.raises(UnknownFormula, match="no records yet"):
        catalog.locate("C2")
    ok = smiles_job.records[smiles_job.records["status"] == TaskStatus.OK]
    listed = {e.formula: e.structures for e in catalog.entries()}
    assert listed == ok.groupby("formula")["structures"].sum().to_dict()
    (summary,) = list_jobs(str(tmp_path))
    assert (summary.state, summary.formulae) == ("incomplete", len(listed))
    result = CliRunner().invoke(main, ["cat", "nojob", "CH4", "--output", str(tmp_path)], env={})
    assert result.exit_code == 2 and "no job nojob under" in result.stderr


class CountingStore(Store):
    """A real local Store that remembers what it read."""

    reads: list[str]

    def read_bytes(self, relpath: str) -> bytes:
        self.reads.append(relpath)
        return super().read_bytes(relpath)


def counting(job: Job) -> CountingStore:
    real = job.store
    store = CountingStore(real.url, real.fs, real.root)
    store.reads = []
    return store


def test_cat_reads_only_the_parts_it_needs(smiles_job: Job, tmp_path: Path) -> None:
    store = counting(smiles_job)
    catalog = Catalog(store, smiles_job.job)
    shards = sorted(k for k in set(smiles_job.records["task"]) if "+" in k)
    shard = max(shards, key=lambda key: len(catalog.manifest(key).parts))
    manifest = catalog.manifest(shard)
    catalog.records()
    formula, count = manifest.index[-1]  # the last formula of the shard: in its last part(s)
    store.reads.clear()
    got = b"".join(catalog.structures(formula))
    read_parts = [r for r in store.reads if r.startswith("parts/")]
    needed = {p.path for p in manifest.parts[manifest.starts[-1][0] :]}
    assert set(read_parts) == needed and len(needed) < len(manifest.parts)
    assert got.count(b"\n") == count
    store.reads.clear()
    assert b"".join(catalog.structures(SPLIT, limit=3)).count(b"\n") == 3
    assert [r for r in store.reads if r.startswith("parts/")] == [
        Manifest.from_json(store.read_bytes(manifest_path(smiles_job.tasks(SPLIT)[0])))
        .parts[0]
        .path
    ]
    # a copy with every other part gone still gives that formula; so does an old manifest
    copy = tmp_path / "job"
    shutil.copytree(Path(smiles_job.output) / smiles_job.job, copy)
    for path in (copy / "parts").rglob("*.zst"):
        if str(path.relative_to(copy)) not in needed:
            path.unlink()
    old = json.loads((copy / manifest_path(shard)).read_text())
    del old["starts"]
    (copy / manifest_path(shard)).write_text(json.dumps(old))
    assert b"".join(Catalog(open_store(str(copy)), "job").structures(formula)) == got


def test_verify_checks_starts(smiles_job: Job, tmp_path: Path) -> None:
    copy = tmp_path / "job"
    shutil.copytree(Path(smiles_job.output) / smiles_job.job, copy)
    shard = next(k for k in sorted(set(smiles_job.records["task"])) if "+" in k)
    data = json.loads((copy / manifest_path(shard)).read_text())
    assert len(data["starts"]) == len(data["index"]) and data["starts"][0] == [0, 0]
    data["starts"][-1] = [0, 1]
    (copy / manifest_path(shard)).write_text(json.dumps(data))
    problems = verify_job(open_store(str(copy))).problems
    assert len(problems) == 1 and problems[0].startswith(f"{shard}: starts puts ")


def test_ls_matches_the_records(smiles_job: Job) -> None:
    result = CliRunner().invoke(main, ["ls", smiles_job.job, "--output", smiles_job.output])
    assert result.exit_code == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["formula", "task", "status", "structures", "parts", "generated"]
    frame = smiles_job.records
    sums = frame.groupby("formula")[["structures", "parts"]].sum()
    assert sorted(r[0] for r in rows) == sorted(sums.index)
    for formula, task, status, structures, parts, generated in rows:
        assert (int(structures), int(parts)) == tuple(sums.loc[formula]), formula
        assert generated == structures  # nothing screened
        assert status == (TaskStatus.REJECTED if formula == "C2" else TaskStatus.OK)
        tasks = smiles_job.tasks(formula)
        assert task == (tasks[0] if len(tasks) == 1 else f"{tasks[0]}..{tasks[-1]}")
    result = CliRunner().invoke(
        main, ["ls", smiles_job.job, "--output", smiles_job.output, "--sort", "structures"]
    )
    counts = [int(line.split("\t")[3]) for line in result.stdout.splitlines()[1:]]
    assert counts == sorted(counts, reverse=True)


def test_jobs_lists_the_job(smiles_job: Job, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["jobs", "--output", smiles_job.output])
    assert result.exit_code == 0, result.stderr
    header, *rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert header == ["job", "state", "formulae", "structures", "created"]
    frame = smiles_job.records
    ok = int(frame.loc[frame["status"] == TaskStatus.OK, "structures"].sum())
    (row,) = [r for r in rows if r[0] == smiles_job.job]
    assert row[1] == "finished" and row[2].isdigit() and row[3] == str(ok)
    # without job.json: from records.parquet
    copy = tmp_path / "out"
    shutil.copytree(Path(smiles_job.output) / smiles_job.job, copy / smiles_job.job)
    (copy / smiles_job.job / JOB_FILE).unlink(missing_ok=True)
    (copy / "not-a-job").mkdir()
    (summary,) = list_jobs(str(copy))
    assert (summary.state, summary.formulae) == ("finished", frame["formula"].nunique())
    assert summary.structures == ok and summary.created == frame["started"].min().isoformat()
    # job.json (the client's) wins where it says something; unknown keys are fine
    meta = {"job": smiles_job.job, "created": "2026-01-02T03:04:05+00:00", "state": "stopped",
            "formulae": 999, "tasks": 3, "done": 2, "failed": 0, "extra": [1]}  # fmt: skip
    (copy / smiles_job.job / JOB_FILE).write_text(json.dumps(meta))
    (summary,) = list_jobs(str(copy))
    assert (summary.state, summary.formulae, summary.structures) == ("stopped", 999, ok)
    assert summary.created == meta["created"]


def test_sdf_records_and_a_closed_pipe(sdf_job: Job) -> None:
    catalog = Catalog(sdf_job.store, sdf_job.job)
    ok = sdf_job.records[sdf_job.records["status"] == TaskStatus.OK]
    for formula in sorted(set(ok["formula"])):
        got = b"".join(catalog.structures(formula))
        assert got == expected(sdf_job, formula, output="-F"), formula
    first = b"".join(catalog.structures(SPLIT, limit=2))
    assert first.count(b"\n$$$$\n") == 2 and expected(sdf_job, SPLIT, "-F").startswith(first)
    sample = catalog.sample("C5H7N", 4, seed=1)
    assert len(sample) == 4 and all(r.endswith(b"\n$$$$\n") for r in sample)
    assert all(r in engine("C5H7N", output="-F") for r in sample)
    command = [sys.executable, "-m", "cloudsurge_dask", "cat", sdf_job.job, SPLIT]
    with subprocess.Popen(
        [*command, "--output", sdf_job.output], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(100)
        process.stdout.close()  # `| head -c 100`
        err = process.stderr.read()
        assert process.wait(timeout=60) == 0, err
    assert err == b""


def test_frame_round_trip_of_records_columns(smiles_job: Job) -> None:
    """Catalog reads only the columns it needs; the saved records have them."""
    data = smiles_job.store.read_bytes(RECORDS_FILE)
    columns = set(pd.read_parquet(io.BytesIO(data)).columns)
    assert {"task", "formula", "status", "structures", "parts", "error", "started"} <= columns
