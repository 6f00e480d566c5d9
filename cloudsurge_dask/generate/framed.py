"""The built-in engine's framed stream of compressed parts (its `-Z LEVEL:PARTSIZE`).

With it the engine compresses its own output in a thread of its own and cuts a part every
PARTSIZE structures (engine/parts.h), so Python moves a seventh of the bytes and never
touches a line. Each frame is a 24-byte header (tag, u32, u64, u64; little-endian):
`CSZD` with that many compressed bytes after it, `CSZP` ending a part (its structures and
raw bytes), `CSZE` ending the stream (parts, structures). A stream that stops before its
end frame, or holds anything else, is torn: nothing of it may be committed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import TornOutput

HEADER = struct.Struct("<4sIQQ")
DATA, PART, END = b"CSZD", b"CSZP", b"CSZE"
MAX_DATA = 1 << 26  # a data frame holds one compressed MiB step: anything near this is garbage


def parts_option(level: int, part_size: int) -> str:
    """The engine option asking for parts of `part_size` structures at zstd `level`: set by
    the pipeline's own code only, never from user text."""
    return f"-Z{int(level)}:{int(part_size)}"


@dataclass(frozen=True)
class CompressedPart:
    """One part as the engine compressed it: a whole zstd frame and its counts."""

    data: bytes
    structures: int
    raw_bytes: int


class PartStream:
    """Iterate the parts of a framed stream read through `read(n)` (fewer bytes only at its
    end); raises TornOutput naming `where()` (asked when it tears) and what was wrong.
    `at_eof` says whether the stream had ended when it tore (the engine exited) rather than
    holding garbage."""

    def __init__(self, read: Callable[[int], bytes], where: Callable[[], str]) -> None:
        self.read, self.where = read, where
        self.at_eof = False
        self.detail = ""  # what tore it, without where

    def _torn(self, what: str, parts: int) -> TornOutput:
        self.detail = f"engine output torn after {parts} part(s): {what}"
        return TornOutput(f"{self.where()}: {self.detail}")

    def _exactly(self, size: int, what: str, parts: int) -> bytes:
        got = self.read(size)
        if len(got) != size:
            self.at_eof = True
            said = "ended" if not got else f"ended {size - len(got)} bytes short"
            raise self._torn(f"the stream {said} inside {what}", parts)
        return got

    def __iter__(self) -> Iterator[CompressedPart]:
        pieces: list[bytes] = []
        parts = structures = 0
        while True:
            head = self.read(HEADER.size)
            if len(head) != HEADER.size:
                self.at_eof = True
                said = "ended" if not head else "ended inside a frame header"
                raise self._torn(f"the stream {said} before its end frame", parts)
            tag, size, first, second = HEADER.unpack(head)
            if tag == DATA and 0 < size <= MAX_DATA:
                pieces.append(self._exactly(size, "a data frame", parts))
            elif tag == PART and not size and pieces:
                yield CompressedPart(b"".join(pieces), first, second)
                pieces, parts, structures = [], parts + 1, structures + first
            elif tag == END and not size and not pieces:
                if (first, second) != (parts, structures):
                    raise self._torn(
                        f"its end frame counts {first} part(s) and {second} structures, the "
                        f"stream held {parts} and {structures}", parts,
                    )  # fmt: skip
                if self.read(1):
                    raise self._torn("bytes after its end frame", parts)
                return
            else:
                raise self._torn(f"unexpected frame {tag!r} of {size} bytes", parts)
