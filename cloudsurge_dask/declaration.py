"""How a setting is declared: once, as a dataclass field that carries everything else.

A field made by `setting()` holds its default and a `Declaration`: help, click type, help
group, the subcommands that take it, and whether a queued job stores it for its workers. The
type annotation is the Python type. From that one place come the click options (`cli.py`),
the parsing of `CLOUDSURGE_<NAME>` variables and of direct values (`Settings.build`, and
`check()` in `__post_init__`), the job metadata workers read (`stored`), and the README's
configuration table (`markdown_table`, checked by a test). Adding a setting is one
`setting(...)` line plus the code that uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import click

from .errors import ConfigError

ENV_PREFIX = "CLOUDSURGE_"
KEY = "cloudsurge"  # the field metadata key that holds a Declaration


@dataclass(frozen=True)
class Declaration:
    """Everything about a setting but its name, default and Python type (the field's)."""

    help: str
    type: click.ParamType
    commands: frozenset[str]
    group: str
    stored: bool = False  # fixed when the job is queued; every worker reads it from Redis
    shown_default: str | None = None  # for a computed or absent default (--help, README)
    repeatable: bool = False  # a flag given once per value (`--screen A --screen B`)
    switch: bool = False  # a flag without a value (`--stereo`)


@dataclass(frozen=True)
class Setting:
    """A declared field as the CLI, the parser and the README see it."""

    name: str
    default: Any
    declaration: Declaration

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def help(self) -> str:
        return self.declaration.help

    @property
    def group(self) -> str:
        return self.declaration.group

    @property
    def commands(self) -> frozenset[str]:
        return self.declaration.commands

    @property
    def stored(self) -> bool:
        return self.declaration.stored

    def parse(self, raw: Any, origin: str | None = None) -> Any:
        """A value from a flag, a variable or code, through the declared click type; None
        stays None (not set). One ConfigError naming where the value came from otherwise."""
        if raw is None:
            return None
        try:
            return self.declaration.type.convert(raw, None, None)
        except click.BadParameter as exc:
            raise ConfigError(f"{origin or self.flag}={raw!r}: {exc.message}") from None

    def shown_default(self) -> str:
        """The default as --help and the README show it."""
        if self.declaration.shown_default is not None:
            return self.declaration.shown_default
        value = self.default
        if isinstance(value, tuple):
            return ",".join(value) if value else "none"
        return "none" if value is None else str(value)


def setting(
    default: Any,
    help: str,
    type: click.ParamType,
    commands: Iterable[str],
    group: str,
    *,
    stored: bool = False,
    shown_default: str | None = None,
    repeatable: bool = False,
    switch: bool = False,
) -> Any:
    """A dataclass field declaring one setting; `default` may be a function (computed)."""
    declaration = Declaration(
        help, type, frozenset(commands), group, stored, shown_default, repeatable, switch
    )
    metadata = {KEY: declaration}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def shared(owner: type, name: str) -> Any:
    """A field of another dataclass that is `owner`'s declaration of `name` (same default, type,
    help and commands): a setting two value objects need is still declared once."""
    found = next(s for s in declared(owner) if s.name == name)
    return dataclasses.field(default=found.default, metadata={KEY: found.declaration})


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory
    return field.default


def declared(cls: type) -> Iterator[Setting]:
    """The declared settings of a dataclass, in field order."""
    for field in dataclasses.fields(cls):
        declaration = field.metadata.get(KEY)
        if isinstance(declaration, Declaration):
            yield Setting(field.name, _default(field), declaration)


def check(instance: Any) -> None:
    """Every declared value of a dataclass instance passes its own type (the same check a
    flag gets), whichever way the instance was made."""
    for item in declared(type(instance)):
        item.parse(getattr(instance, item.name))


def markdown_table(classes: Iterable[type], order: Iterable[str]) -> str:
    """The README's configuration table: one row per setting, in declaration order; the
    commands that take it in `order`."""
    order = tuple(order)
    rows = [
        "| flag | variable | default | commands | what it sets |",
        "| --- | --- | --- | --- | --- |",
    ]
    seen: set[str] = set()
    for cls in classes:
        for item in declared(cls):
            if item.name in seen:
                continue
            seen.add(item.name)
            text = item.help.replace("|", "\\|")
            commands = ", ".join(f"`{c}`" for c in order if c in item.commands)
            rows.append(
                f"| `{item.flag}` | `{item.variable}` | {item.shown_default()} | "
                f"{commands} | {text} |"
            )
    return "\n".join(rows)
