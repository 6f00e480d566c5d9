"""`OUTPUT/JOB/job.json`: what a job is and how far it got, readable without Redis.

The client writes it when the job is queued and again whenever a run of it ends (finished,
interrupted, stopped by a fault); `status`, `jobs` and `run --resume` read it. Together
with `records.parquet` and the manifests it makes the output folder self-describing.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..errors import CorruptData, ObjectNotFound, StorageError
from ..storage import Store
from .layout import JOB_FILE
from .records import utcnow


class JobState(StrEnum):
    """Where a job stands, as job.json and `status` say it."""

    QUEUED = "queued"  # by `enqueue`, for workers started elsewhere
    RUNNING = "running"
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM: resumable
    STOPPED = "stopped"  # a fault (full disk, storage or Redis outage): resumable once fixed
    FINISHED = "finished"


@dataclass(frozen=True)
class Ledger:
    """The job's identity, state and counters (`done`/`failed` count tasks, `formulae_final`
    formulae with a final record); `resume` is the exact command that goes on with it;
    `screening` the screens, RDKit's version and the model files' checksums of a screened
    job."""

    job: str
    created: datetime
    updated: datetime
    state: str
    formulae: int
    tasks: int
    done: int = 0
    failed: int = 0
    formulae_final: int = 0
    structures: int = 0
    generated: int = 0
    reason: str = ""
    resume: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    screening: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["created"] = self.created.isoformat()
        data["updated"] = self.updated.isoformat()
        return json.dumps(data, sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Ledger:
        try:
            data = json.loads(text)
            known = {f.name for f in dataclasses.fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            values["created"] = datetime.fromisoformat(values["created"])
            values["updated"] = datetime.fromisoformat(values["updated"])
            ledger = cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptData(f"malformed {JOB_FILE}: {exc}") from exc
        if ledger.state not in set(JobState):
            raise CorruptData(f"{JOB_FILE}: unknown state {ledger.state!r}")
        return ledger

    def moved(self, **changes: Any) -> Ledger:
        """A copy with new values and a fresh `updated` time."""
        return dataclasses.replace(self, updated=utcnow(), **changes)


def read_ledger(store: Store) -> Ledger | None:
    """The job's ledger, or None for a job written before ledgers existed (or not at all)."""
    try:
        return Ledger.from_json(store.read_bytes(JOB_FILE))
    except ObjectNotFound:
        return None


def ledger_fields(store: Store) -> dict[str, Any]:
    """job.json's keys as they are, or none when it is absent or unreadable: for listings that
    show what they can of an older or damaged job rather than refuse it."""
    try:
        data = json.loads(store.read_bytes(JOB_FILE))
    except (ValueError, StorageError):
        return {}
    return data if isinstance(data, dict) else {}


def write_ledger(store: Store, ledger: Ledger) -> None:
    store.write_bytes(JOB_FILE, ledger.to_json().encode())


def try_write_ledger(store: Store, ledger: Ledger) -> str | None:
    """Write it if the storage lets us (after a fault it may not); the reason if not."""
    try:
        write_ledger(store, ledger)
    except StorageError as exc:
        return str(exc)
    return None
