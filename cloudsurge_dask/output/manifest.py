"""A task's manifest: the parts it wrote, their counts and checksums; the commit point.

The sink writes it last (`Sink.commit`); `verify`, `cat`, `ls` and `--repair` read it. One
definition for writer and readers, with its JSON form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from ..errors import CorruptData
from ..generate.formats import SMILES

_CASTS = {"str": str, "int": int}


def _scalars(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The plain (str, int) fields of a dataclass from parsed JSON, each cast to its type; a
    field with a default may be absent (written before the field existed)."""
    values = {}
    for f in fields(cls):
        if f.type in _CASTS:
            raw = data[f.name] if f.default is dataclasses.MISSING else data.get(f.name, f.default)
            values[f.name] = _CASTS[str(f.type)](raw)
    return values


@dataclass(frozen=True)
class PartInfo:
    """One compressed part; `path` is relative to the job root, `sha256` of the object."""

    path: str
    structures: int
    raw_bytes: int
    compressed_bytes: int
    sha256: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> PartInfo:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartInfo:
        try:
            return cls(**_scalars(cls, data))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptData(f"malformed part entry: {exc!r}") from exc


@dataclass(frozen=True)
class Manifest:
    """Everything one task wrote; totals are the sums over `parts`.

    `index` is set for a shard: its formulae in output order with their structure counts,
    so formula i's records start after the sum of the counts before it. `starts`, parallel
    to `index`, says where: (part number, structures to skip in that part), so a reader of
    one formula opens only its own parts (empty for a plain task, which starts at (0, 0),
    and in manifests written before the field existed). `format` says what a structure's
    record is (a SMILES line, an SDfile record). `generated` is what the generator wrote for
    the task (more than `structures` when screens dropped some; 0 in manifests written before
    the field existed).
    """

    task: str
    formula: str
    codec: str
    structures: int
    raw_bytes: int
    compressed_bytes: int
    parts: tuple[PartInfo, ...]
    index: tuple[tuple[str, int], ...] = ()
    format: str = SMILES.name
    starts: tuple[tuple[int, int], ...] = ()
    generated: int = 0

    def to_json(self) -> str:
        """Sorted keys, one line: the C encoder (an indent would take the slow Python one,
        and a shard's index can list hundreds of formulae)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
            return cls(
                **_scalars(cls, data),
                parts=tuple(PartInfo.from_dict(p) for p in data["parts"]),
                index=tuple((str(f), int(n)) for f, n in data.get("index", ())),
                starts=tuple((int(p), int(n)) for p, n in data.get("starts", ())),
            )
        except (KeyError, TypeError, ValueError, CorruptData) as exc:
            raise CorruptData(f"malformed manifest: {exc}") from exc


def part_starts(counts: Iterable[int], part_sizes: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Where each run of `counts` consecutive structures begins in parts of `part_sizes`
    structures: (part number, structures before it in that part). Computed from the real
    part counts, never from the part size, so it holds whatever cut the parts. A run at the
    very end (an empty formula last) points just past the last part's last structure."""
    sizes = list(part_sizes)
    starts: list[tuple[int, int]] = []
    part, before, offset = 0, 0, 0  # `before`: structures in the parts ahead of `part`
    for count in counts:
        while part < len(sizes) - 1 and offset >= before + sizes[part]:
            before += sizes[part]
            part += 1
        starts.append((part, offset - before))
        offset += count
    return tuple(starts)
