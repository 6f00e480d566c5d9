"""CDK's enumeration of the formula set equals the reference set Surge was run on."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from support.refdata import reference_counts

from cloudsurge_dask.errors import ConfigError
from cloudsurge_dask.formulae.formula import (
    ELEMENTS,
    MAX_HEAVY_ATOMS,
    VALENCES,
    Formula,
    parse_formula,
)
from cloudsurge_dask.formulae.source import _check_installation, generate_formulae
from cloudsurge_dask.settings import DEFAULT_ELEMENTS


def _reference_set(max_heavy_atoms: int) -> set[Formula]:
    """The reference formulae over the default elements (the B and P rows are extras)."""
    formulae = {parse_formula(text) for text, options in reference_counts() if not options}
    return {
        f
        for f in formulae
        if f.heavy_atoms <= max_heavy_atoms and all(e in DEFAULT_ELEMENTS for e, _ in f.counts)
    }


def _by_the_rule(max_heavy_atoms: int, elements: Sequence[str]) -> set[str]:
    """The rule, enumerated with itertools instead of CDK, as Hill strings."""
    found: set[str] = set()
    for size in range(1, max_heavy_atoms + 1):
        for atoms in itertools.combinations_with_replacement(elements, size):
            most = sum(VALENCES[a] - 2 for a in atoms) + 2
            for hydrogens in range(most, -1, -2):
                counts = {a: atoms.count(a) for a in atoms}
                found.add(Formula(tuple(counts.items()), hydrogens).hill)
    return found


@pytest.mark.parametrize("max_heavy_atoms", [5, 6, 7])
def test_equals_the_reference_formula_set(max_heavy_atoms: int) -> None:
    generated = generate_formulae(max_heavy_atoms, DEFAULT_ELEMENTS)
    expected = _reference_set(max_heavy_atoms)
    difference = {f.hill for f in set(generated) ^ expected}
    print(f"N={max_heavy_atoms}: {len(generated)} generated, symmetric difference {difference}")
    assert difference == set()
    assert len(generated) == len(expected)


def test_sorted_by_heavy_atoms_then_hill_without_duplicates() -> None:
    generated = generate_formulae(6, DEFAULT_ELEMENTS)
    keys = [(f.heavy_atoms, f.hill) for f in generated]
    assert keys == sorted(keys)
    assert len(set(generated)) == len(generated)
    assert generate_formulae(6, list(reversed(DEFAULT_ELEMENTS))) == generated
    assert generate_formulae(6, [*DEFAULT_ELEMENTS, "C", "N"]) == generated


@pytest.mark.parametrize(
    ("max_heavy_atoms", "elements"),
    [
        (8, DEFAULT_ELEMENTS),
        (9, ("C", "O")),
        (6, ("N",)),
        (5, ("B", "P", "F")),
        (4, ELEMENTS),
    ],
)
def test_equals_an_independent_enumeration(max_heavy_atoms: int, elements: Sequence[str]) -> None:
    generated = generate_formulae(max_heavy_atoms, elements)
    assert {f.hill for f in generated} == _by_the_rule(max_heavy_atoms, elements)
    assert all(set(dict(f.counts)) <= set(elements) for f in generated)
    assert all(parse_formula(f.hill) == f for f in generated)


@pytest.mark.parametrize(
    ("max_heavy_atoms", "elements", "fragment"),
    [
        (5, ["C", "Xx"], "unknown element(s) 'Xx'"),
        (5, ["C", "H"], "unknown element(s) 'H'"),
        (5, ["c"], "unknown element(s) 'c'"),
        (5, [], "at least one element"),
        (5, "CNO", "not the string 'CNO'"),
        (0, ["C"], f"from 1 to {MAX_HEAVY_ATOMS}"),
        (MAX_HEAVY_ATOMS + 1, ["C"], f"from 1 to {MAX_HEAVY_ATOMS}"),
        (MAX_HEAVY_ATOMS, ELEMENTS, "heavy-atom combinations"),
        (5, ["C", "Nx"], "unknown element(s) 'Nx'"),
    ],
)
def test_bad_requests_are_config_errors(
    max_heavy_atoms: int, elements: Sequence[str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        generate_formulae(max_heavy_atoms, elements)
    assert fragment in str(caught.value)


def test_missing_cdk_jars_name_the_debian_packages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _check_installation(tmp_path)
    assert "default-jre-headless libcdk-java" in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_jvm_starts_lazily_once_and_quietly() -> None:
    script = textwrap.dedent(
        """
        import jpype
        import cloudsurge_dask.formulae.source as formulae
        assert not jpype.isJVMStarted(), "JVM started at import"
        first = formulae.generate_formulae(3, ["C", "O"])
        assert jpype.isJVMStarted()
        classes = formulae._cdk()
        assert formulae.generate_formulae(3, ["C", "O"]) == first
        assert formulae._cdk() is classes
        print(len(first))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(_by_the_rule(3, ["C", "O"]))
    assert "SLF4J" not in done.stderr
