"""Reading a job's results by formula: which tasks hold it, which parts, which structures.

The output is laid out for writing (parts per task, shards of many formulae, slices of one);
a reader wants one formula. The records (or, while a job runs, the manifests) say which
tasks hold it, a shard's manifest says where in its parts each formula starts (`starts`, or
derived from `index` and the parts' counts in older manifests), so `cat` decompresses only
the parts it needs and stops as soon as it has what was asked for.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import FormulaError, NoStructures, StorageError, UnknownFormula
from ..formulae.formula import parse_formula
from ..formulae.task import Task, is_shard_key, key_formula
from ..generate.formats import get_format
from ..output.codec import get_codec
from ..output.layout import JOB_FILE, MANIFESTS, RECORDS_FILE, job_url, manifest_path
from ..output.ledger import JobState, ledger_fields
from ..output.manifest import Manifest, part_starts
from ..output.records import TaskStatus, read_records
from ..storage import Store, open_store

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["task", "formula", "status", "structures", "parts", "error"]
_WORST = (TaskStatus.FAILED, TaskStatus.REJECTED)  # a formula's status is the worst of its slices'


def hill_formula(text: str) -> str:
    """The formula as the job names it. Accepted as Surge's Hill order writes it (C, H, then
    alphabetical; without carbon all alphabetical, H included) and nothing looser, so a
    name typed in another order is refused with its Hill spelling rather than guessed."""
    formula = parse_formula(text)
    typed = text.strip(" \t\r\n\x0b\x0c")
    if formula.hill != typed:
        raise FormulaError(
            f"{typed} is not in Hill order (carbon, hydrogen, then the others alphabetically; "
            f"without carbon all alphabetically): write {formula.hill}"
        )
    return formula.hill


@dataclass(frozen=True)
class Entry:
    """One formula of a job, over all its slices; `task` names the task (or first..last)."""

    formula: str
    task: str
    status: str
    structures: int
    parts: int
    generated: int | None = None  # what the generator wrote (None: not known yet)

    def line(self) -> str:
        made = "-" if self.generated is None else str(self.generated)
        return (
            f"{self.formula}\t{self.task}\t{self.status}\t{self.structures}\t{self.parts}\t{made}"
        )


@dataclass(frozen=True)
class Span:
    """Where one task's structures of one formula are: from structure `offset` of part
    `part` on, `count` of them."""

    manifest: Manifest
    part: int
    offset: int
    count: int


def slice_order(key: str) -> tuple[int, str]:
    """Sort key of task keys: the slices of a formula by their number (`~2of16` before
    `~10of16`), anything else by name."""
    try:
        return Task.from_key(key).res, key
    except ValueError:
        return 0, key


def _merge(rows: Iterable[Entry]) -> Iterator[Entry]:
    """One entry per formula from rows where a formula's slices are consecutive (sorted task
    keys keep them so: they share the prefix `FORMULA~`)."""
    for formula, rows_of_one in itertools.groupby(rows, key=lambda e: e.formula):
        group = list(rows_of_one)
        tasks = sorted((e.task for e in group), key=slice_order)
        yield Entry(
            formula,
            tasks[0] if len(tasks) == 1 else f"{tasks[0]}..{tasks[-1]}",
            next((s for s in _WORST if any(e.status == s for e in group)), group[0].status),
            sum(e.structures for e in group),
            sum(e.parts for e in group),
            None
            if any(e.generated is None for e in group)
            else sum(e.generated or 0 for e in group),
        )


class Catalog:
    """One job's files seen by formula; everything is read on demand (and cached)."""

    def __init__(self, store: Store, job: str) -> None:
        self.store, self.job = store, job
        self._records: pd.DataFrame | None = None
        self._manifests: dict[str, Manifest] = {}

    @classmethod
    def open(cls, output: str, job: str) -> Catalog:
        store = open_store(job_url(output, job))
        if not any(store.exists(name) for name in (RECORDS_FILE, JOB_FILE, MANIFESTS)):
            raise StorageError(f"no job {job} under {output} (see the `jobs` command)")
        return cls(store, job)

    def records(self) -> pd.DataFrame | None:
        """records.parquet (the columns a reader needs), None while the job has none."""
        if self._records is None:
            frame = read_records(self.store)
            if frame is not None:
                self._records = frame[[*COLUMNS, "started", "generated"]]
        return self._records

    def manifest(self, key: str) -> Manifest:
        if key not in self._manifests:
            self._manifests[key] = Manifest.from_json(self.store.read_bytes(manifest_path(key)))
        return self._manifests[key]

    def manifest_keys(self) -> list[str]:
        names = self.store.list(MANIFESTS) if self.store.exists(MANIFESTS) else []
        start = len(MANIFESTS) + 1
        return [name[start : -len(".json")] for name in names if name.endswith(".json")]

    def entries(self, sort: str | None = None) -> Iterator[Entry]:
        """Every formula of the job, streamed: from the records, else (a job still running)
        from the committed manifests; `sort` by an Entry field (which reads them all first)."""
        frame = self.records()
        rows: Iterable[Entry]
        if frame is not None:
            columns = ["formula", "task", "status", "structures", "parts", "generated"]
            rows = (
                Entry(str(f), str(t), str(s), int(n), int(p), int(g))
                for f, t, s, n, p, g in frame[columns].itertuples(index=False, name=None)
            )
        else:
            rows = self._manifest_entries()
        merged = _merge(rows)
        if sort is None:
            return merged
        if sort == "structures":
            return iter(sorted(merged, key=lambda e: (-e.structures, e.formula)))
        return iter(sorted(merged, key=lambda e: (getattr(e, sort), e.formula)))

    def _manifest_entries(self) -> Iterator[Entry]:
        for key in self.manifest_keys():
            manifest = self.manifest(key)
            self._manifests.pop(key)  # listing everything: keep memory flat
            parts = len(manifest.parts)
            unscreened = manifest.generated in (0, manifest.structures)
            for formula, count in manifest.index or ((manifest.formula, manifest.structures),):
                made = count if unscreened else (None if manifest.index else manifest.generated)
                yield Entry(formula, key, TaskStatus.OK, count, parts, made)

    def locate(self, formula: str) -> list[Span]:
        """The spans holding `formula`'s structures, in output (slice) order; UnknownFormula
        or NoStructures when there is nothing to read."""
        frame = self.records()
        if frame is None:
            tasks = self._tasks_from_manifests(formula)
        else:
            rows = frame[frame["formula"] == formula]
            state = ledger_fields(self.store).get("state", JobState.FINISHED)
            if rows.empty and state != JobState.FINISHED:
                return [self._span(self.manifest(k), formula) for k in self._unfinished(formula)]
            if rows.empty:
                raise UnknownFormula(f"{formula} is not a formula of job {self.job}")
            bad = rows[rows["status"] != TaskStatus.OK]
            if not bad.empty:
                status, error = str(bad["status"].iloc[0]), bad["error"].iloc[0]
                if status == TaskStatus.REJECTED:
                    raise NoStructures(f"{formula} was rejected by the generator: {error}")
                raise NoStructures(f"{formula} {status}, no structures stored: {error}")
            tasks = sorted(set(map(str, rows["task"])), key=slice_order)
        return [self._span(self.manifest(key), formula) for key in tasks]

    def _unfinished(self, formula: str) -> list[str]:
        """A job that did not finish: tasks committed after its records were saved are found
        through the manifests; a formula in none of them is not done yet."""
        try:
            return self._tasks_from_manifests(formula)
        except UnknownFormula:
            state = ledger_fields(self.store).get("state")
            raise NoStructures(
                f"{formula} has no structures stored (yet): job {self.job} is {state}"
            ) from None

    def _tasks_from_manifests(self, formula: str) -> list[str]:
        """Without records (a running job): its own task or slices, else the shard whose
        index names it."""
        keys = self.manifest_keys()
        own = [k for k in keys if not is_shard_key(k) and key_formula(k) == formula]
        if own:
            mod = Task.from_key(own[0]).mod
            if len(own) != mod:
                raise NoStructures(f"{formula}: only {len(own)} of its {mod} slices are done")
            return sorted(own, key=slice_order)
        for key in keys:
            if is_shard_key(key) and any(f == formula for f, _ in self.manifest(key).index):
                return [key]
        raise UnknownFormula(
            f"{formula} is in no finished task of job {self.job} (it has no records yet)"
        )

    @staticmethod
    def _span(manifest: Manifest, formula: str) -> Span:
        if not manifest.index:
            return Span(manifest, 0, 0, manifest.structures)
        names = [f for f, _ in manifest.index]
        if formula not in names:
            raise NoStructures(f"{formula}: not in the index of task {manifest.task}")
        i = names.index(formula)
        starts = manifest.starts or part_starts(
            (n for _, n in manifest.index), (p.structures for p in manifest.parts)
        )
        return Span(manifest, *starts[i], manifest.index[i][1])

    def read(self, span: Span, limit: int | None = None) -> Iterator[bytes]:
        """Blocks of whole records of the span (at most `limit` records), decompressing its
        parts in order from the first one it needs and stopping once it has them all."""
        manifest = span.manifest
        fmt = get_format(manifest.format)
        codec = get_codec(manifest.codec, content=fmt.extension)
        skip = span.offset
        left = span.count if limit is None else min(span.count, limit)
        for part in manifest.parts[span.part :]:
            if left <= 0:
                return
            if skip >= part.structures:
                skip -= part.structures
                continue
            rest = b""
            for piece in codec.iter_decompress(self.store.read_bytes(part.path)):
                buffer = rest + piece
                ends = fmt.ends(buffer)
                if not ends:
                    rest = buffer
                    continue
                rest = buffer[ends[-1] :]
                dropped = min(skip, len(ends))
                skip -= dropped
                taken = min(left, len(ends) - dropped)
                if taken:
                    begin = ends[dropped - 1] if dropped else 0
                    yield buffer[begin : ends[dropped + taken - 1]]
                    left -= taken
                if left <= 0:
                    return

    def structures(self, formula: str, limit: int | None = None) -> Iterator[bytes]:
        """Blocks of the formula's records in output order, all slices in slice order; an
        unknown or empty formula raises here, before any output."""
        return self._blocks(self.locate(formula), limit)

    def _blocks(self, spans: list[Span], limit: int | None) -> Iterator[bytes]:
        for span in spans:
            if limit is not None and limit <= 0:
                return
            for block in self.read(span, limit):
                if limit is not None:
                    limit -= get_format(span.manifest.format).count(block)
                yield block

    def sample(self, formula: str, size: int, seed: int | None = None) -> list[bytes]:
        """`size` records chosen uniformly at random (reservoir sampling: one pass, memory for
        `size` records), given back in output order."""
        rng = random.Random(seed)
        spans = self.locate(formula)  # an unknown formula is an error even for --sample 0
        if size <= 0:
            return []
        chosen: list[tuple[int, bytes]] = []
        seen = 0
        for span in spans:
            fmt = get_format(span.manifest.format)
            for block in self.read(span):
                begin = 0
                for end in fmt.ends(block):
                    if seen < size:
                        chosen.append((seen, block[begin:end]))
                    else:
                        slot = rng.randrange(seen + 1)
                        if slot < size:
                            chosen[slot] = (seen, block[begin:end])
                    seen, begin = seen + 1, end
        return [record for _, record in sorted(chosen)]


@dataclass(frozen=True)
class JobSummary:
    """One job under the output URL; None where nothing says."""

    job: str
    state: str
    formulae: int | None
    structures: int | None
    created: str | None

    def line(self) -> str:
        cells = (self.job, self.state, self.formulae, self.structures, self.created)
        return "\t".join("-" if c is None else str(c) for c in cells)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def summarize(store: Store, job: str) -> JobSummary | None:
    """The job's line from job.json, completed from records.parquet or, lacking both, the
    manifests; None if the folder holds none of them (not a job)."""
    meta = ledger_fields(store)
    catalog = Catalog(store, job)
    state, created = meta.get("state"), meta.get("created")
    formulae, structures = _count(meta.get("formulae")), _count(meta.get("structures"))
    if formulae is not None and structures is not None and state and created:
        return JobSummary(job, str(state), formulae, structures, str(created))
    frame = catalog.records()
    if frame is not None:
        if created is None and len(frame):
            created = frame["started"].min().isoformat()
        ok = frame[frame["status"] == TaskStatus.OK]
        formulae = formulae if formulae is not None else int(frame["formula"].nunique())
        structures = structures if structures is not None else int(ok["structures"].sum())
        return JobSummary(job, str(state or JobState.FINISHED), formulae, structures, created)
    if not meta and not store.exists(MANIFESTS):
        return None
    entries = list(catalog.entries())
    formulae = formulae if formulae is not None else len(entries)
    structures = structures if structures is not None else sum(e.structures for e in entries)
    return JobSummary(job, str(state or "incomplete"), formulae, structures, created)


def list_jobs(output: str) -> Iterator[JobSummary]:
    """Every job folder under the output URL, by job id (ids sort by creation time)."""
    store = open_store(output)
    try:
        store.fs.invalidate_cache(store.root)
        found = store.fs.ls(store.root, detail=True)
    except FileNotFoundError:
        raise StorageError(f"{output}: no such output folder") from None
    except OSError as exc:
        raise StorageError(f"cannot list {output}: {exc}") from exc
    names = (str(item["name"]).rstrip("/").rsplit("/", 1)[-1] for item in found)
    folders = [n for n, item in zip(names, found, strict=True) if item.get("type") == "directory"]
    for name in sorted(folders):
        if name.startswith("."):
            continue
        summary = summarize(open_store(job_url(output, name)), name)
        if summary is not None:
            yield summary
