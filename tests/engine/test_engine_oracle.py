"""The engine against an independent brute-force enumerator (tests/support/surge_oracle.py)
on option combinations the reference table does not hold: extra elements under filters, -c/-d/-e
together, ranges. The oracle enumerates every bond matrix of up to four heavy atoms."""

from __future__ import annotations

import random
import re

import pytest
from support import surge_oracle
from support.enginerun import run

ELEMENTS = ["C", "N", "O", "S", "P", "F", "Si", "Nx", "Px", "Sx", "Sy"]
OPTIONS = ["", "-T", "-R", "-b", "-c3", "-d2", "-e3:4", "-t1:", "-f0 -T", "-B5", "-B6 -c3", "-P"]


def formulae(count: int, seed: int) -> list[str]:
    """Formulae of 2 to 4 heavy atoms with a hydrogen count of the right parity."""
    rng = random.Random(seed)
    valence = {"C": 4, "N": 3, "O": 2, "S": 2, "P": 3, "F": 1, "Si": 4, "Nx": 5, "Px": 5}
    valence |= {"Sx": 4, "Sy": 6}
    chosen: list[str] = []
    while len(chosen) < count:
        atoms = [rng.choice(ELEMENTS) for _ in range(rng.randint(2, 4))]
        total = sum(valence[a] for a in atoms)
        hydrogens = rng.randrange(total % 2, total - 2 * (len(atoms) - 1) + 1, 2)
        chosen.append("".join(atoms) + (f"H{hydrogens}" if hydrogens else ""))
    return chosen


@pytest.mark.parametrize("options", OPTIONS)
def test_engine_equals_brute_force(options: str) -> None:
    compared = 0
    for formula in formulae(12, seed=sum(map(ord, options))):
        proc = run("-u", *options.split(), formula)
        refused = surge_oracle.formula_error(formula, options)
        if refused is not None:
            assert proc.returncode == 1 and proc.stderr.startswith(">E "), (formula, refused)
            continue
        want = surge_oracle.filtered_count(
            surge_oracle.enumerate_formula(formula, options), options
        )
        got = re.search(r"(\d+) in \d+\.\d+ sec", proc.stderr.splitlines()[-1])
        assert proc.returncode == 0 and got is not None, proc.stderr
        assert int(got.group(1)) == want, (formula, options)
        compared += 1
    assert compared >= 3
