"""job.json: the strict ledger and the tolerant reader, on a real store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from cloudsurge_dask.errors import CorruptData
from cloudsurge_dask.output.layout import JOB_FILE
from cloudsurge_dask.output.ledger import (
    JobState,
    Ledger,
    ledger_fields,
    read_ledger,
    try_write_ledger,
    write_ledger,
)
from cloudsurge_dask.output.records import utcnow
from cloudsurge_dask.storage import Store, open_store


def store() -> Store:
    return open_store(f"memory://ledger-{uuid.uuid4().hex}")


def ledger(**changes: object) -> Ledger:
    values: dict[str, object] = {
        "job": "J", "created": utcnow(), "updated": utcnow(), "state": JobState.RUNNING,
        "formulae": 10, "tasks": 3,
    }  # fmt: skip
    values.update(changes)
    return Ledger(**values)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field_and_the_state_word() -> None:
    here = store()
    written = ledger(screening={"screens": ["MolWt < 100"]}, generated=50, structures=20)
    write_ledger(here, written)
    assert read_ledger(here) == written
    raw = json.loads(here.read_bytes(JOB_FILE))
    assert raw["state"] == "running" and raw["generated"] == 50
    assert ledger_fields(here)["screening"] == {"screens": ["MolWt < 100"]}


def test_absent_unknown_and_broken() -> None:
    here = store()
    assert read_ledger(here) is None and ledger_fields(here) == {}
    data = json.loads(ledger().to_json())
    data["state"] = "exploded"
    here.write_bytes(JOB_FILE, json.dumps(data).encode())
    with pytest.raises(CorruptData, match="unknown state 'exploded'"):
        read_ledger(here)
    assert ledger_fields(here)["state"] == "exploded"  # listings still show what they can
    here.write_bytes(JOB_FILE, b"{not json")
    with pytest.raises(CorruptData):
        read_ledger(here)
    assert ledger_fields(here) == {}


def test_moved_refreshes_the_time_and_unknown_keys_are_ignored() -> None:
    first = ledger()
    later = first.moved(state=JobState.FINISHED, done=3)
    assert later.updated >= first.updated and later.state == "finished" and later.done == 3
    data = json.loads(later.to_json())
    data["from_a_newer_version"] = True
    assert Ledger.from_json(json.dumps(data)) == later


def test_a_store_that_refuses_writes_is_reported_not_raised(tmp_path: Path) -> None:
    folder = tmp_path / "job"
    folder.write_text("a file where the job folder should be")
    reason = try_write_ledger(open_store(str(folder)), ledger())
    assert isinstance(reason, str) and reason
    assert try_write_ledger(open_store(str(tmp_path / "fine")), ledger()) is None
