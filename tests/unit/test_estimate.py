"""The structure-count estimate: accuracy on measured counts, sanity, speed and splitting."""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import time

import numpy as np
import pytest
from support.refdata import hill_counts

from cloudsurge_dask.formulae.estimate import (
    MAX_SPLIT,
    TERMS,
    estimate_many,
    estimate_seconds,
    estimate_structures,
    load_model,
    split_count,
)
from cloudsurge_dask.formulae.formula import Formula, parse_formula

# Formulae with 9 and 10 heavy atoms that the shipped model was not fitted on.
HELD_OUT = [
    "C3Cl2I3N", "C4H6BrCl2NO", "C2H2N6O", "CH4Br2FN3OS", "C5HN3O", "C5BrClFN",
    "BrH3N4O2S2", "C2HBrCl5N", "C5H6ClF2NO", "C3H3Cl2I4N", "C2BrF2IOS3", "C6H10S4",
]  # fmt: skip


def ratio(estimated: float, measured: float) -> float:
    return max(estimated / measured, measured / estimated)


def engine() -> str:
    """CLOUDSURGE_ENGINE, else the installed built-in engine; skip when there is none."""
    if os.environ.get("CLOUDSURGE_ENGINE"):
        return os.environ["CLOUDSURGE_ENGINE"]
    try:
        from cloudsurge_dask.engine import engine_path

        return str(engine_path())
    except (ImportError, AttributeError, FileNotFoundError) as exc:
        pytest.skip(f"no built-in engine: {exc}")


def count(executable: str, formula: str) -> int:
    done = subprocess.run(
        [executable, "-u", formula], capture_output=True, text=True, timeout=30, check=True
    )
    return int(done.stderr.strip().splitlines()[-1].split("->")[2].split()[0])


def test_model_file_matches_code() -> None:
    model = load_model()
    assert tuple(model["terms"]) == TERMS and len(model["count"]) == len(TERMS)


def test_reference_table_within_stated_factor() -> None:
    table = {h: c for h, c in hill_counts().items() if c > 0}
    formulae = [parse_formula(h) for h in table]
    estimates = estimate_many(formulae)
    errors = np.array([ratio(e, table[f.hill]) for f, e in zip(formulae, estimates, strict=True)])
    assert len(errors) > 9000
    assert np.median(errors) < 1.25
    assert np.percentile(errors, 90) < 1.8
    big = [ratio(estimate_structures(f), table[f.hill]) for f in formulae if table[f.hill] > 1e4]
    assert np.median(big) < 1.15 and max(big) < 2.5


def test_held_out_formulae_measured_with_the_engine() -> None:
    executable = engine()
    errors = [ratio(estimate_structures(parse_formula(f)), count(executable, f)) for f in HELD_OUT]
    assert np.median(errors) < 1.3, errors
    assert max(errors) < 2.5, errors


def test_no_structure_estimates_zero() -> None:
    for text in ("C", "CH2", "O", "CH3", "C2H5", "F3"):
        formula = parse_formula(text) if text != "F3" else Formula((("F", 3),), 0)
        assert estimate_structures(formula) == 0.0
        assert split_count(formula, 1) == 1
    none, methane = estimate_many([parse_formula("C"), parse_formula("CH4")])
    assert none == 0.0 and ratio(methane, 1) < 1.5


@pytest.mark.parametrize("unsaturation", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("hetero", ["", "N", "O", "NO", "ClO2", "N2S"])
def test_more_carbons_more_structures(unsaturation: int, hetero: str) -> None:
    previous = 0.0
    for carbons in range(2, 15):
        atoms = parse_formula(f"C{carbons}{hetero}")
        hydrogens = atoms.max_hydrogens - 2 * unsaturation
        if hydrogens < 0 or (carbons == 2 and unsaturation == 3 and not hetero):
            continue  # no structure (C2 would need a quadruple bond)
        estimate = estimate_structures(Formula(atoms.counts, hydrogens))
        assert estimate > previous, (carbons, hetero, unsaturation)
        previous = estimate


def test_alkane_isomers_extrapolate() -> None:
    # Constitutional isomers of alkanes (OEIS A000602), beyond the fitted 12 heavy atoms too.
    for carbons, isomers in ((8, 18), (10, 75), (12, 355), (13, 802), (14, 1858)):
        assert (
            ratio(estimate_structures(parse_formula(f"C{carbons}H{2 * carbons + 2}")), isomers) < 2
        )


def test_many_matches_one_and_is_fast() -> None:
    formulae = [parse_formula(h) for h in list(hill_counts())[:2000]]
    many = estimate_many(formulae)
    one = np.array([estimate_structures(f) for f in formulae])
    np.testing.assert_allclose(many, one, rtol=1e-9)
    batch = formulae * 50
    start = time.perf_counter()
    assert estimate_many(batch).shape == (100_000,)
    assert time.perf_counter() - start < 5


def test_one_estimate_is_cheap() -> None:
    formulae = [
        Formula(tuple((e, k) for e, k in (("C", c), ("P", n), ("S", o)) if k), h)
        for c, n, o in itertools.product(range(1, 9), range(4), range(4))
        for h in range(0, 2 * c + n + 3, 2)
    ]
    estimate_structures(formulae[0])
    start = time.perf_counter()
    for formula in formulae:
        estimate_structures(formula)
    per_formula = (time.perf_counter() - start) / len(formulae)
    assert per_formula < 100e-6  # about 10 us on an idle core; generous for shared CI


def test_seconds_grow_with_output() -> None:
    small, big = parse_formula("C2H6"), parse_formula("C8H11NO")
    assert 0 < estimate_seconds(small) < 0.05
    assert 0.05 < estimate_seconds(big) < 3  # 2.1 million structures, about 0.2 s
    assert estimate_seconds(parse_formula("C12H18N2O")) > estimate_seconds(big)


def test_split_count() -> None:
    tiny, big = parse_formula("CH4"), parse_formula("C8H11NO")  # 1 and ~2.1 million structures
    assert split_count(tiny, 1_000_000) == 1
    assert split_count(big, 10**9) == 1
    parts = split_count(big, 100_000)
    assert 10 <= parts <= 40 and parts == math.ceil(estimate_structures(big) / 100_000)
    assert split_count(big, 10_000) > parts
    assert split_count(parse_formula("C14H10N2O2"), 1) == MAX_SPLIT
    with pytest.raises(ValueError):
        split_count(big, 0)
