"""A unit of work on the queue: one formula, or one `-m res/mod` part of a large formula."""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"^(?P<formula>[A-Za-z0-9]+)(?:~(?P<res>\d+)of(?P<mod>\d+))?$")


@dataclass(frozen=True, order=True)
class Task:
    """`formula` is already validated (Hill order); `res`/`mod` select a generator part."""

    formula: str
    res: int = 0
    mod: int = 1

    def __post_init__(self) -> None:
        if self.mod < 1 or not 0 <= self.res < self.mod:
            raise ValueError(f"bad split {self.res}/{self.mod}")

    @property
    def key(self) -> str:
        """A name safe for Redis fields and file names: `C8H11NO` or `C8H11NO~3of16`."""
        if self.mod == 1:
            return self.formula
        return f"{self.formula}~{self.res}of{self.mod}"

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
