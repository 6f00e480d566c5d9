"""The built-in structure generator (cloudsurge-surge) against upstream Surge's figures.

Runs the binary of the *installed* package (engine_path()) directly, argv lists only.
Reference data: ../shared/reference (README there): counts per formula/options as
Surge 2.0 reported them, and complete canonicalised SMILES sets for a few formulae.
The whole count table is in test_engine_full.py (marker `full`).
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.enginerun import canonical, run, smiles_lines, summary

from cloudsurge_dask.engine import engine_path

REFERENCE = Path(
    os.environ.get(
        "CLOUDSURGE_REFERENCE", Path(__file__).resolve().parents[3] / "shared" / "reference"
    )
)
SMILES_SETS = sorted((REFERENCE / "surge_smiles").glob("*.smi.gz"))


def reference_rows() -> list[dict[str, str]]:
    with open(REFERENCE / "surge_counts_le7.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def check_row(row: dict[str, str]) -> str | None:
    """Run one table row; return a mismatch description or None."""
    proc = run("-u", *row["options"].split(), row["formula"])
    if row["count"] == "error":
        if proc.returncode != 0 and proc.stderr.startswith(">E "):
            return None
        return f"{row}: expected an >E error, got rc={proc.returncode} {proc.stderr!r}"
    try:
        _, _, _, count = summary(proc)
    except AssertionError as exc:
        return f"{row}: {exc}"
    if proc.returncode != 0 or count != int(row["count"]):
        return f"{row}: got {count} (rc={proc.returncode})"
    return None


def check_rows(rows: list[dict[str, str]]) -> list[str]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return [bad for bad in pool.map(check_row, rows) if bad is not None]


def element_counts(formula: str) -> Counter[str]:
    """Element -> count for formulae such as C8H11NO (H included)."""
    counts: Counter[str] = Counter()
    for sym, num in re.findall(r"([A-Z][a-z]?)(\d*)", formula):
        counts[sym] += int(num) if num else 1
    return +counts


# ---------------------------------------------------------------- counts


def test_engine_binary_installed() -> None:
    path = engine_path()
    assert path.is_file()
    assert os.access(path, os.X_OK)


def test_reference_subset_counts() -> None:
    """Options rows, the error row, B/P, zero-count rows, and every 7th other formula."""
    rows = reference_rows()
    assert len(rows) == 9937
    subset = [
        row
        for i, row in enumerate(rows)
        if row["options"]
        or row["count"] in ("error", "0")
        or re.search(r"B(?!r)|P", row["formula"])
        or i % 7 == 0
    ]
    assert any(r["count"] == "error" for r in subset)
    assert len({r["options"] for r in subset}) == 5
    bad = check_rows(subset)
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize(
    ("formula", "count"),
    [
        ("C8H11NO", 2123287),
        ("C10H16O", 452458),
        ("C12H26", 355),
        # many monovalent atoms: perfluoroalkanes have as many isomers as the alkanes
        ("C5F12", 3),
        ("C8F18", 18),
        ("C10F22", 75),
        ("C2HBrClF3", 4),
    ],
)
def test_larger_counts(formula: str, count: int) -> None:
    proc = run("-u", formula)
    assert proc.returncode == 0
    assert summary(proc)[0] == "generated"
    assert summary(proc)[3] == count


def test_c2_is_an_error() -> None:
    proc = run("-u", "C2")
    assert proc.returncode != 0
    assert proc.stderr.startswith(">E ")


@pytest.mark.parametrize("formula", ["CH6", "CH40", "C2H8", "C3H10"])
def test_too_many_hydrogens_to_connect_is_refused(formula: str) -> None:
    """Fewer bonds than a tree needs: no edge count fits, which Surge refuses (as it
    refuses every formula whose edge range is empty, e.g. C2, in its table)."""
    proc = run("-S", formula)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(">E no structure possible") and "connect" in proc.stderr


@pytest.mark.parametrize("formula", ["C", "CH2", "NBr", "SiH2", "NxH3"])
def test_impossible_formulae_give_zero(formula: str) -> None:
    proc = run("-S", formula)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert summary(proc)[3] == 0


# ---------------------------------------------------------------- SMILES


@pytest.mark.parametrize("path", SMILES_SETS, ids=[p.name[:-7] for p in SMILES_SETS])
def test_smiles_set_equals_reference(path: Path) -> None:
    formula = path.name[: -len(".smi.gz")]
    with gzip.open(path, "rt") as handle:
        reference = [line for line in handle.read().splitlines() if line]
    lines = smiles_lines(formula)
    got = sorted(canonical(s) for s in lines)
    assert len(got) == len(set(got)), "duplicate structures"
    assert got == sorted(reference)


@pytest.mark.parametrize(
    "formula",
    [p.name[: -len(".smi.gz")] for p in SMILES_SETS]
    + ["C2H3BrClNOS", "CH3FIOP", "C5H6BrN", "C2H3Cl3"],
)
def test_smiles_sanitise_and_match_formula(formula: str) -> None:
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    want = element_counts(formula)
    lines = smiles_lines(formula)
    assert lines
    seen: dict[str, Counter[str]] = {}
    for smi in lines:
        mol = Chem.MolFromSmiles(smi)
        assert mol is not None, smi
        hill = rdMolDescriptors.CalcMolFormula(mol)
        if hill not in seen:
            seen[hill] = element_counts(hill)
        assert seen[hill] == want, (smi, hill)


@pytest.mark.parametrize("options", [["-T"], ["-t0", "-f0"], ["-P"], ["-T", "-t0", "-f0", "-P"]])
def test_filtered_smiles_are_subsets(options: list[str]) -> None:
    full = {canonical(s) for s in smiles_lines("C6H6")}
    part = [canonical(s) for s in smiles_lines(*options, "C6H6")]
    assert len(part) == len(set(part))
    assert set(part) <= full


@pytest.mark.parametrize("letter", ["t", "f", "p", "h"])
def test_cycle_counts_partition_the_molecules(letter: str) -> None:
    """-t#/-f#/-p#/-h# ask for exactly # cycles of that length (Surge's meaning, as the
    reference table shows), so the counts for 0, 1, 2, ... add up to the unfiltered count
    and a range is the sum of its members."""
    total = summary(run("-u", "C7H8"))[3]
    exact = [summary(run("-u", f"-{letter}{k}", "C7H8"))[3] for k in range(12)]
    assert sum(exact) == total
    assert summary(run("-u", f"-{letter}0:2", "C7H8"))[3] == sum(exact[:3])
    assert summary(run("-u", f"-{letter}1:", "C7H8"))[3] == total - exact[0]


# ---------------------------------------------------------------- -m res/mod


@pytest.mark.parametrize("formula", ["C7H8", "C4H4N2O2", "C3H6O", "C6H3BrF2"])
def test_res_mod_parts_partition_the_output(formula: str) -> None:
    whole = [canonical(s) for s in smiles_lines(formula)]
    for mod in range(2, 17):
        union: list[str] = []
        for res in range(mod):
            arg = f"-m{res}/{mod}" if res % 2 else f"{res}/{mod}"
            args = [arg, formula] if res % 2 else ["-m", arg, formula]
            union += [canonical(s) for s in smiles_lines(*args)]
        assert len(union) == len(set(union)), f"parts of {mod} overlap"
        assert sorted(union) == sorted(whole), f"union of {mod} parts differs"


def test_res_mod_counts_add_up() -> None:
    for mod in (2, 5, 16):
        total = sum(summary(run("-u", "-m", f"{r}/{mod}", "C8H11NO"))[3] for r in range(mod))
        assert total == 2123287


# ---------------------------------------------------------------- output and errors


def test_summary_line_matches_lines_written(tmp_path: Path) -> None:
    for formula in ("C6H6", "C5H5N", "CH4", "C"):
        proc = run("-S", formula)
        verb, _, _, count = summary(proc)
        assert verb == "wrote"
        assert count == len(proc.stdout.splitlines())
        out = tmp_path / f"{formula}.smi"
        proc2 = run("-S", f"-o{out}", formula)
        assert proc2.stdout == ""
        assert out.read_text() == proc.stdout
        assert summary(proc2)[3] == count


def test_without_s_nothing_is_written() -> None:
    proc = run("C6H6")
    assert proc.stdout == ""
    assert summary(proc)[3] == 217


@pytest.mark.parametrize(
    "args",
    [
        ["-u", "Xx"],
        ["-S", "C6Xx2"],
        ["-u", "C-1"],
        ["-u", "-oX"],
        ["-oX"],
        ["-u", "C200"],
        ["-u", "C20H42N13"],
        ["-u", ""],
        ["-u"],
        [],
        ["-u", "-Q", "C6H6"],
        ["--bogus", "C6H6"],
        ["-", "C6H6"],
        ["-u", "C7H7"],
        ["-u", "C6H6", "Xx"],
        ["-u", "c6h6"],
        ["-u", "H2"],
        ["-u", "-m", "C6H6"],
        ["-u", "-m3/2", "C6H6"],
        ["-u", "-mx/y", "C6H6"],
        ["-u", "-t", "C6H6"],
        ["-u", "-o", "C6H6"],
    ],
)
def test_bad_input_is_an_error(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode != 0
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(">E "), proc.stderr


def test_help() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    assert "-S" in proc.stdout and "-u" in proc.stdout


def test_console_entry_point_execs_engine(tmp_path: Path) -> None:
    # cwd=tmp_path so that "-c" imports the installed package, not a source checkout
    code = "from cloudsurge_dask.engine import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "-S", "C3H6O"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 9
    bad = subprocess.run(
        [sys.executable, "-c", code, "Xx"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode != 0 and bad.stderr.startswith(">E ")


# ---------------------------------------------------------------- batch mode (several formulae)

Z_BATCH = re.compile(r"^>Z (wrote|generated) (\d+) -> (\d+) -> (\d+) in \d+\.\d+ sec$")


def batch_summaries(proc: subprocess.CompletedProcess[str]) -> list[int]:
    """Structure counts of all '>Z' lines, in order (stderr holds nothing else)."""
    counts = []
    for line in proc.stderr.splitlines():
        m = Z_BATCH.match(line)
        assert m, f"unexpected stderr line {line!r}"
        counts.append(int(m.group(4)))
    return counts


def singles_stdout(args: list[str], formulae: list[str]) -> str:
    """Concatenated stdout of one process per formula."""

    def one(formula: str) -> str:
        proc = run(*args, formula)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return "".join(pool.map(one, formulae))


def batch_sample() -> dict[str, list[tuple[str, int]]]:
    """options -> [(formula, reference count)]: every options row, and for no options
    every 20th formula plus all B/P formulae, with zero-count formulae and a duplicate
    spliced into the middle."""
    by_opt: dict[str, list[tuple[str, int]]] = {}
    for i, row in enumerate(reference_rows()):
        if row["count"] == "error":
            continue
        if row["options"] or i % 20 == 0 or re.search(r"B(?!r)|P", row["formula"]):
            by_opt.setdefault(row["options"], []).append((row["formula"], int(row["count"])))
    for rows in by_opt.values():
        mid = len(rows) // 2
        rows[mid:mid] = [("CH2", 0), ("C", 0), rows[0], ("NBr", 0), ("SiH2", 0)]
    return by_opt


def test_batch_sample_is_representative() -> None:
    sample = batch_sample()
    assert len(sample) == 5
    formulae = [f for rows in sample.values() for f, _ in rows]
    assert any(re.search("Cl|Br|I|F", f) for f in formulae)
    assert any(re.search(r"B(?!r)|P", f) for f in formulae)
    assert len(sample[""]) > 450


@pytest.mark.parametrize("mode", ["-S", "-u"])
@pytest.mark.parametrize("options", ["", "-T", "-t0 -f0", "-P", "-T -t0 -f0 -P"])
def test_batch_equals_reference_and_single_runs(options: str, mode: str) -> None:
    rows = batch_sample()[options]
    formulae = [f for f, _ in rows]
    args = [mode, *options.split()]
    proc = run(*args, *formulae)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert batch_summaries(proc) == [count for _, count in rows]
    verb = "wrote" if mode == "-S" else "generated"
    assert all(line.startswith(f">Z {verb} ") for line in proc.stderr.splitlines())
    if mode == "-S":
        assert proc.stdout == singles_stdout(args, formulae)
        assert len(proc.stdout.splitlines()) == sum(c for _, c in rows)
    else:
        assert proc.stdout == ""


@pytest.mark.parametrize("part", [["-m", "1/3"], ["-m0/4"], ["-T", "-m", "6/7"]])
def test_batch_res_mod_applies_to_each_formula(part: list[str]) -> None:
    formulae = ["C7H8", "C3H6O", "C6H3BrF2", "CH2", "C8H18", "C4H4N2O2", "C7H8", "C14H30"]
    args = ["-S", *part]
    proc = run(*args, *formulae)
    assert proc.returncode == 0, proc.stderr
    counts = batch_summaries(proc)
    assert len(counts) == len(formulae)
    assert proc.stdout == singles_stdout(args, formulae)
    for formula, count in zip(formulae, counts, strict=True):
        assert count == summary(run(*args, formula))[3]


def test_batch_duplicates_are_generated_again(tmp_path: Path) -> None:
    one = run("-S", "C3H6O")
    proc = run("-S", "C3H6O", "C3H6O", "C3H6O")
    assert proc.returncode == 0
    assert proc.stdout == one.stdout * 3
    assert batch_summaries(proc) == [9, 9, 9]
    out = tmp_path / "batch.smi"
    proc2 = run("-S", f"-o{out}", "C3H6O", "CH4", "C3H6O")
    assert proc2.returncode == 0 and proc2.stdout == ""
    assert out.read_text() == one.stdout + "C\n" + one.stdout
    assert batch_summaries(proc2) == [9, 1, 9]


def test_batch_time_has_more_decimals_single_keeps_two() -> None:
    assert re.search(r" in \d+\.\d{6} sec$", run("-u", "C6H6", "C6H6").stderr.splitlines()[0])
    assert re.search(r" in \d+\.\d\d sec$", run("-u", "C6H6").stderr.strip())


@pytest.mark.parametrize("bad", ["Xx", "C2", "C7H7", "C200", "", "c6h6", "H2", "C6Xx2", "C-1"])
@pytest.mark.parametrize("where", [0, 3, 6])
def test_batch_bad_formula_anywhere_is_one_error(bad: str, where: int, tmp_path: Path) -> None:
    formulae = ["C6H6", "C2H6O", "CH2", "C3H8", "C5H5N", "C2H3Cl"]
    formulae.insert(where, bad)
    for mode in (["-S"], ["-u"], ["-S", f"-o{tmp_path / 'x.smi'}"]):
        proc = run(*mode, *formulae)
        assert proc.returncode == 1
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith(f">E formula {where + 1} of {len(formulae)} ('{bad}'): ")
    assert not (tmp_path / "x.smi").exists()


def test_batch_only_first_bad_formula_is_named() -> None:
    proc = run("-S", "C6H6", "Xx", "C2", "CH4")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(">E formula 2 of 4 ('Xx'): unknown element Xx")
