"""The project's own page on the Dask dashboard: which task runs where, and the job's progress.

Dask only sees one long `drain` task per worker process, so its dashboard cannot say which
formula or shard is running. Workers therefore log a small event as each task starts and
ends (`worker_report`), the scheduler folds them into per-job counters (`Tracker`, a
scheduler plugin, so nothing is lost when Dask trims its event log), and this module's
`routes` serve them as `/cloudsurge` (HTML that refreshes itself) and `/cloudsurge/status.json`.
The module is registered through distributed's `distributed.scheduler.http.routes` setting:
`dask.config.set(routes_config())` before a LocalCluster is made, or `routes_env()` in the
environment of a `dask scheduler` started elsewhere (a Kubernetes scheduler pod).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dask.config
from distributed import Client, get_worker
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado import web

from ..formulae.task import Task, is_shard_key
from ..output.records import TaskStatus
from .dashboardpage import PAGE, render
from .logfilter import quiet_dashboard

if TYPE_CHECKING:
    from distributed import Scheduler

TOPIC = "cloudsurge"  # the event topic workers and the client log to
PLUGIN = "cloudsurge-dashboard"
ROUTES_KEY = "distributed.scheduler.http.routes"
ROUTES_ENV = "DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES"
RECENT = 12  # finished tasks kept per job for the page
JOBS = 20  # jobs a long-lived scheduler keeps (the oldest announced first is dropped)
FINAL = tuple(TaskStatus)  # end statuses that make a task's formulae final


def scheduler_routes() -> list[str]:
    """distributed's configured route modules plus this one: the setting replaces the whole
    list, so the defaults (status, info, json, health, ...) must be carried along."""
    current = [str(module) for module in dask.config.get(ROUTES_KEY)]
    return current if __name__ in current else [*current, __name__]


def routes_config() -> dict[str, list[str]]:
    """For `dask.config.set(...)` around the making of an in-process scheduler."""
    return {ROUTES_KEY: scheduler_routes()}


def routes_env() -> dict[str, str]:
    """A container env entry; Dask reads the value as a Python literal (a list)."""
    return {"name": ROUTES_ENV, "value": json.dumps(scheduler_routes())}


def page_link(dashboard_link: str) -> str:
    """This page's URL from the dashboard's status URL (`http://host:8787/status`); a
    prefix before `/status` (a proxied dashboard) is kept."""
    base = dashboard_link.split("?", 1)[0].rstrip("/")
    if base.endswith("/status"):
        base = base[: -len("/status")]
    return f"{base}/{PAGE}"


def worker_report() -> Callable[[dict[str, Any]], None] | None:
    """The `report` hook for `worker.Worker` inside a Dask worker; None elsewhere (the plain
    `worker` command has no scheduler to tell). The scheduler overwrites an event's `worker`
    with the Dask worker's address, so the queue consumer's name travels as `consumer`."""
    try:
        worker = get_worker()
    except ValueError:
        return None

    def report(event: dict[str, Any]) -> None:
        message = dict(event)
        message["consumer"] = message.pop("worker", "")
        worker.log_event(TOPIC, message)

    return report


def announce(
    client: Client,
    job: str,
    formulae: int,
    tasks: int,
    *,
    formulae_done: int | None = None,
    tasks_done: int | None = None,
    structures: int | None = None,
    generated: int | None = None,
) -> None:
    """Tell the scheduler a job's totals (again on resume: harmless). The optional counts are
    what the queue already holds as final (a resumed job); given, they replace what this
    scheduler has counted so far. The tracker is installed first, so no event is missed."""
    client.run_on_scheduler(install)
    done = {
        "formulae_done": formulae_done, "tasks_done": tasks_done, "structures": structures,
        "generated": generated,
    }  # fmt: skip
    message = {"event": "job", "job": job, "formulae": formulae, "tasks": tasks}
    client.log_event(TOPIC, message | {k: v for k, v in done.items() if v is not None})


@dataclass
class Running:
    task: str
    worker: str
    consumer: str
    formulae: int
    first: str
    attempt: int
    since: float


@dataclass
class Board:
    """One job as the scheduler saw it: totals from `announce`, counts from the workers."""

    job: str
    formulae_total: int | None = None
    tasks_total: int | None = None
    formulae_done: int = 0
    tasks_done: int = 0
    structures: int = 0  # stored
    generated: int = 0  # by the generator (more than stored when the job screens)
    failed: int = 0  # formulae made final as failed or rejected
    retries: int = 0
    base_formulae: int = 0  # counts carried over from an earlier run (not in the rates)
    base_structures: int = 0
    first_start: float | None = None
    last_end: float | None = None
    running: dict[tuple[str, str], Running] = field(default_factory=dict)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    final: set[str] = field(default_factory=set)  # task keys counted (a late duplicate is not)
    slices: dict[str, set[int]] = field(default_factory=dict)  # formula -> finished slices

    @property
    def finished(self) -> bool:
        return self.tasks_total is not None and self.tasks_done >= self.tasks_total

    def apply(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("event")
        if kind == "job":
            self.formulae_total = int(message["formulae"])
            self.tasks_total = int(message["tasks"])
            if "formulae_done" in message:  # a resumed job: rates count from here on
                self.formulae_done = self.base_formulae = int(message["formulae_done"])
                self.first_start = None
            if "tasks_done" in message:
                self.tasks_done = int(message["tasks_done"])
            if "structures" in message:
                self.structures = self.base_structures = int(message["structures"])
            if "generated" in message:
                self.generated = int(message["generated"])
        elif kind == "start":
            names = [str(name) for name in message.get("formulae", [])]
            self.first_start = self.first_start or now
            key = (str(message["task"]), str(message.get("consumer", "")))
            self.running[key] = Running(
                key[0], str(message.get("worker", "")), key[1], len(names),
                names[0] if names else key[0], int(message.get("attempt", 1)), now,
            )  # fmt: skip
        elif kind == "end":
            self._end(message, now)

    def _end(self, message: dict[str, Any], now: float) -> None:
        task, status = str(message["task"]), str(message.get("status", ""))
        run = self.running.pop((task, str(message.get("consumer", ""))), None)
        self.recent.appendleft({
            "task": task, "worker": str(message.get("worker", "")), "status": status,
            "seconds": round(now - run.since, 3) if run else None,
            "structures": int(message.get("structures", 0)),
        })  # fmt: skip
        if status not in FINAL:
            self.retries += 1
            return
        if task in self.final:
            return
        self.final.add(task)
        self.tasks_done += 1
        self.last_end = now
        self.structures += int(message.get("structures", 0))
        self.generated += int(message.get("generated", message.get("structures", 0)))
        made = self._formulae_made(task, int(message.get("formulae", 0)))
        self.formulae_done += made
        if status != TaskStatus.OK:
            self.failed += made

    def _formulae_made(self, key: str, reported: int) -> int:
        """A slice (`C8H11NO~3of16`) finishes its formula only with the last of its slices."""
        if is_shard_key(key) or Task.from_key(key).mod == 1:
            return reported
        part = Task.from_key(key)
        done = self.slices.setdefault(part.formula, set())
        done.add(part.res)
        if len(done) < part.mod:
            return 0
        del self.slices[part.formula]
        return 1

    def snapshot(self, now: float) -> dict[str, Any]:
        end = self.last_end if self.finished and self.last_end else now
        elapsed = end - self.first_start if self.first_start else 0.0

        def rate(count: int) -> float:
            return round(count / elapsed, 3) if elapsed > 0 else 0.0

        running = sorted(self.running.values(), key=lambda run: run.since)
        return {
            "job": self.job, "finished": self.finished, "elapsed": round(elapsed, 3),
            "formulae": {"done": self.formulae_done, "total": self.formulae_total},
            "tasks": {"done": self.tasks_done, "total": self.tasks_total},
            "structures": self.structures, "generated": self.generated,
            "failed_formulae": self.failed,
            "retries": self.retries,
            "formulae_per_second": rate(self.formulae_done - self.base_formulae),
            "structures_per_second": rate(self.structures - self.base_structures),
            "running": [
                {"task": r.task, "worker": r.worker, "consumer": r.consumer,
                 "formulae": r.formulae, "first": r.first, "attempt": r.attempt,
                 "seconds": round(now - r.since, 3)}
                for r in running
            ],
            "recent": list(self.recent),
        }  # fmt: skip


class Tracker(SchedulerPlugin):
    """Folds the `cloudsurge` events into one `Board` per job as they are published."""

    name = PLUGIN

    def __init__(self) -> None:
        self.boards: dict[str, Board] = {}

    def log_event(self, topic: str, msg: Any) -> None:
        self.fold(topic, msg, time.time())

    def fold(self, topic: str, msg: Any, when: float) -> None:
        if topic != TOPIC or not isinstance(msg, dict) or "job" not in msg:
            return
        job = str(msg["job"])
        if job not in self.boards and len(self.boards) >= JOBS:
            del self.boards[next(iter(self.boards))]
        self.boards.setdefault(job, Board(job)).apply(msg, when)

    def remove_worker(self, scheduler: Scheduler, worker: str, **kwargs: Any) -> None:
        """A lost worker's tasks are no longer running (the queue hands them out again)."""
        for board in self.boards.values():
            for key in [key for key, run in board.running.items() if run.worker == worker]:
                del board.running[key]

    def snapshot(self) -> dict[str, Any]:
        now = time.time()
        boards = sorted(self.boards.values(), key=lambda b: b.first_start or now, reverse=True)
        return {"now": now, "jobs": [board.snapshot(now) for board in boards]}


def install(dask_scheduler: Scheduler) -> Tracker:
    """The scheduler's tracker, added on first use and fed the events Dask still holds (those
    logged before it existed). Runs on the scheduler's event loop, like event publishing."""
    found = dask_scheduler.plugins.get(PLUGIN)
    if isinstance(found, Tracker):
        return found
    quiet_dashboard()  # a closed browser tab: no third-party traceback in the run's output
    tracker = Tracker()
    for when, msg in dask_scheduler.get_events(TOPIC):
        tracker.fold(TOPIC, msg, when)
    dask_scheduler.add_plugin(tracker, name=PLUGIN)
    return tracker


class _Handler(web.RequestHandler):
    def initialize(self, dask_server: Scheduler) -> None:
        self.scheduler = dask_server


class StatusJSON(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(install(self.scheduler).snapshot()))


class StatusPage(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(render(install(self.scheduler).snapshot()))


routes: list[tuple[str, type[web.RequestHandler], dict[str, Any]]] = [
    (PAGE, StatusPage, {}),
    (f"{PAGE}/status.json", StatusJSON, {}),
]
