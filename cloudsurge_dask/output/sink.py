"""Turn a generator's raw stdout into compressed parts plus one manifest per task.

The paths come from `layout` (a part holds at most `part_size` structures, the manifest is
written last: the commit point of the task).

The hot path never looks at single lines in Python: it counts newlines per block with
numpy and locates a part boundary with numpy only in a block that holds one. Where the
built-in engine can compress and cut the very same parts itself (`engine_parts`, zst),
`write_compressed` takes them as they come and only hashes and stores them.
Compression runs in a background thread fed through a small bounded queue, and hashing and
upload of a finished part in another, so both overlap generation while memory stays bounded
(zstd, ISA-L and hashlib release the GIL). Names and bytes are deterministic, so a redo
after a lost lease rewrites identical objects; a part without a manifest entry is never
taken as complete.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import GeneratorCrashed, TornOutput
from ..formulae.task import Task
from ..generate.formats import SMILES, StructureFormat
from ..generate.framed import CompressedPart, parts_option
from ..storage import Store
from .codec import Codec, ZstdCodec
from .layout import manifest_path, part_path
from .manifest import Manifest, PartInfo, part_starts

QUEUE_DEPTH = 8  # blocks (~1 MiB each) waiting for the compression thread
PART_DEPTH = 1  # compressed parts waiting for the upload thread (up to ~30 MB each)


class _PartWriter(threading.Thread):
    """Compresses parts in order, the only consumer of its queue; a second thread hashes and
    stores each finished part while the next one is compressed, so an upload never stalls
    the generator. At most one part is in flight: memory holds two parts at most."""

    def __init__(self, store: Store, codec: Codec, key: str, depth: int, member: str) -> None:
        super().__init__(name=f"sink-{key}", daemon=True)
        self.store, self.codec, self.key, self.member = store, codec, key, member
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self.parts: list[PartInfo] = []
        self.error: Exception | None = None
        self.aborted = False
        self._uploads = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"store-{key}")
        self._in_flight: Future[PartInfo] | None = None

    def put(self, chunk: memoryview | bytes | bytearray) -> None:
        self._send(("data", chunk))

    def end_part(self, structures: int) -> None:
        self._send(("end", structures))

    def put_part(self, part: CompressedPart) -> None:
        """A part compressed already (by the engine): only hashed and stored."""
        self._send(("part", part))

    def _send(self, item: tuple[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self) -> list[PartInfo]:
        self.queue.put(("stop", None))
        self.join()
        if self.error is not None:
            raise self.error
        return self.parts

    def abort(self) -> None:
        self.aborted = True  # the thread drains the queue without doing the work
        self.queue.put(("stop", None))
        self.join()

    def _store(self, path: str, data: bytes, structures: int, raw_bytes: int) -> PartInfo:
        digest = hashlib.sha256(data).hexdigest()
        self.store.write_bytes(path, data)
        return PartInfo(path, structures, raw_bytes, len(data), digest)

    def _settle(self) -> None:
        """Wait for the part in flight; its PartInfo joins `parts`, its error is raised."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            self.parts.append(in_flight.result())

    def _submit(self, index: int, data: bytes, structures: int, raw_bytes: int) -> None:
        """Part `index` to the upload thread, once the part before it is stored."""
        path = part_path(self.key, index, self.codec.extension)
        self._settle()
        self._in_flight = self._uploads.submit(self._store, path, data, structures, raw_bytes)

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._uploads.shutdown(wait=True)

    def _run(self) -> None:
        compressor, index = None, 0
        while True:
            kind, value = self.queue.get()
            if kind == "stop":
                if self.error is None and not self.aborted:
                    try:
                        self._settle()
                    except Exception as exc:
                        self.error = exc
                return
            if self.error is not None or self.aborted:
                continue  # keep draining so the producer never blocks on a dead consumer
            try:
                if kind == "part":
                    self._submit(index, value.data, value.structures, value.raw_bytes)
                    index += 1
                    continue
                if compressor is None:
                    compressor = self.codec.compressor(f"{self.key}.{index:05d}{self.member}")
                if kind == "data":
                    compressor.write(value)
                    continue
                self._submit(index, compressor.finish(), value, compressor.raw_bytes)
                compressor, index = None, index + 1
            except Exception as exc:
                self.error = exc


class Sink:
    """Writes tasks under one job root with one codec, a maximum part size (structures) and
    one structure format (the codec's extension names the parts: `.smi.zst`, `.sdf.zst`)."""

    def __init__(
        self,
        store: Store,
        codec: Codec,
        part_size: int,
        queue_depth: int = QUEUE_DEPTH,
        structure_format: StructureFormat = SMILES,
    ) -> None:
        if part_size < 1:
            raise ValueError("part_size must be at least 1")
        self.store, self.codec, self.part_size = store, codec, part_size
        self.queue_depth = max(1, queue_depth)
        self.format = structure_format

    def write_task(self, task: Task, blocks: Iterable[bytes | bytearray]) -> Manifest:
        """Write the parts and commit them at once: for a caller with nothing to check."""
        return self.commit(self.write_parts(task, blocks))

    def write_parts(self, task: Task, blocks: Iterable[bytes | bytearray]) -> Manifest:
        """Consume raw stdout blocks (any sizes, lines may straddle blocks) into parts; return
        the manifest of what was stored, not yet written: the caller checks it against what
        the generator reported and then `commit`s it.

        Raises TornOutput if the output does not end with a newline (a generator run cut
        short), StorageError if a part cannot be stored; parts already stored then stay
        uncommitted orphans, overwritten when the task is redone.
        """
        writer = self._writer(task, self.queue_depth)
        try:
            in_part = self._feed(writer, blocks, task.key)
            if in_part:
                writer.end_part(in_part)
            parts = tuple(writer.finish())
        except BaseException:
            writer.abort()
            raise
        return self._manifest(task, parts)

    @property
    def engine_parts(self) -> str | None:
        """The built-in engine's option to compress and cut parts itself, exactly as this
        sink would (`write_compressed`), or None when this codec cannot be made there."""
        if not isinstance(self.codec, ZstdCodec):
            return None
        return parts_option(self.codec.level, self.part_size)

    def write_compressed(self, task: Task, parts: Iterable[CompressedPart]) -> Manifest:
        """As `write_parts`, for parts the engine compressed and cut (`engine_parts`): each
        is hashed and stored by the upload thread; every part but the last must hold exactly
        `part_size` structures, as `write_parts` cuts them."""
        writer = self._writer(task, PART_DEPTH)
        try:
            short = 0  # structures of a part shorter than part_size: it must be the last
            for part in parts:
                if short or not 0 < part.structures <= self.part_size:
                    raise GeneratorCrashed(
                        f"{task.key}: the engine cut a part of {part.structures} structures"
                        f"{f' after one of {short}' if short else ''}; parts hold "
                        f"{self.part_size}"
                    )
                short = part.structures if part.structures < self.part_size else 0
                writer.put_part(part)
            stored = tuple(writer.finish())
        except BaseException:
            writer.abort()
            raise
        return self._manifest(task, stored)

    def _writer(self, task: Task, depth: int) -> _PartWriter:
        writer = _PartWriter(self.store, self.codec, task.key, depth, self.format.extension)
        writer.start()
        return writer

    def _manifest(self, task: Task, parts: tuple[PartInfo, ...]) -> Manifest:
        """The manifest of stored parts (not yet written: `commit` does)."""
        return Manifest(
            task=task.key,
            formula=task.formula,
            codec=self.codec.name,
            structures=sum(p.structures for p in parts),
            raw_bytes=sum(p.raw_bytes for p in parts),
            compressed_bytes=sum(p.compressed_bytes for p in parts),
            parts=parts,
            format=self.format.name,
            generated=sum(p.structures for p in parts),
        )

    def commit(self, manifest: Manifest) -> Manifest:
        """Write the manifest (a shard's `starts` computed from its `index`): from here on
        the task's parts are its output."""
        if manifest.index:
            counts = (n for _, n in manifest.index)
            sizes = (p.structures for p in manifest.parts)
            manifest = dataclasses.replace(manifest, starts=part_starts(counts, sizes))
        self.store.write_bytes(manifest_path(manifest.task), manifest.to_json().encode())
        return manifest

    def _feed(self, writer: _PartWriter, blocks: Iterable[bytes | bytearray], key: str) -> int:
        """Cut blocks after every `part_size`-th record; return the structures of the open part.

        Records are counted per block (for SMILES a numpy newline count), and their ends are
        located only in a block where a part ends."""
        fmt, size, in_part = self.format, self.part_size, 0
        carry, last = b"", b""
        for block in blocks:
            if not block:
                continue
            count = fmt.count(block, carry)
            if in_part + count >= size:
                ends = fmt.ends(block, carry)
                view, start, index = memoryview(block), 0, size - in_part - 1
                while index < count:
                    end = ends[index]
                    writer.put(view[start:end])
                    writer.end_part(size)
                    start, index = end, index + size
                in_part = count - (index - size + 1)
                if start < len(block):
                    writer.put(view[start:])
            else:
                writer.put(block)
                in_part += count
            carry = fmt.carry(carry, block)
            last = (last + bytes(block[-len(fmt.terminator) :]))[-len(fmt.terminator) :]
        if not fmt.complete(last):
            raise TornOutput(f"{key}: output does not end with {fmt.ending}")
        return in_part
