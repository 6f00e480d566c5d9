"""Surge 2.0's option language as users may speak it to the pipeline: a checked whitelist.

A user's `--surge-options` reach a generator's command line, so every word is matched
against the syntax of Surge 2.0's manual (sections 5 to 9) and refused with a reason
otherwise; nothing else ever passes. The options that decide what the generator writes and
where (`-u -S -F -A -O# -z -oFILE -v`) and which part it does (`-m#/#`) are the pipeline's
own: `--format` and the planner choose them. Named presets spell option lines worth a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ConfigError
from ..formulae.formula import VALENCES

# The reference system's production line (`surge -P -T -B1,2,3,4,5,7,8,9 -t0 -f0 -S`):
# planar, no triple bonds, the substructure sets but 6, no 3- or 4-cycles.
PRESETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "cloudsurge-production": ("-P", "-T", "-B1,2,3,4,5,7,8,9", "-t0", "-f0"),
}

_FLAGS = {"T": "no triple bonds", "P": "planar", "b": "no odd cycles", "R": "aromaticity filter"}
_RANGES = "tfphCe"  # -X# or -X#:#: cycles of length 3/4/5/6, carbon 6-rings, bonds
_BOUNDS = "dc"  # -X# (1 to 8): neighbours without / with hydrogen
_PIPELINE = {
    "u": "the pipeline stores the structures (use --format smiles|sdf)",
    "S": "the pipeline chooses the output format (use --format smiles|sdf)",
    "F": "the pipeline chooses the output format (use --format sdf)",
    "A": "the pipeline chooses the output format (use --format smiles|sdf)",
    "O": "the pipeline chooses the output format (use --format smiles|sdf)",
    "z": "the pipeline compresses the parts itself (use --codec)",
    "Z": "the pipeline asks the built-in engine for compressed parts itself (use --codec)",
    "o": "the output goes to the parts, never to a file of the generator's",
    "v": "the generator's statistics are not passed through",
    "m": "the pipeline splits formulae itself (use --split-structures)",
}
_NUMBER = r"[0-9]{1,3}"
_RANGE = re.compile(rf"({_NUMBER})(?::({_NUMBER}))?")
_B_SETS = re.compile(r"[0-9]+(?:,[0-9]+)*")
# -EXv -EXYv -EXvc -EXYvc: X, Y an upper-case letter with an optional lower-case one
_ELEMENT = re.compile(r"([A-Z][a-z]?)([A-Z][a-z]?)?([0-9])([0-9])?")
SHOWN = "-T -P -b -R -t# -f# -p# -h# -C# -e# (each # or #:#) -d# -c# -B#[,#...] -EXv[c]"


def _definition_problem(value: str) -> str | None:
    """Why an -E definition is refused: its syntax, a zero valence or coordination, or an
    input name that already means something (hydrogen, a known element or valence name)."""
    found = _ELEMENT.fullmatch(value)
    if found is None:
        return (
            "an element definition is -EXv, -EXYv, -EXvc or -EXYvc (X, Y: an upper-case letter "
            "and an optional lower-case one; v, c: one digit each)"
        )
    name, _, valence, coordination = found.groups()
    if name == "H" or name in VALENCES:
        return f"{name} is already an element of the generator; define a new input name"
    if valence == "0" or coordination == "0":
        return "a valence or coordination of 0 leaves the element unconnected"
    return None


def _problem(option: str) -> str | None:
    """Why `option` is refused, or None when it is a well-formed Surge 2.0 filter option."""
    if not re.fullmatch(r"-[A-Za-z][\x21-\x7e]*", option):
        return "not an option word (a '-', a letter, then printable characters)"
    letter, value = option[1], option[2:]
    if letter in _PIPELINE:
        return _PIPELINE[letter]
    if letter in _FLAGS:
        return None if not value else f"-{letter} ({_FLAGS[letter]}) takes no value"
    if letter in _RANGES:
        found = _RANGE.fullmatch(value)
        if found is None:
            return f"-{letter} takes a count or a range: -{letter}# or -{letter}#:#"
        low, high = found.groups()
        if high is not None and int(low) > int(high):
            return f"the range {low}:{high} is empty (its low end exceeds its high end)"
        return None
    if letter in _BOUNDS:
        if not re.fullmatch(_NUMBER, value):
            return f"-{letter} takes one number: -{letter}#"
        return None if 1 <= int(value) <= 8 else f"-{letter} takes 1 to 8, not {value}"
    if letter == "B":
        if not _B_SETS.fullmatch(value):
            return "-B takes a comma-separated list of substructure sets, e.g. -B1,2,3"
        wrong = [n for n in value.split(",") if not 1 <= int(n) <= 9]
        return f"substructure sets run from 1 to 9, not {', '.join(wrong)}" if wrong else None
    if letter == "E":
        return _definition_problem(value)
    return f"-{letter} is not an option of Surge 2.0"


def validate_options(options: Iterable[str]) -> tuple[str, ...]:
    """Surge filter options from a user, each checked against Surge 2.0's syntax."""
    checked = tuple(options)
    for option in checked:
        if not isinstance(option, str):
            raise ConfigError(f"--surge-options: {option!r} is not text")
        problem = _problem(option)
        if problem is not None:
            raise ConfigError(f"--surge-options: {option!r} is refused: {problem}")
    return checked

