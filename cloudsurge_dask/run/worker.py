"""The drain loop: lease tasks, run the generator into the sink, record, acknowledge.

The same loop serves a Dask task (`drain`, one per worker process) and a plain Kubernetes
Job pod (`python -m cloudsurge_dask worker JOB`). It stops when the job is finished; while
other workers still hold leases it waits, so a task whose worker died is taken over once
its lease expires.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from ..clusters.logfilter import quiet_dask_worker
from ..errors import (
    GeneratorCrashed,
    GeneratorError,
    GeneratorRejected,
    QueueError,
    ScreenError,
    StorageError,
)
from ..formulae.task import Task
from ..generate.formats import get_format
from ..generate.generator import refused_formula, resolve_executable, takes_several_formulae
from ..output.codec import get_codec
from ..output.manifest import Manifest
from ..output.records import RecordBatch, TaskRecord, TaskStatus, utcnow
from ..output.sink import Sink
from ..queue.heartbeat import Heartbeat
from ..queue.jobqueue import JobQueue, Lease
from ..queue.redisclient import required_url
from ..screen.screener import Tally
from ..screen.stage import ScreenStage
from ..settings import JobMeta, Settings
from ..storage import open_store
from .sources import FormulaRun, GeneratorRuns, Source


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


# what a worker tells an onlooker (the dashboard) as tasks start and end: one flat dict
Report = Callable[[dict[str, Any]], None]


class Worker:
    """Drains one job; `run()` returns the records this worker made final."""

    def __init__(
        self,
        redis_url: str,
        job: str,
        consumer: str | None = None,
        report: Report | None = None,
        screen_processes: int = 1,
    ) -> None:
        self.queue = JobQueue.open(redis_url, job, patient=True)
        self.report: Report = report or (lambda event: None)
        meta = JobMeta.from_dict(self.queue.meta())
        self.job = job
        self.root = meta.root
        self.settings = meta.settings  # what the job was queued with
        self.consumer = consumer or consumer_name()
        executable = resolve_executable(self.settings.surge)
        self.batch_capable = takes_several_formulae(executable)
        self.format = get_format(self.settings.format)
        self.sources = GeneratorRuns(executable, self.settings, self.format.option)
        self.sink = Sink(
            open_store(meta.root),
            get_codec(self.settings.codec, content=self.format.extension),
            self.settings.part_size,
            structure_format=self.format,
        )
        spec = self.settings.screening
        self.screening = ScreenStage(spec, screen_processes) if spec.active else None
        # the engine compresses and cuts the parts itself when nothing needs the lines
        self.engine_parts = (
            self.sink.engine_parts if self.batch_capable and self.screening is None else None
        )

    def run(
        self,
        on_record: Callable[[TaskRecord], None] | None = None,
        until: Callable[[], bool] = lambda: False,
    ) -> list[TaskRecord]:
        """Drain until the job is finished, its client asks the workers to stop, or `until()`
        says so (checked between tasks: the client's own drain ends once its cluster is up).

        A storage failure (the output is full or unreachable after the retries) is the job's
        fault, not the task's: it is raised rather than spent as an attempt, and every lease
        still in hand goes back to the queue at once, whatever ends the loop."""
        records: list[TaskRecord] = []
        lease_seconds = self.settings.lease_seconds
        heartbeat = Heartbeat(self.queue, self.consumer, max(lease_seconds / 3, 0.05))
        held: list[Lease] = []
        try:
            if self.screening is not None:
                with contextlib.suppress(ScreenError):  # the first task then says why
                    self.screening.start()
            while self.queue.stop_requested() is None and not until():
                held = self.queue.lease(self.consumer, self.settings.batch_size)
                if not held:
                    if self.queue.finished():
                        break
                    time.sleep(min(max(lease_seconds / 4, 0.05), 0.25))
                    continue
                heartbeat.hold(held)
                while held:
                    final = self.process(held[0])
                    held = held[1:]
                    heartbeat.hold(held)
                    for record in final or ():
                        records.append(record)
                        if on_record is not None:
                            on_record(record)
                    if held and (self.queue.stop_requested() is not None or until()):
                        break
            return records
        finally:
            heartbeat.stop()
            if self.screening is not None:
                self.screening.close()
            if held:
                with contextlib.suppress(QueueError):
                    self.queue.release([lease.entry_id for lease in held])

    def process(self, lease: Lease) -> list[TaskRecord] | None:
        """Run one task; returns its records (one per formula) if they became final here.

        The manifest (the commit point of the output) is written only after every generator
        run exited cleanly and their own counts equal the lines stored. A shard runs in one
        generator process when the generator takes several formulae (the built-in engine),
        else (or when one of its formulae is refused) one process per formula.
        """
        task = lease.task
        started = utcnow()
        clock = time.perf_counter()
        self.report({
            "event": "start", "job": self.job, "task": task.key, "worker": self.consumer,
            "formulae": list(task.formulae), "attempt": lease.attempt,
        })  # fmt: skip
        try:
            manifest, runs = self._write_task(task)
        except StorageError:
            self._report_end(task, [], "stopped")
            raise
        except (GeneratorError, ScreenError) as exc:
            permanent = exc.permanent
            status = TaskStatus.REJECTED if permanent else TaskStatus.FAILED
            failed = [
                TaskRecord.failure(
                    self.job, task.key, f, self.consumer, started, status, str(exc), lease.attempt
                )
                for f in task.formulae
            ]
            final = self.queue.fail(lease, failed, permanent=permanent)
            self._report_end(task, failed if final else [], status if final else "retry")
            return failed if final else None
        finished = utcnow()
        overhead = max(time.perf_counter() - clock - sum(r.seconds for r in runs), 0.0)
        exact = all(run.raw_bytes is not None for run in runs)
        ratio = manifest.compressed_bytes / max(manifest.raw_bytes, 1)
        records = []
        for run in runs:
            screened = self._tally(run)
            stored = run.structures if screened is None else screened.stored
            # in one batch process (or after screening) the bytes per formula are not
            # separated: apportion them
            raw = (
                run.raw_bytes
                if exact and run.raw_bytes is not None and screened is None
                else round(manifest.raw_bytes * stored / max(manifest.structures, 1))
            )
            screen = screened or Tally(kept=run.structures)
            records.append(TaskRecord(
                job=self.job, task=task.key, formula=run.formula, worker=self.consumer,
                started=started, finished=finished, generator_seconds=run.seconds,
                write_seconds=overhead / len(runs), structures=stored,
                parts=len(manifest.parts) if run.error is None else 0, raw_bytes=raw,
                compressed_bytes=round(ratio * raw),
                status=TaskStatus.OK if run.error is None else TaskStatus.REJECTED,
                error=run.error, attempts=lease.attempt, generator_cpu_seconds=run.cpu_seconds,
                generated=run.structures, kept=screen.kept, unparsable=screen.unparsable,
                removed=tuple(screen.removed), screen_cpu_seconds=screen.cpu_seconds,
            ))  # fmt: skip
        self.queue.complete(lease, records)
        self._report_end(task, records, TaskStatus.OK)
        return records

    def _report_end(self, task: Task, records: list[TaskRecord], status: str) -> None:
        self.report({
            "event": "end", "job": self.job, "task": task.key, "worker": self.consumer,
            "status": str(status), "formulae": len(records),  # plain str: msgpack
            "structures": sum(r.structures for r in records),
            "generated": sum(r.generated for r in records),
        })  # fmt: skip

    def _write_task(self, task: Task) -> tuple[Manifest, list[FormulaRun]]:
        """A shard in one batch process; each formula the generator refuses (it names the
        first bad one) is set aside and the batch run again; if the refusal names none,
        one process per formula."""
        if self.engine_parts is not None and not task.members:
            return self._write_batch(task, {})
        if self.screening is not None or not (self.batch_capable and task.members):
            return self._write(task, self.sources.one_by_one)
        refused: dict[str, str] = {}
        while len(refused) < len(task.members):
            try:
                return self._write_batch(task, dict(refused))
            except GeneratorRejected as exc:
                named = refused_formula(str(exc))
                if named is None or named[0] in refused:
                    break
                refused[named[0]] = f"{named[0]}: {named[1]}"
        return self._write(task, self.sources.one_by_one)

    def _write_batch(
        self, task: Task, refused: dict[str, str]
    ) -> tuple[Manifest, list[FormulaRun]]:
        """The task's formulae but the refused ones in one generator process: its parts
        compressed and cut by the engine when it can (`engine_parts`), else by the sink."""
        if self.engine_parts is None:
            return self._write(task, functools.partial(self.sources.batch, refused=refused))
        runs: list[FormulaRun] = []
        parts = self.sources.batch(task, runs, refused=refused, framed=self.engine_parts)
        return self._checked(task, self.sink.write_compressed(task, parts), runs)

    def _write(self, task: Task, source: Source) -> tuple[Manifest, list[FormulaRun]]:
        """The task's stages in a row: generator -> (screening) -> parts; then `_checked`."""
        runs: list[FormulaRun] = []
        tagged = source(task, runs)
        if self.screening is None:
            blocks: Iterator[bytes | bytearray] = (block for _, block in tagged)
        else:
            blocks = self.screening.run(tagged)
        return self._checked(task, self.sink.write_parts(task, blocks), runs)

    def _checked(
        self, task: Task, manifest: Manifest, runs: list[FormulaRun]
    ) -> tuple[Manifest, list[FormulaRun]]:
        """The stored counts checked against the generator's own, and only then the
        manifest (the commit point) written. Returns it and this attempt's runs."""
        generated = sum(run.structures for run in runs)
        stored = [(run.formula, self._stored(run)) for run in runs if run.error is None]
        if self.screening is not None:
            for run in runs:
                seen = self.screening.tallies.get(run.formula, Tally()).generated
                if run.error is None and seen != run.structures:
                    raise GeneratorCrashed(
                        f"{task.key}: generator reported {run.structures} structures of "
                        f"{run.formula} but wrote {seen}"
                    )
        reported = sum(n for _, n in stored)
        if manifest.structures != reported:
            raise GeneratorCrashed(
                f"{task.key}: generator reported {reported} structures "
                f"but wrote {manifest.structures}"
            )
        index = tuple(stored) if task.members else ()
        manifest = dataclasses.replace(manifest, index=index, generated=generated)
        return self.sink.commit(manifest), runs

    def _tally(self, run: FormulaRun) -> Tally | None:
        """The screening of one formula's run (None without screening)."""
        if self.screening is None:
            return None
        found = self.screening.tallies.get(run.formula)
        return found or Tally(removed=[0] * len(self.screening.spec.labels))

    def _stored(self, run: FormulaRun) -> int:
        screened = self._tally(run)
        return run.structures if screened is None else screened.stored


def drain(redis_url: str | None, job: str, screen_processes: int = 1) -> RecordBatch:
    """The Dask task: one per worker process, returns the records it made final.

    `redis_url` None means: the worker's own `CLOUDSURGE_REDIS_URL` (pods get the in-cluster
    address from a Secret; the client may only see Redis through a port-forward).
    """
    from ..clusters.dashboard import worker_report  # tells the scheduler's task page what runs here

    quiet_dask_worker()
    url = required_url(redis_url or Settings.build().redis_url, "a drain")
    worker = Worker(url, job, report=worker_report(), screen_processes=screen_processes)
    return RecordBatch(tuple(worker.run()))
