"""Running the built-in engine in tests: argv lists, its `>Z` summary, canonical SMILES."""

from __future__ import annotations

import functools
import re
import subprocess

from cloudsurge_dask.engine import engine_path

Z_LINE = re.compile(
    r"^>Z (wrote|generated) (\d+) -> (\d+) -> (\d+)(?: -> (\d+))? in \d+\.\d\d sec$"
)

def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the engine with an argv list (never a shell)."""
    return subprocess.run(
        [str(engine_path()), *args], capture_output=True, text=True, check=False, timeout=120
    )


def summary(proc: subprocess.CompletedProcess[str]) -> tuple[str, int, int, int]:
    """Parse the final '>Z' line: (verb, graphs, colourings, structures); with -R the
    structures are those left by the aromaticity filter (the line's fifth number)."""
    lines = proc.stderr.strip().splitlines()
    assert lines, f"no stderr: rc={proc.returncode}"
    m = Z_LINE.match(lines[-1])
    assert m, f"bad summary line: {lines[-1]!r}"
    return m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(5) or m.group(4))


@functools.cache
def canonical(smiles: str) -> str:
    """Canonical form exactly as the reference README prescribes."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    assert mol is not None, smiles
    mol.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(mol)
    return str(Chem.MolToSmiles(mol, canonical=True))


def smiles_lines(*args: str) -> list[str]:
    proc = run("-S", *args)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert summary(proc)[3] == len(lines)
    return lines
