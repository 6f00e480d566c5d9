"""The click types of the settings: how each kind of value is checked, whichever way it comes
(flag, `CLOUDSURGE_*` variable, code). One place for them, so `settings` declares and these
check; the Slurm time-limit grammar lives here too (`slurmscript` renders it)."""

from __future__ import annotations

import re
import shlex
from typing import Any

import click

from .errors import ConfigError
from .formulae.formula import element_problem
from .generate.options import validate_options
from .screen.expression import parse_screens

_WALLTIME = re.compile(
    r"^(?:(?P<days>\d+)-(?P<dh>\d{1,2})(?::(?P<dm>\d{1,2})(?::(?P<ds>\d{1,2}))?)?"
    r"|(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})|(?P<mm>\d+)(?::(?P<ss>\d{1,2}))?)$"
)

class ElementList(click.ParamType):
    """Heavy elements as `C,N,O` (commas or spaces), each one CDK can enumerate."""

    name = "elements"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
        problem = element_problem(items)
        if problem:
            self.fail(problem, param, ctx)
        return tuple(items)


class GeneratorOptions(click.ParamType):
    """Generator options as one string ('-T -P') or a sequence, each checked by the whitelist."""

    name = "options"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        try:
            words = shlex.split(value) if isinstance(value, str) else list(value)
        except ValueError as exc:  # shlex: an unbalanced quote
            self.fail(f"cannot split {value!r} into options: {exc}", param, ctx)
        try:
            return validate_options(words)
        except ConfigError as exc:
            self.fail(str(exc).removeprefix("--surge-options: "), param, ctx)


class ScreenList(click.ParamType):
    """`--screen` expressions, each checked by the grammar (one per flag; one per line in
    CLOUDSURGE_SCREEN, since a SMARTS may hold spaces and semicolons)."""

    name = "expression"
    envvar_list_splitter = "\n"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        items = value.splitlines() if isinstance(value, str) else list(value)
        try:
            return tuple(screen.text for screen in parse_screens([i for i in items if i.strip()]))
        except ConfigError as exc:
            self.fail(str(exc).removeprefix("--screen "), param, ctx)


class PluginReference(click.ParamType):
    """`module:function` (imported and tried once before a job is queued, on the workers
    when they screen)."""

    name = "module:function"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        module, colon, function = str(value).partition(":")
        dotted = all(part.isidentifier() for part in module.split("."))
        if not colon or not dotted or not function.isidentifier():
            self.fail(f"{value!r} is not module:function", param, ctx)
        return str(value)


def walltime_seconds(text: str) -> int:
    """Seconds of a Slurm time limit: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS."""
    match = _WALLTIME.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Slurm time limit (HH:MM:SS or D-HH:MM:SS)")
    part = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    if "days" in part:
        return ((part["days"] * 24 + part["dh"]) * 60 + part.get("dm", 0)) * 60 + part.get(
            "ds", 0
        )
    if "h" in part:
        return (part["h"] * 60 + part["m"]) * 60 + part["s"]
    return part["mm"] * 60 + part.get("ss", 0)


class Walltime(click.ParamType):
    """A Slurm time limit of at least two minutes (the workers' retirement needs a margin)."""

    name = "walltime"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        try:
            seconds = walltime_seconds(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds < 120:
            self.fail(f"{value!r} is under 2 minutes: workers need time to retire", param, ctx)
        return str(value).strip()


class Directives(click.ParamType):
    """Extra `#SBATCH` options separated by ';' ('--qos=short;--constraint=ib'), each one
    word starting with '-', so that nothing but options reaches the script."""

    name = "directives"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, ...]:
        items = value.split(";") if isinstance(value, str) else list(value)
        words = tuple(str(item).strip() for item in items if str(item).strip())
        for word in words:
            if not word.startswith("-") or any(c in word for c in "\n\r\0"):
                self.fail(f"{word!r} is not an sbatch option (like --qos=short)", param, ctx)
        return words
