"""Check a finished job against its manifests: every part present, intact and counted right.

Parts are read and decompressed one at a time in bounded pieces, so memory stays at about
one compressed part whatever the job size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError, StorageError, VerifyError
from ..generate.formats import StructureFormat, get_format
from ..output.codec import Codec, get_codec
from ..output.layout import MANIFESTS, PARTS, job_url, manifest_path
from ..output.manifest import Manifest, PartInfo, part_starts
from ..output.records import TaskStatus
from ..settings import Settings
from ..storage import Store, open_store
from .export import load_records


@dataclass
class VerifyReport:
    """What `verify_job` looked at and what it found; `ok` means no problems.

    `orphans` are stored parts no manifest lists. Those of unfinished tasks (no manifest)
    are expected after a killed worker and are not problems; a stray part beside a
    committed manifest is. `unexpected` lists committed tasks missing from `expected` (say,
    a task that failed after its output was committed); their parts are still checked.
    """

    tasks: int = 0
    parts: int = 0
    structures: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # task keys a problem names: --repair's list

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_failed(self) -> None:
        """Raise `VerifyError` naming the first problems, for callers that want an exception."""
        if self.problems:
            shown = "; ".join(self.problems[:5])
            more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
            raise VerifyError(f"{len(self.problems)} problem(s): {shown}{more}")


def verify_output(settings: Settings, job: str) -> VerifyReport:
    """Every part of a job against its manifest, and every manifest against the structure
    counts the generator reported (the job's saved records name the ok tasks and counts)."""
    frame = load_records(settings.replace(redis_url=None), job)
    done = frame[frame["status"] == TaskStatus.OK]
    totals = done.groupby("task")["structures"].sum()
    expected = {str(task): int(n) for task, n in totals.items()}
    return verify_job(open_store(job_url(settings.output, job)), expected)


def verify_job(store: Store, expected: Mapping[str, int] | None = None) -> VerifyReport:
    """Re-read every part of every manifest; optionally compare totals with `expected`.

    `expected` maps task keys to the structure counts the generator itself reported; a task
    listed there without a manifest, or with another count, is a problem.
    """
    report = VerifyReport()
    listed: set[str] = set()
    committed: set[str] = set()
    present: set[str] = set()
    for relpath in store.list(MANIFESTS):
        if not relpath.endswith(".json"):
            report.problems.append(f"{relpath}: not a manifest")
            continue
        key = relpath[len(MANIFESTS) + 1 : -len(".json")]
        before = len(report.problems)
        manifest = _load(store, key, report)
        if manifest is None:
            present.add(key)  # already a problem; its parts are not stray on top of that
            report.broken.add(key)
            continue
        committed.add(key)
        report.tasks += 1
        listed.update(p.path for p in manifest.parts)
        _check_manifest(store, manifest, report)
        if manifest.index and sum(n for _, n in manifest.index) != manifest.structures:
            report.problems.append(
                f"{manifest.task}: shard index adds up to {sum(n for _, n in manifest.index)}, "
                f"not {manifest.structures}"
            )
        starts_problem = _check_starts(manifest)
        if starts_problem:
            report.problems.append(f"{manifest.task}: {starts_problem}")
        if expected is not None:
            if manifest.task not in expected:
                report.unexpected.append(manifest.task)
            elif expected[manifest.task] != manifest.structures:
                report.problems.append(
                    f"{manifest.task}: manifest has {manifest.structures} structures, "
                    f"the generator reported {expected[manifest.task]}"
                )
        if len(report.problems) > before:
            report.broken.add(key)
    if expected is not None:
        for key in sorted(set(expected) - committed - present):
            report.problems.append(f"{key}: no manifest")
            report.broken.add(key)
    for relpath in store.list(PARTS):
        if relpath in listed:
            continue
        report.orphans.append(relpath)
        folder = relpath[len(PARTS) + 1 :].split("/", 1)[0]
        if folder in committed:
            report.problems.append(f"{relpath}: stray part beside committed task {folder}")
            report.broken.add(folder)
    return report


def _load(store: Store, key: str, report: VerifyReport) -> Manifest | None:
    try:
        manifest = Manifest.from_json(store.read_bytes(manifest_path(key)))
    except (StorageError, VerifyError) as exc:
        report.problems.append(f"{manifest_path(key)}: {exc}")
        return None
    if manifest.task != key:
        report.problems.append(f"{manifest_path(key)}: names task {manifest.task!r}")
    return manifest


def _check_starts(manifest: Manifest) -> str | None:
    """None if the shard's `starts` (when present) are where its index and parts put each
    formula: `cat` trusts them to open only a formula's own parts."""
    if not manifest.starts:
        return None
    if len(manifest.starts) != len(manifest.index):
        return f"starts lists {len(manifest.starts)} formulae, the index {len(manifest.index)}"
    derived = part_starts((n for _, n in manifest.index), (p.structures for p in manifest.parts))
    for (formula, _), found, right in zip(manifest.index, manifest.starts, derived, strict=True):
        if found != right:
            return f"starts puts {formula} at part {found[0]} offset {found[1]}, not {right}"
    return None


def _check_manifest(store: Store, manifest: Manifest, report: VerifyReport) -> None:
    where = manifest_path(manifest.task)
    parts = manifest.parts
    for name in ("structures", "raw_bytes", "compressed_bytes"):
        total = sum(getattr(p, name) for p in parts)
        if total != getattr(manifest, name):
            report.problems.append(f"{where}: {name} {getattr(manifest, name)} != sum {total}")
    try:
        fmt = get_format(manifest.format)
        codec = get_codec(manifest.codec, content=fmt.extension)
    except ConfigError as exc:
        report.problems.append(f"{where}: {exc}")
        return
    for part in parts:
        if not part.path.endswith(codec.extension):
            report.problems.append(
                f"{part.path}: extension does not match codec {codec.name} and format {fmt.name}"
            )
        problem = _check_part(store, part, codec, fmt)
        report.parts += 1
        if problem:
            report.problems.append(f"{part.path}: {problem}")
        else:
            report.structures += part.structures


def _check_part(store: Store, part: PartInfo, codec: Codec, fmt: StructureFormat) -> str | None:
    """None if the part matches its entry, else what is wrong with it."""
    try:
        data = store.read_bytes(part.path)
    except FileNotFoundError:
        return "missing"
    except StorageError as exc:
        return f"unreadable: {exc}"
    if len(data) != part.compressed_bytes:
        return f"{len(data)} bytes stored, manifest says {part.compressed_bytes}"
    if hashlib.sha256(data).hexdigest() != part.sha256:
        return "sha256 differs from the manifest"
    records = raw = 0
    carry = last = b""
    try:
        for piece in codec.iter_decompress(data):
            records += fmt.count(piece, carry)
            raw += len(piece)
            carry = fmt.carry(carry, piece)
            last = (last + piece[-len(fmt.terminator) :])[-len(fmt.terminator) :]
    except VerifyError as exc:
        return str(exc)
    if not fmt.complete(last):
        return f"content does not end with {fmt.ending}"
    if records != part.structures or raw != part.raw_bytes:
        return (
            f"holds {records} structures / {raw} bytes, "
            f"manifest says {part.structures} / {part.raw_bytes}"
        )
    return None
