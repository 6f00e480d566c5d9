"""Screening while generating: keep only the structures a job asks for (RDKit).

expression (the `--screen` grammar) -> measures (descriptors, model scores) -> screener (one
process's work) -> stage (in order, inline or on child processes, between generator and
sink); preview estimates a screened job's cost before it runs.
"""

from .expression import Screen, ScreenKind, parse_screen, parse_screens
from .screener import Screener, ScreenSpec, Tally
from .stage import ScreenStage

__all__ = [
    "Screen", "ScreenKind", "ScreenSpec", "ScreenStage", "Screener", "Tally", "parse_screen",
    "parse_screens",
]  # fmt: skip
