"""The `--screen` grammar: each expression parsed strictly into a typed `Screen`, never eval'd.

    NAME OP NUMBER | NUMBER OP NAME OP NUMBER        OP: < <= > >=
    require SMARTS | exclude SMARTS | catalog NAME

NAME is a descriptor of RDKit's `Descriptors.descList`, or one of the model scores
`np_likeness`, `sa_score`, `qed`. Everything is checked before a job is queued: an unknown
name, a number that is not one, an invalid SMARTS or an unknown catalog is a ConfigError with
the reason. RDKit is imported only when an expression is checked (never at import time).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from ..errors import ConfigError

MODEL_SCORES = ("np_likeness", "sa_score", "qed")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_OP = r"<=|>=|<|>"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_COMPARE = re.compile(rf"^\s*(?P<name>{_NAME})\s*(?P<op>{_OP})\s*(?P<value>{_NUMBER})\s*$")
_BETWEEN = re.compile(
    rf"^\s*(?P<low>{_NUMBER})\s*(?P<op1>{_OP})\s*(?P<name>{_NAME})\s*(?P<op2>{_OP})"
    rf"\s*(?P<high>{_NUMBER})\s*$"
)
_WORD = re.compile(r"^\s*(?P<word>require|exclude|catalog)\s+(?P<rest>\S.*?)\s*$", re.I)


class ScreenKind(StrEnum):
    RANGE = "range"  # a descriptor or model score within bounds
    REQUIRE = "require"
    EXCLUDE = "exclude"
    CATALOG = "catalog"


# rough cost per molecule, measured on C9H12O's structures: cheap screens run first and a
# structure stops at the first that drops it (RDKit's own descriptors unknown here: 2)
_COSTS = {
    "HeavyAtomCount": 0, "NumHDonors": 1, "NumHAcceptors": 1, "RingCount": 1,
    "NumRotatableBonds": 1, "MolWt": 1, "ExactMolWt": 1, "HeavyAtomMolWt": 1,
    "NumValenceElectrons": 1, "TPSA": 2, "MolLogP": 2, "MolMR": 2, "FractionCSP3": 1,
    "np_likeness": 5, "sa_score": 6, "qed": 8, "Ipc": 4, "BCUT2D_MWHI": 4,
}  # fmt: skip
_SMARTS_COST, _CATALOG_COST, _DEFAULT_COST = 0, 4, 2


@dataclass(frozen=True)
class Screen:
    """One parsed expression; `text` is its normalized form (stored with the job, shown in
    records and `--help`). A RANGE keeps `low <(=) value <(=) high` (None: unbounded)."""

    kind: ScreenKind
    text: str
    name: str  # descriptor, model score, catalog name, or the SMARTS
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True

    @property
    def cost(self) -> int:
        if self.kind is ScreenKind.RANGE:
            return _COSTS.get(self.name, _DEFAULT_COST)
        return _CATALOG_COST if self.kind is ScreenKind.CATALOG else _SMARTS_COST

    def holds(self, value: float) -> bool:
        """A NaN (a descriptor RDKit cannot compute) holds no bound."""
        if math.isnan(value):
            return False
        if self.low is not None and not (
            value >= self.low if self.low_inclusive else value > self.low
        ):
            return False
        return self.high is None or (
            value <= self.high if self.high_inclusive else value < self.high
        )


def descriptor_names() -> tuple[str, ...]:
    from rdkit.Chem import Descriptors

    return tuple(name for name, _ in Descriptors.descList)


def catalog_names() -> dict[str, str]:
    """Lower-case name -> RDKit's FilterCatalogs enum name (pains, brenk, chembl_glaxo...)."""
    from rdkit.Chem.FilterCatalog import FilterCatalogParams

    return {name.lower(): name for name in FilterCatalogParams.FilterCatalogs.names}


def _number(text: str, expression: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ConfigError(f"--screen {expression!r}: {text} is not a finite number")
    return value


def _bound(op: str, value: float, name_on_left: bool) -> tuple[str, float, bool]:
    """('low'|'high', value, inclusive) of `NAME op value` (or `value op NAME`)."""
    smaller = op.startswith("<")
    side = "high" if smaller == name_on_left else "low"
    return side, value, op.endswith("=")


def _range(name: str, bounds: list[tuple[str, float, bool]], expression: str) -> Screen:
    known = descriptor_names()
    if name not in known and name not in MODEL_SCORES:
        close = [k for k in (*MODEL_SCORES, *known) if k.lower() == name.lower()]
        hint = (
            f" (did you mean {close[0]}?)"
            if close
            else (
                f"; a descriptor of RDKit's Descriptors list (MolWt, MolLogP, TPSA, ...) or one "
                f"of {', '.join(MODEL_SCORES)}"
            )
        )
        raise ConfigError(f"--screen {expression!r}: unknown name {name!r}{hint}")
    values: dict[str, tuple[float, bool]] = {}
    for side, value, inclusive in bounds:
        if side in values:
            raise ConfigError(f"--screen {expression!r}: both bounds point the same way")
        values[side] = (value, inclusive)
    low, high = values.get("low"), values.get("high")
    if low is not None and high is not None and low[0] > high[0]:
        raise ConfigError(f"--screen {expression!r}: the range is empty")
    if low is not None and high is not None:
        text = f"{low[0]:g} {'<=' if low[1] else '<'} {name} {'<=' if high[1] else '<'} {high[0]:g}"
    elif low is not None:
        text = f"{name} {'>=' if low[1] else '>'} {low[0]:g}"
    else:
        assert high is not None
        text = f"{name} {'<=' if high[1] else '<'} {high[0]:g}"
    return Screen(
        ScreenKind.RANGE, text, name,
        low=low[0] if low else None, low_inclusive=low[1] if low else True,
        high=high[0] if high else None, high_inclusive=high[1] if high else True,
    )  # fmt: skip


def _smarts(word: str, smarts: str, expression: str) -> Screen:
    from rdkit import Chem, rdBase

    rdBase.DisableLog("rdApp.*")  # the reason is said here, in one line
    try:
        pattern = Chem.MolFromSmarts(smarts)
    finally:
        rdBase.EnableLog("rdApp.*")
    if pattern is None:
        raise ConfigError(f"--screen {expression!r}: RDKit cannot parse the SMARTS {smarts!r}")
    kind = ScreenKind(word)
    return Screen(kind, f"{kind.value} {smarts}", smarts)


def parse_screen(expression: str) -> Screen:
    """One expression as the user typed it; ConfigError with the reason otherwise."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigError("--screen: an empty expression")
    if "\n" in expression or "\x00" in expression:
        raise ConfigError(f"--screen {expression!r}: one expression per --screen")
    words = _WORD.match(expression)
    if words:
        word, rest = words["word"].lower(), words["rest"]
        if word != "catalog":
            return _smarts(word, rest, expression)
        names = catalog_names()
        if rest.lower() not in names:
            raise ConfigError(
                f"--screen {expression!r}: unknown catalog {rest!r}; RDKit's FilterCatalogs "
                f"are {', '.join(sorted(names))}"
            )
        return Screen(ScreenKind.CATALOG, f"catalog {rest.lower()}", names[rest.lower()])
    single = _COMPARE.match(expression)
    if single:
        value = _number(single["value"], expression)
        return _range(single["name"], [_bound(single["op"], value, True)], expression)
    double = _BETWEEN.match(expression)
    if double:
        low = _number(double["low"], expression)
        high = _number(double["high"], expression)
        bounds = [_bound(double["op1"], low, False), _bound(double["op2"], high, True)]
        return _range(double["name"], bounds, expression)
    raise ConfigError(
        f"--screen {expression!r}: not an expression; write 'NAME OP NUMBER', "
        "'NUMBER OP NAME OP NUMBER' (OP one of < <= > >=), 'require SMARTS', 'exclude SMARTS' "
        "or 'catalog NAME'"
    )


def parse_screens(expressions: tuple[str, ...] | list[str]) -> tuple[Screen, ...]:
    """Every expression, in the user's order; a repeated one is refused (it would only be
    counted twice)."""
    screens = tuple(parse_screen(text) for text in expressions)
    seen: set[str] = set()
    for screen in screens:
        if screen.text in seen:
            raise ConfigError(f"--screen {screen.text!r} is given twice")
        seen.add(screen.text)
    return screens


def evaluation_order(screens: tuple[Screen, ...]) -> tuple[int, ...]:
    """The indices of `screens`, cheapest first (the user's order among equals): the order in
    which a structure meets them, so `removed` counts it at the first screen that drops it."""
    return tuple(sorted(range(len(screens)), key=lambda i: (screens[i].cost, i)))
