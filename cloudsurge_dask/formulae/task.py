"""A unit of work on the queue: one formula, one `-m res/mod` slice of a large formula, or a
shard of many small formulae whose output shares one set of parts and one manifest."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"^(?P<formula>[A-Za-z0-9]+)(?:~(?P<res>\d+)of(?P<mod>\d+))?$")
_SHARD_KEY = re.compile(r"^(?P<formula>[A-Za-z0-9]+)\+(?P<others>\d+)$")
_SPEC_SHARD = re.compile(r"^[A-Za-z0-9]+(?:,[A-Za-z0-9]+)+$")


@dataclass(frozen=True, order=True)
class Task:
    """`formula` is validated (Hill order); `res`/`mod` select a generator part; `members`
    lists every formula of a shard (its first one is `formula`)."""

    formula: str
    res: int = 0
    mod: int = 1
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mod < 1 or not 0 <= self.res < self.mod:
            raise ValueError(f"bad split {self.res}/{self.mod}")
        if self.members and (len(self.members) < 2 or self.members[0] != self.formula):
            raise ValueError("a shard has two or more members, the first being `formula`")
        if self.members and self.mod != 1:
            raise ValueError("a shard cannot also be a split part")

    @classmethod
    def shard(cls, formulae: tuple[str, ...] | list[str]) -> Task:
        """A shard of several formulae, or a plain task when there is only one."""
        members = tuple(formulae)
        if len(members) == 1:
            return cls(members[0])
        return cls(members[0], members=members)

    @property
    def formulae(self) -> tuple[str, ...]:
        return self.members or (self.formula,)

    @property
    def key(self) -> str:
        """A name safe for file names: `C8H11NO`, `C8H11NO~3of16`, or shard `CH4+15`."""
        if self.members:
            return f"{self.formula}+{len(self.members) - 1}"
        if self.mod == 1:
            return self.formula
        return f"{self.formula}~{self.res}of{self.mod}"

    @property
    def spec(self) -> str:
        """What the queue stores: the key, or a shard's member list `CH4,C2H6,...`."""
        return ",".join(self.members) if self.members else self.key

    @property
    def split_options(self) -> tuple[str, ...]:
        """The generator options that select this part (none for a whole formula)."""
        return () if self.mod == 1 else (f"-m{self.res}/{self.mod}",)

    @classmethod
    def from_key(cls, key: str) -> Task:
        match = _KEY.match(key)
        if match is None:
            raise ValueError(f"not a task key: {key!r}")
        if match["mod"] is None:
            return cls(match["formula"])
        return cls(match["formula"], int(match["res"]), int(match["mod"]))

    @classmethod
    def from_spec(cls, spec: str) -> Task:
        if _SPEC_SHARD.match(spec):
            return cls.shard(spec.split(","))
        return cls.from_key(spec)


def is_shard_key(key: str) -> bool:
    """`CH4+187`: a shard's key (its first formula and how many others)."""
    return _SHARD_KEY.match(key) is not None


def key_formula(key: str) -> str:
    """The formula a task key starts with: the formula, the sliced one, a shard's first."""
    match = _SHARD_KEY.match(key) or _KEY.match(key)
    if match is None:
        raise ValueError(f"not a task key: {key!r}")
    return match["formula"]
