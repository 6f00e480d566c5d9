"""One process's screening: SMILES lines in, the kept lines and their tally out.

A structure is `Chem.MolFromSmiles(smiles)` with RDKit's default sanitization; one RDKit
cannot parse is `unparsable` (dropped, or kept unscreened). The screens run cheapest first
and a structure stops at the first that drops it (`removed` counts it there, indexed like
the job's screens); the plugin, if any, sees what passed them, one list per chunk. With
`stereo` every kept constitution is written as its stereoisomers. Every pattern, catalog and
model is built once, when the Screener is made.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, ScreenError
from .expression import Screen, ScreenKind, evaluation_order, parse_screens
from .measures import measure

Plugin = Callable[[list[str]], Sequence[Any]]
Test = Callable[[Any], bool]


@dataclass(frozen=True)
class ScreenSpec:
    """What a job screens with (stored with the job, sent to every screening process)."""

    screens: tuple[str, ...] = ()
    plugin: str | None = None
    stereo: bool = False
    keep_unparsable: bool = False

    @property
    def active(self) -> bool:
        return bool(self.screens or self.plugin or self.stereo)

    @property
    def labels(self) -> tuple[str, ...]:
        """One per `removed` count: the screens, then the plugin."""
        return self.screens + ((f"plugin {self.plugin}",) if self.plugin else ())

    def parsed(self) -> tuple[Screen, ...]:
        return parse_screens(self.screens)


@dataclass
class Tally:
    """One formula's (or one chunk's) screening: structures the generator wrote, RDKit could
    not parse, each screen removed, constitutions kept, lines stored (stereoisomers count one
    each), and the CPU seconds it took."""

    generated: int = 0
    unparsable: int = 0
    removed: list[int] = field(default_factory=list)
    kept: int = 0
    stored: int = 0
    cpu_seconds: float = 0.0

    def add(self, other: Tally) -> None:
        self.generated += other.generated
        self.unparsable += other.unparsable
        if len(self.removed) < len(other.removed):
            self.removed.extend([0] * (len(other.removed) - len(self.removed)))
        for i, count in enumerate(other.removed):
            self.removed[i] += count
        self.kept += other.kept
        self.stored += other.stored
        self.cpu_seconds += other.cpu_seconds


def load_plugin(reference: str) -> Plugin:
    """`module:function`, imported; ConfigError says why it cannot be used."""
    module_name, colon, name = reference.partition(":")
    if not colon or not module_name or not name:
        raise ConfigError(f"--screen-plugin {reference!r}: write it as module:function")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of a user's module is the user's to see
        raise ConfigError(
            f"--screen-plugin {reference!r}: cannot import {module_name}: {exc!r}"
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"--screen-plugin {reference!r}: {module_name} has no function {name}")
    return function


def compile_screen(screen: Screen) -> Test:
    """The check of one screen, its pattern, catalog or model built now."""
    from rdkit import Chem

    if screen.kind is ScreenKind.RANGE:
        function = measure(screen.name)
        return lambda mol: screen.holds(float(function(mol)))
    if screen.kind is ScreenKind.CATALOG:
        from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

        params = FilterCatalogParams()
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, screen.name))
        catalog = FilterCatalog(params)
        return lambda mol: not catalog.HasMatch(mol)
    pattern = Chem.MolFromSmarts(screen.name)
    if screen.kind is ScreenKind.REQUIRE:
        return lambda mol: bool(mol.HasSubstructMatch(pattern))
    return lambda mol: not mol.HasSubstructMatch(pattern)


class Screener:
    """Screens chunks of SMILES lines; built once per process."""

    def __init__(self, spec: ScreenSpec) -> None:
        from rdkit import Chem, rdBase

        rdBase.DisableLog("rdApp.*")  # an unparsable structure is counted, not logged
        self.spec = spec
        screens = spec.parsed()
        self._order = [(i, compile_screen(screens[i])) for i in evaluation_order(screens)]
        self._plugin = load_plugin(spec.plugin) if spec.plugin else None
        self._plugin_index = len(screens)
        self._parse = Chem.MolFromSmiles
        self._write = Chem.MolToSmiles
        self._stereo: Callable[[Any], list[str]] | None = None
        if spec.stereo:
            from rdkit.Chem.EnumerateStereoisomers import (
                EnumerateStereoisomers,
                StereoEnumerationOptions,
            )

            options = StereoEnumerationOptions(onlyUnassigned=True, unique=True)
            self._stereo = lambda mol: list(dict.fromkeys(
                self._write(isomer) for isomer in EnumerateStereoisomers(mol, options=options)
            ))  # fmt: skip

    def screen(self, lines: Sequence[bytes]) -> tuple[bytes, Tally]:
        """The kept lines (newline-terminated) and the chunk's tally, in input order."""
        clock = time.process_time()
        tally = Tally(generated=len(lines), removed=[0] * len(self.spec.labels))
        # (line, molecule or None: unparsable, kept); the molecule only while a later step
        # needs it (holding a chunk's molecules alive costs a fifth of the screening time)
        passed: list[tuple[bytes, Any]] = []
        hold = self._plugin is not None or self._stereo is not None
        parse, order, removed = self._parse, self._order, tally.removed
        for line in lines:
            mol = parse(line.decode("ascii"))
            if mol is None:
                tally.unparsable += 1
                if self.spec.keep_unparsable:
                    passed.append((line, None))
                continue
            for index, test in order:
                if not test(mol):
                    removed[index] += 1
                    break
            else:
                passed.append((line, mol if hold else True))
        if self._plugin is not None:
            passed = self._plugged(passed, tally)
        out: list[bytes] = []
        for line, mol in passed:
            if self._stereo is None or mol is None:
                out.append(line)
            else:
                out.extend(smiles.encode("ascii") for smiles in self._stereo(mol))
        tally.kept = len(passed)
        tally.stored = len(out)
        tally.cpu_seconds = time.process_time() - clock
        return (b"\n".join(out) + b"\n" if out else b""), tally

    def _plugged(self, passed: list[tuple[bytes, Any]], tally: Tally) -> list[tuple[bytes, Any]]:
        """The plugin judges the parsed survivors; unparsable ones kept unscreened stay."""
        assert self._plugin is not None
        judged = [(line, mol) for line, mol in passed if mol is not None]  # parsed ones
        if not judged:
            return passed
        smiles = [line.decode("ascii") for line, _ in judged]
        try:
            verdicts = list(self._plugin(smiles))
        except Exception as exc:  # the plugin's own failure: this task's, with its message
            raise ScreenError(f"--screen-plugin {self.spec.plugin} raised {exc!r}") from None
        if len(verdicts) != len(smiles):
            raise ScreenError(
                f"--screen-plugin {self.spec.plugin} returned {len(verdicts)} verdicts for "
                f"{len(smiles)} structures"
            )
        verdict = iter(verdicts)
        kept: list[tuple[bytes, Any]] = []
        for line, mol in passed:
            if mol is None or bool(next(verdict)):
                kept.append((line, mol))
            else:
                tally.removed[self._plugin_index] += 1
        return kept
