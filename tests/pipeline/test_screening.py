"""Screening while generating, against a plain RDKit loop over the engine's own output.

Each job is queued on a real Redis and drained by a real Worker (the built-in engine as a
subprocess, real RDKit, real zstd parts on disk); what it stored is read back through the
catalog and compared, structure by structure and in order, with what a user's own loop over
`cloudsurge-surge -S FORMULA` and RDKit's functions (Contrib's scoreMol and calculateScore
themselves) keeps.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rdkit import Chem, rdBase
from rdkit.Chem import QED
from rdkit.Chem.Descriptors import TPSA, MolWt  # type: ignore[attr-defined]
from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Contrib.NP_Score import npscorer
from rdkit.Contrib.SA_Score import sascorer

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.errors import ResultError
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.layout import job_url
from cloudsurge_dask.output.records import TaskRecord, TaskStatus
from cloudsurge_dask.queue.jobqueue import new_job_id
from cloudsurge_dask.results.catalog import Catalog
from cloudsurge_dask.results.recheck import deep_check, job_meta, rescreen
from cloudsurge_dask.results.verify import verify_job
from cloudsurge_dask.run.job import enqueue
from cloudsurge_dask.run.worker import Worker
from cloudsurge_dask.settings import Settings
from cloudsurge_dask.storage import open_store

rdBase.DisableLog("rdApp.*")
# small formulae of several shapes: a shard of them, one split into slices, one refused
FORMULAE = ["C2", "C3H6O", "C4H8O", "C4H7NO", "C5H8O", "C5H10O", "C6H6", "C6H10O"]
Keep = Callable[[Any], bool]


def engine_lines(formula: str, *options: str) -> list[bytes]:
    run = subprocess.run(
        [str(engine_path()), *options, "-S", formula], capture_output=True, check=False
    )
    return run.stdout.splitlines()


def plain_loop(formula: str, keep: Keep, stereo: bool = False) -> list[bytes]:
    """What a user's own RDKit loop keeps of the engine's output, in order."""
    kept: list[bytes] = []
    options = StereoEnumerationOptions(onlyUnassigned=True, unique=True)
    for line in engine_lines(formula):
        mol = Chem.MolFromSmiles(line.decode())
        if mol is None or not keep(mol):
            continue
        if stereo:
            isomers = [Chem.MolToSmiles(m) for m in EnumerateStereoisomers(mol, options=options)]
            kept.extend(s.encode() for s in dict.fromkeys(isomers))
        else:
            kept.append(line)
    return kept


def drain(
    redis_url: str, tmp_path: Path, formulae: list[str], processes: int = 1, **values: Any
) -> tuple[str, Settings, list[TaskRecord]]:
    settings = Settings.build(
        {"output": str(tmp_path / "out"), "part_size": 700, "split_structures": 0, **values},
        env={},
    )
    job = new_job_id()
    enqueue(redis_url, settings, [parse_formula(f) for f in formulae], job)
    records = Worker(redis_url, job, screen_processes=processes).run()
    return job, settings, records


def stored(settings: Settings, job: str, formula: str) -> list[bytes]:
    catalog = Catalog.open(settings.output, job)
    try:
        return b"".join(catalog.structures(formula)).splitlines()
    except ResultError:
        return []


def check_against_loop(
    settings: Settings, job: str, records: list[TaskRecord], keep: Keep, stereo: bool = False
) -> None:
    by_formula = {r.formula: r for r in records}
    assert set(by_formula) == set(FORMULAE)
    assert by_formula["C2"].status == TaskStatus.REJECTED
    total = 0
    for formula in FORMULAE[1:]:
        record = by_formula[formula]
        assert record.status == TaskStatus.OK, record
        expected = plain_loop(formula, keep, stereo)
        assert stored(settings, job, formula) == expected, formula
        assert record.structures == len(expected)
        assert record.generated == len(engine_lines(formula))
        assert record.generated == record.kept + record.unparsable + sum(record.removed)
        total += len(expected)
    assert total > 0  # the screens keep something: the comparison means something
    report = verify_job(open_store(job_url(settings.output, job)))
    assert report.ok, report.problems


def test_descriptors_and_substructures_keep_what_rdkit_keeps(
    redis_url: str, tmp_path: Path
) -> None:
    screens = ("MolWt < 90", "10 <= TPSA <= 30", "require [#8]", "exclude C=C")
    job, settings, records = drain(redis_url, tmp_path, FORMULAE, screen=screens)
    pattern, double = Chem.MolFromSmarts("[#8]"), Chem.MolFromSmarts("C=C")

    def keep(mol: Any) -> bool:
        return (
            MolWt(mol) < 90
            and 10 <= TPSA(mol) <= 30
            and mol.HasSubstructMatch(pattern)
            and not mol.HasSubstructMatch(double)
        )

    check_against_loop(settings, job, records, keep)
    # each screen's count is at most what fails it alone, and together they add up
    removed = [sum(r.removed[i] for r in records) for i in range(4)]
    failing = [0, 0, 0, 0]
    for formula in FORMULAE[1:]:
        for line in engine_lines(formula):
            mol = Chem.MolFromSmiles(line.decode())
            failing[0] += MolWt(mol) >= 90
            failing[1] += not 10 <= TPSA(mol) <= 30
            failing[2] += not mol.HasSubstructMatch(pattern)
            failing[3] += mol.HasSubstructMatch(double)
    assert all(0 < r <= f for r, f in zip(removed, failing, strict=True)), (removed, failing)
    assert sum(r.screen_cpu_seconds for r in records) > 0


def test_model_scores_equal_contribs_own_functions(redis_url: str, tmp_path: Path) -> None:
    screens = ("np_likeness >= -1", "sa_score <= 5")
    job, settings, records = drain(redis_url, tmp_path, FORMULAE, screen=screens)
    model = npscorer.readNPModel()
    sascorer.readFragmentScores()

    def keep(mol: Any) -> bool:
        return npscorer.scoreMol(mol, model) >= -1 and sascorer.calculateScore(mol) <= 5

    check_against_loop(settings, job, records, keep)
    ledger_models = job_meta(open_store(job_url(settings.output, job)))
    assert ledger_models.settings.screen == screens


def test_qed_and_catalogs(redis_url: str, tmp_path: Path) -> None:
    formulae = ["C2", "C4H7NO", "C5H8O", "C6H6", "C3H6O", "C4H8O", "C5H10O", "C6H10O"]
    screens = ("qed >= 0.35", "catalog brenk", "catalog PAINS")
    job, settings, records = drain(redis_url, tmp_path, formulae, screen=screens)
    catalogs = []
    for name in ("BRENK", "PAINS"):
        params = FilterCatalogParams()
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
        catalogs.append(FilterCatalog(params))

    def keep(mol: Any) -> bool:
        return QED.qed(mol) >= 0.35 and not any(c.HasMatch(mol) for c in catalogs)

    check_against_loop(settings, job, records, keep)


def test_plugin_and_stereo(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "oddkeeper.py").write_text(textwrap.dedent("""
        def keep(smiles):
            return [len(s) % 2 == 1 for s in smiles]
    """))  # fmt: skip
    monkeypatch.syspath_prepend(str(plugins))
    job, settings, records = drain(
        redis_url, tmp_path, FORMULAE, screen=("MolWt < 100",),
        screen_plugin="oddkeeper:keep", stereo=True,
    )  # fmt: skip

    by_formula = {r.formula: r for r in records}
    total = 0
    for formula in FORMULAE[1:]:
        chosen = [
            line for line in engine_lines(formula)
            if MolWt(Chem.MolFromSmiles(line.decode())) < 100 and len(line) % 2 == 1
        ]  # fmt: skip
        options = StereoEnumerationOptions(onlyUnassigned=True, unique=True)
        expected: list[bytes] = []
        for line in chosen:
            mol = Chem.MolFromSmiles(line.decode())
            isomers = [Chem.MolToSmiles(m) for m in EnumerateStereoisomers(mol, options=options)]
            expected.extend(s.encode() for s in dict.fromkeys(isomers))
        assert stored(settings, job, formula) == expected, formula
        record = by_formula[formula]
        assert (record.kept, record.structures) == (len(chosen), len(expected))
        total += len(expected)
    assert total > sum(by_formula[f].kept for f in FORMULAE[1:]) > 0  # stereo expanded some


def test_unparsable_dropped_or_kept(redis_url: str, tmp_path: Path) -> None:
    """Pentavalent nitrogen (Nx) is valid for Surge, not for RDKit's sanitization."""
    formulae = ["CH5Nx", "C2H7Nx", "C2H6O"]
    _, _, dropped = drain(redis_url, tmp_path / "drop", formulae, screen=("MolWt < 1000",))
    job, settings, kept = drain(
        redis_url, tmp_path / "keep", formulae, screen=("MolWt < 1000",),
        screen_unparsable="keep",
    )  # fmt: skip
    unparsable = sum(r.unparsable for r in dropped)
    assert unparsable > 0 and sum(r.unparsable for r in kept) == unparsable
    assert sum(r.structures for r in kept) == sum(r.structures for r in dropped) + unparsable
    assert stored(settings, job, "CH5Nx") == engine_lines("CH5Nx")


def test_parallel_screening_writes_identical_parts(redis_url: str, tmp_path: Path) -> None:
    """Child processes, chunks dealt round-robin: same parts, byte for byte, as inline."""
    screens = ("catalog brenk", "np_likeness >= -2")
    formulae = ["C7H8O", "C4H8O", "C5H8O", "C6H6"]
    inline_job, inline, _ = drain(redis_url, tmp_path / "one", formulae, screen=screens)
    job, parallel, records = drain(redis_url, tmp_path / "two", formulae, 2, screen=screens)
    assert all(r.status == TaskStatus.OK for r in records) and sum(r.kept for r in records) > 0
    for formula in formulae:
        assert stored(parallel, job, formula) == stored(inline, inline_job, formula)
    one = sorted(p.read_bytes() for p in (tmp_path / "one").rglob("*.zst"))
    two = sorted(p.read_bytes() for p in (tmp_path / "two").rglob("*.zst"))
    assert one == two and len(one) > 1


def test_deep_verify_and_rescreen(redis_url: str, tmp_path: Path) -> None:
    job, settings, _ = drain(
        redis_url, tmp_path, FORMULAE, screen=("exclude C=C", "MolWt < 95"), stereo=True
    )
    store = open_store(job_url(settings.output, job))
    meta = job_meta(store)
    deep = deep_check(store, meta)
    assert deep.tasks >= 1 and deep.problems == []
    again = rescreen(store, meta, 60, seed=5)
    assert again.tasks == 60 and again.problems == []
    # a stored structure the screens would drop is found by the rescreen
    looser, _, _ = drain(redis_url, tmp_path / "loose", FORMULAE, screen=("MolWt < 200",))
    loose_store = open_store(job_url(str(tmp_path / "loose" / "out"), looser))
    strict = job_meta(store)
    found = rescreen(loose_store, strict, 200, seed=1)
    assert any("fails" in p for p in found.problems)


def test_bad_expressions_are_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        ("Foo < 3", "unknown name 'Foo'"),
        ("MolWt <", "not an expression"),
        ("require C((", "cannot parse the SMARTS"),
        ("catalog nope", "unknown catalog 'nope'"),
        ("5 < MolWt < 1", "the range is empty"),
        ("MolWt < 1e999", "not a finite number"),
    ]
    for expression, message in cases:
        run = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "run", "--max-heavy-atoms", "2",
             "--output", str(tmp_path / "out"), "--screen", expression],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 2, (expression, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert lines[0].startswith("error:") and message in lines[0], run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()  # nothing queued, nothing written


def test_bad_plugins_are_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "raising.py").write_text("def keep(smiles):\n    raise RuntimeError('nope')\n")
    (tmp_path / "short.py").write_text("def keep(smiles):\n    return []\n")
    cases = [
        ("not-a-reference", "is not module:function"),
        ("missing_module_xyz:keep", "cannot import missing_module_xyz"),
        ("raising:keep", "RuntimeError('nope')"),
        ("short:keep", "returned 0 verdicts"),
        ("short:absent", "has no function absent"),
    ]
    for reference, message in cases:
        run = subprocess.run(
            [sys.executable, "-m", "cloudsurge_dask", "run", "--max-heavy-atoms", "2",
             "--output", str(tmp_path / "out"), "--screen-plugin", reference],
            capture_output=True, text=True, check=False, cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        )  # fmt: skip
        assert run.returncode == 2, (reference, run.stderr)
        assert message in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert len(run.stderr.strip().splitlines()) <= 2, run.stderr
    assert not (tmp_path / "out").exists()
