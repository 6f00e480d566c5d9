"""One molecular formula: a value object and its strict grammar.

A formula string travels from a user's file to a Redis key, a file name and a generator's
command line, so the grammar is strict on purpose: only the elements the generator knows,
counts without leading zeros, each element once, no whitespace, no punctuation. Whatever
fails is refused with a `FormulaError` that names the offending token, never repaired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import FormulaError

# Surge 2.0's input names for N, P and S at a higher valence (its manual, Table 1).
EXTRA_VALENCES: dict[str, int] = {"Nx": 5, "Px": 5, "Sx": 4, "Sy": 6}
# Valences as the generator uses them: the lowest ones, then the extra names.
VALENCES: dict[str, int] = {
    "C": 4, "N": 3, "O": 2, "S": 2, "P": 3, "B": 3, "F": 1, "Cl": 1, "Br": 1, "I": 1, "Si": 4,
    **EXTRA_VALENCES,
}  # fmt: skip
# The chemical elements among them: what `--elements` (CDK) can enumerate.
ELEMENTS = tuple(element for element in VALENCES if element not in EXTRA_VALENCES)
MAX_HEAVY_ATOMS = 32  # the engine's limit
MAX_FORMULA_CHARS = 200  # far above any valid formula; bounds the work spent on junk

_SHELL = set(";&|$`<>(){}[]*?!~'\"\\#^")
# Fast path: a well-formed formula with small counts; anything else is diagnosed slowly.
_FAST = re.compile(r"(?:(?:Cl|Br|C|N|O|S|P|B|F|I|H)(?:[1-9][0-9]?)?)+")
_FAST_TOKEN = re.compile(r"([A-Z][a-z]?)([0-9]*)")
_TOKEN = re.compile(r"([A-Z][a-z]*)([0-9]*)")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]+")
_HILL_ORDER = sorted(VALENCES, key=lambda element: (element != "C", element))
# Shared (element, count) pairs: millions of formulae then cost little memory.
_PAIRS = {e: [(e, n) for n in range(MAX_HEAVY_ATOMS + 1)] for e in _HILL_ORDER}
_EXCESS = {element: valence - 2 for element, valence in VALENCES.items()}


def max_hydrogens(counts: Iterable[tuple[str, int]]) -> int:
    """The most hydrogens a connected, uncharged structure can carry: sum(valence-2) + 2."""
    return sum(count * (VALENCES[element] - 2) for element, count in counts) + 2


def element_problem(elements: Iterable[str]) -> str | None:
    """Why a list of heavy elements cannot make formulae, or None: the one element check of
    both the settings and the formula generator."""
    chosen = list(elements)
    if not chosen:
        return "name at least one element"
    unknown = [element for element in chosen if element not in ELEMENTS]
    if unknown:
        return (
            f"unknown element(s) {', '.join(map(repr, unknown))}: choose from "
            f"{', '.join(ELEMENTS)} (hydrogens are implied)"
        )
    return None


@dataclass(frozen=True, slots=True)
class Formula:
    """Heavy-atom counts (kept in Hill order: C first, then alphabetical) plus hydrogens.

    The constructor accepts the heavy atoms in any order and normalises them, so two
    formulae are equal exactly when they have the same atoms.
    """

    counts: tuple[tuple[str, int], ...]
    hydrogens: int = 0

    def __post_init__(self) -> None:
        counts = tuple(sorted(self.counts, key=lambda pair: (pair[0] != "C", pair[0])))
        elements = [element for element, _ in counts]
        if len(set(elements)) != len(elements):
            raise ValueError(f"repeated element in {counts!r}")
        for element, count in counts:
            if element not in VALENCES or not isinstance(count, int) or count < 1:
                raise ValueError(f"bad heavy-atom count {(element, count)!r}")
        if not isinstance(self.hydrogens, int) or self.hydrogens < 0:
            raise ValueError(f"bad hydrogen count {self.hydrogens!r}")
        if counts != self.counts:
            object.__setattr__(self, "counts", counts)

    @property
    def heavy_atoms(self) -> int:
        return sum(count for _, count in self.counts)

    @property
    def max_hydrogens(self) -> int:
        return max_hydrogens(self.counts)

    @property
    def hill(self) -> str:
        """Hill notation: C, H, then alphabetical; without carbon, all alphabetical."""
        pairs = list(self.counts)
        if self.hydrogens:
            if pairs and pairs[0][0] == "C":
                pairs.insert(1, ("H", self.hydrogens))
            else:
                pairs = sorted([*pairs, ("H", self.hydrogens)])
        return "".join(element if n == 1 else f"{element}{n}" for element, n in pairs)

    def __str__(self) -> str:
        return self.hill


def _show(text: str) -> str:
    """The input as an ASCII-only repr, truncated: safe to print to any terminal or log."""
    if len(text) > 60:
        return ascii(text[:57]) + "..."
    return ascii(text)


def _not_a_formula(text: str) -> str:
    if text.startswith("-"):
        why = "looks like a command-line option"
    elif "/" in text or "\\" in text:
        why = "contains a path separator"
    else:
        char = next(c for c in text if not (c.isascii() and c.isalnum()))
        if not char.isascii():
            why = f"non-ASCII character U+{ord(char):04X}"
        elif char.isspace():
            why = "contains whitespace"
        elif ord(char) < 32 or ord(char) == 127:
            why = f"control character U+{ord(char):04X}"
        elif char in _SHELL:
            why = f"contains shell metacharacter {char!r}"
        else:
            why = f"unexpected character {char!r}"
    return f"not a formula: {_show(text)} ({why})"


def _diagnose(text: str) -> tuple[dict[str, int], str | None]:
    """Tokenise slowly, returning the counts or the first precise reason for refusal."""
    counts: dict[str, int] = {}
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char.islower():
                why = f"element symbols start upper-case: {char!r} at position {pos + 1}"
            else:
                why = f"count {char!r} at position {pos + 1} follows no element"
            return counts, f"{why} in {_show(text)}"
        element, digits = match.groups()
        token = match.group(0)
        if element not in VALENCES and element != "H":
            return counts, f"unknown element {element!r} in {_show(text)}"
        if digits and (digits[0] == "0"):
            if digits.strip("0") == "":
                return counts, f"count must be a positive integer in {token!r}"
            return counts, f"count must be a positive integer without leading zeros in {token!r}"
        if element in counts:
            return counts, f"element {element!r} appears twice in {_show(text)}"
        counts[element] = int(digits) if digits else 1
        pos = match.end()
    return counts, None


def check_formula(text: str) -> Formula | str:
    """Parse stripped text into a Formula, or return the reason it is refused."""
    if _FAST.fullmatch(text):
        counts: dict[str, int] = {}
        for element, digits in _FAST_TOKEN.findall(text):
            if element in counts:
                return f"element {element!r} appears twice in {_show(text)}"
            counts[element] = int(digits) if digits else 1
    else:
        if not text:
            return "empty formula"
        if len(text) > MAX_FORMULA_CHARS:
            return f"formula too long: {len(text)} characters in {_show(text)}"
        if not _ASCII_ALNUM.fullmatch(text):
            return _not_a_formula(text)
        counts, why = _diagnose(text)
        if why is not None:
            return why
    hydrogens = counts.pop("H", 0)
    if not counts:
        return f"no heavy atom in {_show(text)}"
    heavy = sum(counts.values())
    if heavy > MAX_HEAVY_ATOMS:
        return f"too many heavy atoms: {heavy} (limit {MAX_HEAVY_ATOMS}) in {_show(text)}"
    limit = max(sum(n * _EXCESS[element] for element, n in counts.items()) + 2, 0)
    if hydrogens > limit:
        return f"too many hydrogens: {hydrogens} (at most {limit} here) in {_show(text)}"
    return _trusted(
        tuple([_PAIRS[element][counts[element]] for element in _HILL_ORDER if element in counts]),
        hydrogens,
    )


def _trusted(counts: tuple[tuple[str, int], ...], hydrogens: int) -> Formula:
    """Build a Formula from counts already validated and in Hill order, skipping the checks."""
    formula = object.__new__(Formula)
    object.__setattr__(formula, "counts", counts)
    object.__setattr__(formula, "hydrogens", hydrogens)
    return formula


def parse_formula(text: str, *, line: int | None = None, source: str | None = None) -> Formula:
    """Parse one formula under the strict grammar; surrounding ASCII whitespace is ignored.

    Hydrogens may not exceed what the heavy atoms can carry (the rule above, at least 0);
    formulae that are well formed but have no structure (`C2`, `F3`) are left to the
    generator to refuse.
    """
    if not isinstance(text, str):
        raise FormulaError(f"not a formula: expected text, got {type(text).__name__}", line, source)
    result = check_formula(text.strip(" \t\r\n\x0b\x0c"))
    if isinstance(result, str):
        raise FormulaError(result, line, source)
    return result
