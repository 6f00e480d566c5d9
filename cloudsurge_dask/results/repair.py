"""`verify --repair`: regenerate the tasks whose parts are missing, truncated or altered.

A finished job's output is deterministic (names and bytes), so a broken task is mended by
running it again with the job's own settings (from `job.json`): the tasks `verify` found
broken are queued on a private Redis of their own, drained in this process by the same
Worker a run uses, which rewrites their parts and commits new manifests; stray parts of those
tasks are removed, their rows of `records.parquet` replaced, `job.json` updated, and the
whole job verified again. Works wherever the output is (a folder, `gs://`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from ..errors import ConfigError
from ..formulae.task import Task, is_shard_key
from ..output.layout import PARTS, RECORDS_FILE, manifest_path
from ..output.ledger import read_ledger, write_ledger
from ..output.manifest import Manifest
from ..output.records import TaskStatus, read_records, records_frame
from ..queue.jobqueue import JobQueue
from ..queue.redisclient import connect
from ..queue.redisserver import RedisServer
from ..run.worker import Worker
from ..screen.preflight import available_cores
from ..settings import JobMeta
from ..storage import Store
from .verify import VerifyReport, verify_job


@dataclass(frozen=True)
class Repair:
    tasks: tuple[str, ...]
    removed: int  # stray parts deleted
    report: VerifyReport  # the verification after the repair


def _members(task: str, frame: pd.DataFrame) -> Task:
    """The task as the job planned it: a shard's formulae in the order it ran them, which
    is their order in the records."""
    if not is_shard_key(task):
        return Task.from_key(task)
    formulae = [str(f) for f in frame.loc[frame["task"] == task, "formula"]]
    if not formulae:
        raise ConfigError(f"--repair: no records name the formulae of shard {task}")
    return Task.shard(formulae)


def _strays(store: Store, keys: Iterable[str]) -> int:
    """Delete parts of these tasks that their new manifest does not list."""
    removed = 0
    for key in keys:
        manifest = Manifest.from_json(store.read_bytes(manifest_path(key)))
        listed = {part.path for part in manifest.parts}
        folder = f"{PARTS}/{key}"
        for path in store.list(folder) if store.exists(folder) else []:
            if path not in listed:
                store.delete(path)
                removed += 1
    return removed


def repair_job(store: Store, meta: JobMeta, job: str, broken: Iterable[str]) -> Repair:
    """Regenerate `broken` tasks of a finished job and bring its records and ledger up to
    date; returns what was done and the verification that followed."""
    keys = tuple(sorted(set(broken)))
    frame = read_records(store)
    if frame is None:
        raise ConfigError(f"--repair: {store.url_of(RECORDS_FILE)} is missing")
    tasks = [_members(key, frame) for key in keys]
    with RedisServer() as server:
        queue = JobQueue(connect(server.url), job)
        queue.create(tasks, meta.to_dict())
        drain = Worker(server.url, job, screen_processes=available_cores())
        records = drain.run()
        failed = [r for r in records if r.status == TaskStatus.FAILED]
        if failed:
            raise ConfigError(
                f"--repair: {len(failed)} formulae failed again, e.g. {failed[0].formula}: "
                f"{failed[0].error}"
            )
    removed = _strays(store, keys)
    kept = frame[~frame["task"].isin(keys)]
    fresh = records_frame(records)
    merged = pd.concat([kept, fresh], ignore_index=True) if len(kept) else fresh
    merged = merged.sort_values("task", kind="stable", ignore_index=True)
    store.write_bytes(RECORDS_FILE, merged.to_parquet(index=False))
    ledger = read_ledger(store)
    if ledger is not None:
        ok = merged[merged["status"] == TaskStatus.OK]
        write_ledger(store, ledger.moved(
            structures=int(ok["structures"].sum()), generated=int(ok["generated"].sum()),
            reason=f"repaired {len(keys)} task(s): {', '.join(keys[:10])}",
        ))  # fmt: skip
    expected = merged[merged["status"] == TaskStatus.OK].groupby("task")["structures"].sum()
    report = verify_job(store, {str(t): int(n) for t, n in expected.items()})
    return Repair(keys, removed, report)
