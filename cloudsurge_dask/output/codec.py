"""Compression of SMILES parts: zstd, gzip and single-member zip, in memory and streaming.

Every codec compresses in fixed `CHUNK`-sized steps whatever sizes it is fed, so the bytes of
a part depend only on its content: a redo writes identical objects, and the streaming
`Compressor` and the one-shot `compress` agree byte for byte. Levels are fast ones chosen by
`benchmarks/compression.py` (compression, not generation, is the bottleneck of the pipeline).
Each worker process owns one core, so zstd runs single-threaded.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import zstandard
from isal import isal_zlib

from ..errors import ConfigError, CorruptData

CHUNK = 1 << 20  # compressor input step; also the decompressor output step
_INPUT_STEP = 1 << 18  # compressed bytes fed per decompression step (bounds output size)

# Chosen by benchmarks/compression.py on real SMILES (see its CSV): fast levels, same ratio class.
DEFAULT_LEVELS = {"zst": 1, "gz": 1, "zip": 1}
DEFAULT_CODEC = "zst"
# The isal stubs declare `error` as an instance; at run time it is the exception class.
_ISAL_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]


class Compressor(ABC):
    """A streaming compressor for one part; `write` blocks of any size, then `finish` once."""

    def __init__(self) -> None:
        self._pending = bytearray(CHUNK)  # reused: a CHUNK gathered from unaligned writes
        self._filled = 0
        self._out: list[bytes] = []
        self.raw_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Compress `data` in CHUNK steps (fixed steps keep the output deterministic); whole
        CHUNKs of an aligned write go to the compressor without a copy."""
        with memoryview(data) as whole:
            view = whole.cast("B") if whole.format != "B" or whole.ndim != 1 else whole
            self.raw_bytes += len(view)
            if self._filled:
                view = self._gather(view)
            while len(view) >= CHUNK:
                self._feed(view[:CHUNK])
                view = view[CHUNK:]
            if len(view):
                self._gather(view)

    def _gather(self, view: memoryview) -> memoryview:
        """Copy what fits into the pending CHUNK, compress it once full; return the rest."""
        take = min(CHUNK - self._filled, len(view))
        self._pending[self._filled : self._filled + take] = view[:take]
        self._filled += take
        if self._filled == CHUNK:
            self._feed(self._pending)
            self._filled = 0
        return view[take:]

    def finish(self) -> bytes:
        """Compress what is left, close the stream and return the whole compressed object."""
        if self._filled:
            with memoryview(self._pending) as pending:
                self._feed(pending[: self._filled])
            self._filled = 0
        return self._close()

    def _emit(self, data: bytes) -> None:
        if data:
            self._out.append(data)

    @abstractmethod
    def _feed(self, chunk: bytes | bytearray | memoryview) -> None: ...

    @abstractmethod
    def _close(self) -> bytes: ...


class _ZstdCompressor(Compressor):
    def __init__(self, level: int) -> None:
        super().__init__()
        ctx = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=0)
        self._obj = ctx.compressobj()

    def _feed(self, chunk: bytes | bytearray | memoryview) -> None:
        self._emit(self._obj.compress(chunk))

    def _close(self) -> bytes:
        self._emit(self._obj.flush())
        return b"".join(self._out)


class _DeflateCompressor(Compressor):
    """ISA-L deflate; `wbits` 31 gives a gzip member (mtime 0, no name), -15 a raw stream."""

    def __init__(self, level: int, wbits: int) -> None:
        super().__init__()
        self._obj = isal_zlib.compressobj(level, isal_zlib.DEFLATED, wbits)
        self.crc = 0

    def _feed(self, chunk: bytes | bytearray | memoryview) -> None:
        self.crc = isal_zlib.crc32(chunk, self.crc)
        self._emit(self._obj.compress(chunk))

    def _close(self) -> bytes:
        self._emit(self._obj.flush())
        return b"".join(self._out)


# A zip archive with one member, written by hand so the deflate stream can come from ISA-L.
# Fixed timestamp (1980-01-01 00:00) and attributes keep the archive deterministic.
_ZIP64_LIMIT = 0xFFFFFFFF
_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0
_UNIX_FILE_0644 = (0o100644 << 16) & 0xFFFFFFFF


class _ZipCompressor(_DeflateCompressor):
    def __init__(self, level: int, member: str) -> None:
        super().__init__(level, -15)
        self._member = member.encode("utf-8")

    def _close(self) -> bytes:
        data = super()._close()
        size, csize, crc, name = self.raw_bytes, len(data), self.crc & 0xFFFFFFFF, self._member
        zip64 = size >= _ZIP64_LIMIT or csize >= _ZIP64_LIMIT
        version = 45 if zip64 else 20
        flags = 0x800 if not name.isascii() else 0
        extra = struct.pack("<HHQQ", 1, 16, size, csize) if zip64 else b""
        size32 = 0xFFFFFFFF if zip64 else size
        csize32 = 0xFFFFFFFF if zip64 else csize
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, version, flags, 8, _DOS_TIME, _DOS_DATE,
            crc, csize32, size32, len(name), len(extra),
        ) + name + extra  # fmt: skip
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | version, version, flags, 8,
            _DOS_TIME, _DOS_DATE, crc, csize32, size32, len(name), len(extra), 0, 0, 0,
            _UNIX_FILE_0644, 0,
        ) + name + extra  # fmt: skip
        cd_offset = len(local) + csize
        tail = b""
        if cd_offset >= _ZIP64_LIMIT or zip64:
            eocd64_offset = cd_offset + len(central)
            tail = struct.pack(
                "<IQHHIIQQQQ", 0x06064B50, 44, (3 << 8) | 45, 45, 0, 0, 1, 1,
                len(central), cd_offset,
            ) + struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)  # fmt: skip
        eocd = struct.pack(
            "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
            min(cd_offset, 0xFFFFFFFF) if not tail else 0xFFFFFFFF, 0,
        )  # fmt: skip
        return b"".join((local, data, central, tail, eocd))


@dataclass(frozen=True)
class Codec(ABC):
    """One output format: `extension` names the parts, `name` is the `--codec` value."""

    name: str
    extension: str
    level: int

    @abstractmethod
    def compressor(self, member: str) -> Compressor:
        """A streaming compressor; `member` names the file inside a zip (ignored otherwise)."""

    @abstractmethod
    def iter_decompress(self, data: bytes) -> Iterator[bytes]:
        """Yield the content in bounded pieces; raise CorruptData if `data` is torn or altered."""

    def compress(self, data: bytes, name: str) -> bytes:
        """One-shot compression, byte-identical to streaming the same data."""
        compressor = self.compressor(name)
        compressor.write(data)
        return compressor.finish()

    def decompress(self, data: bytes) -> bytes:
        return b"".join(self.iter_decompress(data))


def _stream_decompress(obj: Any, data: bytes, what: str) -> Iterator[bytes]:
    """Feed a zlib-style decompressobj in steps; insist on a complete stream and nothing after."""
    view = memoryview(data)
    for start in range(0, len(view), _INPUT_STEP):
        piece = obj.decompress(view[start : start + _INPUT_STEP])
        if piece:
            yield piece
        if obj.eof:
            if obj.unused_data or start + _INPUT_STEP < len(view):
                raise CorruptData(f"trailing bytes after the {what} stream")
            return
    raise CorruptData(f"truncated {what} stream")


class ZstdCodec(Codec):
    def compressor(self, member: str) -> Compressor:
        return _ZstdCompressor(self.level)

    def iter_decompress(self, data: bytes) -> Iterator[bytes]:
        obj = zstandard.ZstdDecompressor().decompressobj(write_size=CHUNK)
        try:
            yield from _stream_decompress(obj, data, "zstd")
        except zstandard.ZstdError as exc:
            raise CorruptData(f"corrupt zstd stream: {exc}") from exc


class GzipCodec(Codec):
    def compressor(self, member: str) -> Compressor:
        return _DeflateCompressor(self.level, 31)

    def iter_decompress(self, data: bytes) -> Iterator[bytes]:
        obj = isal_zlib.decompressobj(31)
        try:
            yield from _stream_decompress(obj, data, "gzip")
        except _ISAL_ERROR as exc:
            raise CorruptData(f"corrupt gzip stream: {exc}") from exc


class ZipCodec(Codec):
    def compressor(self, member: str) -> Compressor:
        return _ZipCompressor(self.level, member)

    def iter_decompress(self, data: bytes) -> Iterator[bytes]:
        if data[-22:-18] != b"PK\x05\x06":
            raise CorruptData("corrupt zip archive: it does not end with its directory record")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = archive.infolist()
                if len(members) != 1:
                    raise CorruptData(f"zip holds {len(members)} members, expected 1")
                with archive.open(members[0]) as member:
                    while piece := member.read(CHUNK):
                        yield piece
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise CorruptData(f"corrupt zip archive: {exc}") from exc


_CODECS: dict[str, type[Codec]] = {"zst": ZstdCodec, "gz": GzipCodec, "zip": ZipCodec}
CODECS = tuple(_CODECS)  # the `--codec` values


def get_codec(name: str, level: int | None = None, content: str = ".smi") -> Codec:
    """The codec for a `--codec` value (`zst`, `gz`, `zip`), at its measured default level;
    `content` is the extension of what it compresses (`.smi`, `.sdf`)."""
    try:
        cls = _CODECS[name]
    except KeyError:
        raise ConfigError(f"unknown codec {name!r}; choose one of {', '.join(_CODECS)}") from None
    chosen = DEFAULT_LEVELS[name] if level is None else level
    return cls(name=name, extension=f"{content}.{name}", level=chosen)
