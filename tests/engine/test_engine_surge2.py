"""The built-in engine against Surge 2.0's whole option set (../shared/reference/surge2).

Counts: every row of surge2_counts.csv (144,717), one batch run per option set (all rows in
seconds); under `-m full` each row also as its own process. Structures: every SMILES set of
surge2/surge_smiles, canonicalised as the reference README says. Output formats (-F, -A,
-O#, -z, -o), -m with the filters, and malformed options.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import shlex
import subprocess
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.enginerun import canonical, run, smiles_lines
from support.refdata import REFERENCE

from cloudsurge_dask.engine import engine_path

SURGE2 = REFERENCE / "surge2"
LAST_COUNT = re.compile(r"^>Z (?:wrote|generated) [\d >-]*?(\d+) in \d+\.\d+ sec$")
BATCH_ERROR = re.compile(r"^>E formula (\d+) of \d+ ")


def table() -> dict[str, list[tuple[str, str]]]:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with open(SURGE2 / "surge2_counts.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            groups[row["options"]].append((row["formula"], row["count"]))
    return groups


OPTION_SETS = sorted(table())


def last_counts(stderr: str) -> list[str]:
    return [m.group(1) for m in map(LAST_COUNT.match, stderr.splitlines()) if m]


def batch_counts(options: str, formulae: list[str], chunk: int = 256) -> list[str]:
    """Counts of formulae under options from batch runs of `chunk` formulae; a formula the
    engine refuses is taken out (the batch names it) and recorded as 'error', then the rest
    of its chunk runs again."""
    result: dict[int, str] = {}
    for start in range(0, len(formulae), chunk):
        _batch_chunk(
            options, formulae, list(range(start, min(start + chunk, len(formulae)))), result
        )
    return [result[i] for i in range(len(formulae))]


def _batch_chunk(
    options: str, formulae: list[str], todo: list[int], result: dict[int, str]
) -> None:
    while todo:
        proc = subprocess.run(
            [str(engine_path()), "-u", *shlex.split(options), *(formulae[i] for i in todo)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if proc.returncode == 0:
            counts = last_counts(proc.stderr)
            assert len(counts) == len(todo), proc.stderr[-500:]
            result.update(zip(todo, counts, strict=True))
            break
        m = BATCH_ERROR.match(proc.stderr)
        if m is None:
            assert len(todo) == 1 and proc.stderr.startswith(">E "), proc.stderr[:300]
            result[todo.pop()] = "error"
            continue
        result[todo.pop(int(m.group(1)) - 1)] = "error"


@pytest.mark.parametrize("options", OPTION_SETS)
def test_every_table_row_in_batch(options: str) -> None:
    rows = table()[options]
    got = batch_counts(options, [f for f, _ in rows])
    bad = [(f, want, have) for (f, want), have in zip(rows, got, strict=True) if want != have]
    assert not bad, f"{len(bad)} of {len(rows)} rows differ under {options!r}: {bad[:10]}"


def test_table_covers_the_whole_option_set() -> None:
    groups = table()
    assert sum(len(rows) for rows in groups.values()) == 144_717
    assert len(groups) == 33


def _single(row: tuple[str, str, str]) -> str | None:
    formula, options, want = row
    proc = run("-u", *shlex.split(options), formula)
    if want == "error":
        ok = proc.returncode == 1 and proc.stderr.startswith(">E ") and not proc.stdout
        return None if ok else f"{row}: {proc.returncode} {proc.stderr!r}"
    counts = last_counts(proc.stderr)
    return None if proc.returncode == 0 and counts == [want] else f"{row}: {proc.stderr!r}"


@pytest.mark.full
def test_every_table_row_as_its_own_process() -> None:
    rows = [(f, o, c) for o, items in table().items() for f, c in items]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        bad = [b for b in pool.map(_single, rows, chunksize=64) if b is not None]
    assert not bad, f"{len(bad)} of {len(rows)} rows differ: {bad[:10]}"


# ---------------------------------------------------------------- structures


def smiles_sets() -> list[dict[str, str]]:
    with open(SURGE2 / "surge_smiles" / "index.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def isomorphic(a: str, b: str) -> bool:
    """Same molecule (atoms, bonds and their orders): a matches inside b at equal size."""
    from rdkit import Chem

    mols = []
    for smiles in (a, b):
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        mol.UpdatePropertyCache(strict=False)
        Chem.FastFindRings(mol)
        mols.append(mol)
    x, y = mols
    same_size = x.GetNumAtoms() == y.GetNumAtoms() and x.GetNumBonds() == y.GetNumBonds()
    return same_size and x.HasSubstructMatch(y) and y.HasSubstructMatch(x)


def check_set(entry: dict[str, str]) -> None:
    with gzip.open(SURGE2 / "surge_smiles" / entry["file"], "rt") as handle:
        want = sorted(handle.read().split())
    lines = smiles_lines(*shlex.split(entry["options"]), entry["formula"])
    got = sorted(canonical(s) for s in lines)
    assert len(got) == len(want) == int(entry["structures"])
    extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
    # RDKit's canonical form of a few highly symmetric cages depends on the input's atom
    # order; such strings must still pair up as the same molecules
    assert len(extra) == len(missing) <= 2, (extra[:5], missing[:5])
    for a in extra:
        assert any(isomorphic(a, b) for b in missing), a


@pytest.mark.parametrize(
    "entry",
    [e for e in smiles_sets() if int(e["structures"]) < 100_000],
    ids=lambda e: e["file"],
)
def test_smiles_set_equals_surge(entry: dict[str, str]) -> None:
    check_set(entry)


@pytest.mark.full
@pytest.mark.parametrize(
    "entry",
    [e for e in smiles_sets() if int(e["structures"]) >= 100_000],
    ids=lambda e: e["file"],
)
def test_large_smiles_set_equals_surge(entry: dict[str, str]) -> None:
    check_set(entry)


# ---------------------------------------------------------------- output formats


def sdf_records(text: str) -> list[str]:
    records = text.split("$$$$\n")
    assert records[-1] == ""
    return [r + "$$$$\n" for r in records[:-1]]


@pytest.mark.parametrize(
    "args",
    [["C6H6"], ["C4H5NO"], ["C3H4ClF"], ["C3SiH10"], ["CSyO2H4"], ["-EAzAs5", "C2AzH7"]],
    ids=" ".join,
)
def test_sdf_records_parse_and_equal_the_smiles_set(args: list[str]) -> None:
    from rdkit import Chem

    proc = run("-F", *args)
    assert proc.returncode == 0, proc.stderr
    records = sdf_records(proc.stdout)
    got = []
    for record in records:
        mol = Chem.MolFromMolBlock(record, sanitize=False, removeHs=False)
        assert mol is not None, record
        mol.UpdatePropertyCache(strict=False)
        got.append(Chem.MolToSmiles(mol))
    assert sorted(canonical(s) for s in got) == sorted(canonical(s) for s in smiles_lines(*args))
    assert int(last_counts(proc.stderr)[0]) == len(records)


def sample(name: str) -> tuple[str, str]:
    text = (SURGE2 / name).read_text()
    out, err = text.split("---- stderr ----\n")
    return out, err


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("sample-F_C2H6O.txt", ["C2H6O"]),
        ("sample-F_C3H4O.txt", ["C3H4O"]),
        ("sample-F_C2AzH7.txt", ["-EAzAs5", "C2AzH7"]),
    ],
)
def test_sdf_records_are_surges_own(name: str, args: list[str]) -> None:
    """Byte for byte: the same records (atom and bond blocks as Surge numbers them), and
    the same stderr but for the time; only the order of the records is the generator's."""
    want, err = sample(name)
    proc = run("-F", *args)
    assert sorted(sdf_records(proc.stdout)) == sorted(sdf_records(want))
    assert proc.stderr == err


def alpha_molecule(line: str) -> str:
    """Canonical SMILES of one -A line (atoms numbered in formula order)."""
    from rdkit import Chem

    fields = line.split()
    natoms, nbonds, formula = int(fields[0]), int(fields[1]), fields[2]
    symbols = [
        sym
        for sym, num in re.findall(r"([A-Z][a-z]?)(\d*)", formula)
        if sym != "H"
        for _ in range(int(num) if num else 1)
    ]
    assert len(symbols) == natoms and len(fields) == 3 + nbonds
    mol = Chem.RWMol()
    for sym in symbols:
        mol.AddAtom(Chem.Atom(sym))
    orders = {"-": Chem.BondType.SINGLE, "=": Chem.BondType.DOUBLE, "#": Chem.BondType.TRIPLE}
    for bond in fields[3:]:
        a, kind, b = re.fullmatch(r"(\d+)([-=#])(\d+)", bond).groups()  # type: ignore[union-attr]
        mol.AddBond(int(a), int(b), orders[kind])
    return canonical(Chem.MolToSmiles(mol.GetMol()))


def test_alphabetic_matches_surges_sample() -> None:
    want, _ = sample("sample-A_C3H4O.txt")
    proc = run("-A", "C3H4O")
    got_lines, want_lines = proc.stdout.splitlines(), want.splitlines()
    assert all(line.startswith(("4 3 C3OH4 ", "4 4 C3OH4 ", "4 5 C3OH4 ")) for line in got_lines)
    assert sorted(got_lines) == sorted(want_lines)  # Surge's own lines, in our order
    assert sorted(map(alpha_molecule, got_lines)) == sorted(
        canonical(s) for s in smiles_lines("C3H4O")
    )


@pytest.mark.parametrize("fmt", ["-S", "-F", "-A", "-O3"])
def test_gzip_output_is_the_same_bytes(fmt: str, tmp_path: Path) -> None:
    plain = subprocess.run(
        [str(engine_path()), fmt, "C6H7N"], capture_output=True, check=True, timeout=60
    ).stdout
    zipped = subprocess.run(
        [str(engine_path()), fmt, "-z", "C6H7N"], capture_output=True, check=True, timeout=60
    ).stdout
    assert zipped[:2] == b"\x1f\x8b" and gzip.decompress(zipped) == plain
    target = tmp_path / "out.gz"
    subprocess.run([str(engine_path()), fmt, "-z", f"-o{target}", "C6H7N"], check=True)
    assert gzip.decompress(target.read_bytes()) == plain


def test_numeric_formats_count_their_stages() -> None:
    o3 = run("-O3", "C4H6O")
    o2 = run("-O2", "C4H6O")
    o1 = run("-O1", "C4H6O")
    n3, n2, n1 = (len(p.stdout.splitlines()) for p in (o3, o2, o1))
    assert last_counts(o3.stderr) == [str(n3)]
    assert o2.stderr.splitlines()[-1].startswith(f">Z wrote {n1} -> {n2} in ")
    assert o1.stderr.splitlines()[-1].startswith(f">Z wrote {n1} in ")
    assert n1 < n2 < n3
    for line in o3.stdout.splitlines():
        fields = list(map(int, line.split()))
        natoms, nbonds = fields[0], fields[1]
        assert len(fields) == 2 + natoms + 3 * nbonds
        assert all(m in (0, 1, 2) for m in fields[2 + natoms + 2 :: 3])


@pytest.mark.parametrize(
    "options",
    ["-R", "-B1,2,3,4,5,6,7,8,9", "-P -T -B1,2,3,4,5,7,8,9 -t0 -f0", "-p1:2 -h1", "-C1 -e8:9"],
)
def test_res_mod_with_filters_is_disjoint_and_complete(options: str) -> None:
    whole = sorted(canonical(s) for s in smiles_lines(*options.split(), "C8H10"))
    parts: list[str] = []
    for res in range(5):
        parts += [canonical(s) for s in smiles_lines(*options.split(), f"-m{res}/5", "C8H10")]
    assert sorted(parts) == whole
    assert len(set(parts)) == len(parts)


def test_aromatic_summary_has_the_filtered_count() -> None:
    proc = run("-R", "C8H11NO")
    assert re.search(r">Z generated \d+ -> \d+ -> 2123287 -> 2123169 in ", proc.stderr)


# ---------------------------------------------------------------- malformed options

MALFORMED = [
    ["-B0", "C6H6"],
    ["-B10", "C6H6"],
    ["-B", "C6H6"],
    ["-B1,", "C6H6"],
    ["-B1,,2", "C6H6"],
    ["-Bx", "C6H6"],
    ["-EX", "C6H6"],
    ["-E", "C6H6"],
    ["-Ex3", "C6H6"],
    ["-EAs", "C6H6"],
    ["-EAs0", "C6H6"],
    ["-EAs33x", "C6H6"],
    ["-EC4", "C6H6"],
    ["-m3/2", "C6H6"],
    ["-m2/0", "C6H6"],
    ["-m1", "C6H6"],
    ["-e", "C6H6"],
    ["-e5:3", "C6H6"],
    ["-t", "C6H6"],
    ["-h", "C6H6"],
    ["-p:", "C6H6"],
    ["-Cx", "C6H6"],
    ["-d", "C6H6"],
    ["-c0", "C6H6"],
    ["-O4", "C6H6"],
    ["-O", "C6H6"],
    ["-o", "C6H6"],
    ["-Q", "C6H6"],
    ["--frobnicate", "C6H6"],
    ["-S"],
    ["-S", "C6H6Xq"],
    ["-S", "c6h6"],
    ["-S", "C6H7"],
]


@pytest.mark.parametrize("argv", MALFORMED, ids=" ".join)
def test_malformed_options_get_one_error_line_and_nothing_else(argv: list[str]) -> None:
    proc = run(*argv)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(">E "), proc.stderr


def test_options_combine_as_surge_allows() -> None:
    """-ut0 is -u -t0; -B2,4,6 is -B4 -B6,2; a range end may be omitted."""
    assert last_counts(run("-ut0", "C6H8").stderr) == last_counts(run("-u", "-t0", "C6H8").stderr)
    assert last_counts(run("-B2,4,6", "C7H8").stderr) == last_counts(
        run("-B4", "-B6,2", "C7H8").stderr
    )
    at_least = int(last_counts(run("-f1:", "C6H8").stderr)[0])
    total = int(last_counts(run("C6H8").stderr)[0])
    assert at_least == total - int(last_counts(run("-f0", "C6H8").stderr)[0])
    assert last_counts(run("-f:0", "C6H8").stderr) == last_counts(run("-f0", "C6H8").stderr)
