"""How many structures a formula has, and how long the generator takes: a cheap estimate.

The pipeline splits giant formulae into `-m res/mod` parts, schedules the largest first
and packs tiny formulae into shards, all before anything runs; formula sizes span nine
orders of magnitude, so what matters is the order of magnitude, computed in microseconds.

The model is a least-squares fit of log(count) (`benchmarks/fit_estimate.py` measures the
counts with the engine, fits and writes `estimate_model.json`). Its features are what decides
the size of a formula's structure space:

- the atoms per valence class (1: F Cl Br I, 2: O S, 3: N P B, 4: C) and the degree of
  unsaturation u (rings + double bonds), as a cubic polynomial: the uncoloured skeletons;
- the colour factor: log of prod over valence classes of k_class! / prod k_element!, the
  ways to colour a skeleton's same-valence atoms with elements (over-counting symmetric
  skeletons, hence its interactions), and the number of distinct elements;
- a few logarithms (of n, u+1, H+1, ...) that bend the polynomial where counts are small.

Generator time is an overhead per process plus a cost per structure that grows with the
atoms (longer SMILES, deeper search), the unsaturation and the monovalent atoms (more search
per structure found): seconds = overhead + count * exp(a + b*n + c*u + d*n1).
"""

from __future__ import annotations

import functools
import json
import math
import operator
from collections.abc import Iterable, Sequence
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Any

import numpy as np

from .formula import VALENCES, Formula

MODEL_PATH = Path(__file__).with_name("estimate_model.json")
MAX_SPLIT = 4096  # the most parts one formula is split into
RAW_COLUMNS = ("n", "n1", "n2", "n3", "n4", "u", "colour", "elements", "h")
SECONDS_COLUMNS = ("1", "n", "u", "n1")
_BASE = 5  # n1, n2, n3, n4, u: the columns the cubic polynomial is built on
_PAIRS = tuple(combinations_with_replacement(range(_BASE), 2))
_TRIPLES = tuple(combinations_with_replacement(range(_BASE), 3))
_EXTRA = (
    "colour", "colour*n", "colour*u", "elements", "elements*n",
    "log(n)", "log1p(u)", "log1p(n1)", "log1p(h)", "log1p(u)*n",
    "colour*n1", "colour*n4", "colour^2", "elements*u", "elements^2",
    "log1p(n2)", "log1p(n3)", "log1p(n4)", "log1p(h)*n", "log1p(n1)*n",
    "u*log(n)", "log1p(u)*log(n)", "lgamma(u+1)", "log1p(n4)*log(n)", "log1p(h)*log1p(u)",
)  # fmt: skip
_NAMES = RAW_COLUMNS[1:6]
TERMS = (
    "1",
    *_NAMES,
    *(f"{_NAMES[i]}*{_NAMES[j]}" for i, j in _PAIRS),
    *(f"{_NAMES[i]}*{_NAMES[j]}*{_NAMES[k]}" for i, j, k in _TRIPLES),
    *_EXTRA,
)


def raw_features(formula: Formula) -> tuple[float, ...] | None:
    """The RAW_COLUMNS of a formula, or None when no structure can exist.

    None: negative or half-integer unsaturation, unsaturation with one non-monovalent atom,
    or two atoms whose bond order would exceed a valence or 3. (Rarer impossible formulae,
    with more atoms, get a small positive estimate.)
    """
    classes = [0, 0, 0, 0, 0]
    excess = 2 - formula.hydrogens
    colour = 0.0
    for element, count in formula.counts:
        valence = VALENCES[element]
        classes[min(valence, 4)] += count  # Nx, Px, Sy count with the tetravalent atoms
        excess += count * (valence - 2)
        colour -= math.lgamma(count + 1)
    if excess < 0 or excess % 2:
        return None
    n = classes[1] + classes[2] + classes[3] + classes[4]
    if excess and n - classes[1] == 1:
        return None  # a ring or multiple bond needs two atoms that are not monovalent
    if n == 2 and excess // 2 + 1 > min(3, *(VALENCES[e] for e, _ in formula.counts)):
        return None  # the one bond's order exceeds a valence, or triple
    for k in classes[1:]:
        colour += math.lgamma(k + 1)
    return (n, classes[1], classes[2], classes[3], classes[4], excess // 2, colour,
            len(formula.counts), formula.hydrogens)  # fmt: skip


def _terms(raw: Sequence[float]) -> list[float]:
    """The model's TERMS of one formula, in pure Python (the fast path of one estimate)."""
    n, n1, n2, n3, n4, u, colour, elements, h = raw
    base = (n1, n2, n3, n4, u)
    lu, lh, l1, l4, ln = math.log1p(u), math.log1p(h), math.log1p(n1), math.log1p(n4), math.log(n)
    return [
        1.0, *base,
        *[base[i] * base[j] for i, j in _PAIRS],
        *[base[i] * base[j] * base[k] for i, j, k in _TRIPLES],
        colour, colour * n, colour * u, elements, elements * n,
        ln, lu, l1, lh, lu * n,
        colour * n1, colour * n4, colour * colour, elements * u, elements * elements,
        math.log1p(n2), math.log1p(n3), l4, lh * n, l1 * n,
        u * ln, lu * ln, math.lgamma(u + 1), l4 * ln, lh * lu,
    ]  # fmt: skip


_lgamma = np.vectorize(math.lgamma, otypes=[float])


def design(raw: np.ndarray) -> np.ndarray:
    """The model's TERMS for rows of RAW_COLUMNS: the least-squares design matrix."""
    n, n1, n2, n3, n4, u, colour, elements, h = raw.T
    base = raw[:, 1:6]
    lu, lh, l1, l4, ln = np.log1p(u), np.log1p(h), np.log1p(n1), np.log1p(n4), np.log(n)
    columns = [
        np.ones(len(raw)), *base.T,
        *[base[:, i] * base[:, j] for i, j in _PAIRS],
        *[base[:, i] * base[:, j] * base[:, k] for i, j, k in _TRIPLES],
        colour, colour * n, colour * u, elements, elements * n,
        ln, lu, l1, lh, lu * n,
        colour * n1, colour * n4, colour * colour, elements * u, elements * elements,
        np.log1p(n2), np.log1p(n3), l4, lh * n, l1 * n,
        u * ln, lu * ln, _lgamma(u + 1), l4 * ln, lh * lu,
    ]  # fmt: skip
    return np.column_stack(columns)


def raw_matrix(formulae: Iterable[Formula]) -> tuple[np.ndarray, np.ndarray]:
    """(rows of RAW_COLUMNS, mask of formulae that can have structures) for many formulae."""
    rows: list[tuple[float, ...]] = []
    feasible: list[bool] = []
    dummy = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 4.0)  # CH4: keeps the logs finite
    for formula in formulae:
        raw = raw_features(formula)
        feasible.append(raw is not None)
        rows.append(dummy if raw is None else raw)
    return np.array(rows, dtype=float).reshape(-1, len(RAW_COLUMNS)), np.array(feasible, bool)


@functools.cache
def load_model(path: Path = MODEL_PATH) -> dict[str, Any]:
    """The fitted model as shipped (cached: every estimate reads the same coefficients)."""
    model: dict[str, Any] = json.loads(path.read_text())
    if tuple(model["terms"]) != TERMS:
        raise ValueError(f"{path}: terms do not match this code; rerun fit_estimate.py")
    return model


@functools.lru_cache(maxsize=1 << 16)
def _log_count(formula: Formula) -> float:
    raw = raw_features(formula)
    if raw is None:
        return -math.inf
    coef = load_model()["count"]
    return sum(map(operator.mul, coef, _terms(raw)))


def estimate_structures(formula: Formula) -> float:
    """Expected number of structures (`surge -u`): 0.0 only when none can exist."""
    return math.exp(_log_count(formula))


def estimate_many(formulae: Iterable[Formula]) -> np.ndarray:
    """estimate_structures for many formulae at once, vectorised."""
    raw, feasible = raw_matrix(formulae)
    coef = np.asarray(load_model()["count"])
    result: np.ndarray = np.exp(design(raw) @ coef) * feasible
    return result


def estimate_seconds(formula: Formula) -> float:
    """One core's seconds for the built-in engine's `-S` run (process start-up included)."""
    seconds = load_model()["seconds"]
    raw = raw_features(formula)
    if raw is None:
        return float(seconds["overhead"])
    a, b, c, d = seconds["per_structure"]
    per_structure = math.exp(a + b * raw[0] + c * raw[5] + d * raw[1])
    return float(seconds["overhead"]) + estimate_structures(formula) * per_structure


def split_count(formula: Formula, target_structures: int) -> int:
    """The `mod` of `-m res/mod` giving parts of about target_structures each (1..MAX_SPLIT).

    Parts are as even as the generator's split makes them, not exactly equal; a caller
    wanting a hard bound per part should pass a target below it.
    """
    if target_structures < 1:
        raise ValueError(f"target_structures must be positive, got {target_structures}")
    parts = math.ceil(estimate_structures(formula) / target_structures)
    return max(1, min(MAX_SPLIT, parts))
