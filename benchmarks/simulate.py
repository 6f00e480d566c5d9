"""Projection to 10-1,000 pods: a discrete-event simulation fed by costs measured here.

Measured in this run (built-in engine, or `--surge` upstream Surge):
- per-task overhead: `run_job` (1 worker, no splitting, no shards) on tiny formulae,
  work span / tasks: lease, generator start-up, parts, manifest, Redis round trips;
- per-formula overhead inside a shard: the same formulae with shards on, span / formulae;
- seconds per structure on ONE core (a 1-vCPU pod; best of 3): generator -> our Sink, the
  process pinned to one CPU, for one formula each with 9..12 heavy atoms; extrapolated to
  more atoms by a log-linear fit over heavy atoms;
- the extra cost of one `-m res/mod` part: the parts of C10H16O2 run one after another
  versus the whole formula, per part.

cost(task) = overhead(task) + sum over its formulae of structures x seconds/structure(n)
(+ per-formula overhead in a shard, + split extra per part). Structures come from
`estimate.estimate_many`; the task list from `plan.plan_tasks`. Each pod drains the queue
in plan order, leasing `batch_size` (4) tasks at a time, as the worker does. Reported:
makespan, its ratio to total work / pods (the ideal), efficiency = total work /
(pods x makespan), pod-hours. Plans: none, split (at a quarter of total structures / pods),
shard (at most min(1,000,000, that target) structures), split+shard, and default: what
`run` plans with its default settings for that many drains (slices of at most
--split-structures, 20 M). `--noise SIGMA` also runs
each scenario with the true counts = estimate x lognormal(0, SIGMA) (the planner still sees
the estimates); the default SIGMA is the spread of log(count/estimate) over the measured
formulae with 11-12 heavy atoms in `out/estimate_counts.csv` when that file exists.

    .venv/bin/python benchmarks/simulate.py [--max-heavy 14] [--pods 10,100,1000] [--quick]

The default stops at 12 heavy atoms (about 3 minutes); --max-heavy 14 takes about 10.

Writes benchmarks/out/simulate.csv and simulate.png.
"""

from __future__ import annotations

import csv
import heapq
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import (
    OUT,
    Engine,
    Row,
    count_structures,
    engines,
    figure,
    formula_set,
    load_note,
    parser,
    report,
    run_bare,
    run_pipeline,
    save_figure,
    stopwatch,
    warm_up,
    work_span,
)

from cloudsurge_dask.formulae.estimate import estimate_many
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.formulae.plan import PlanOptions, plan_tasks
from cloudsurge_dask.formulae.source import generate_formulae
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.settings import DEFAULT_ELEMENTS, Settings
from cloudsurge_dask.storage import open_store

PER_ATOM = {9: "C7H9NO", 10: "C8H11NO", 11: "C9H12O2", 12: "C10H16O2"}
SPLIT_FORMULA, SPLIT_PARTS = "C10H16O2", 8
TINY_ATOMS, TINY_COUNT = 4, 300
REPEAT = 3  # timings on one core: the best of this many runs
DEFAULTS = Settings()


@dataclass(frozen=True)
class Costs:
    task: float  # seconds per task
    in_shard: float  # seconds per formula inside a shard
    split_part: float  # extra seconds per -m part
    per_atom: dict[int, float]  # measured seconds per structure on one core
    slope: float  # fitted log(seconds per structure) = intercept + slope * heavy atoms
    intercept: float

    def per_structure(self, heavy: int) -> float:
        return math.exp(self.intercept + self.slope * heavy)


@contextmanager
def one_core() -> Iterator[None]:
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)


def sink_seconds(engine: Engine, formula: str) -> tuple[int, float]:
    """(structures, seconds) of generator -> Sink (zstd, default part size) on one core."""
    with tempfile.TemporaryDirectory(prefix="sim-") as out, one_core(), stopwatch() as elapsed:
        sink = Sink(open_store(out), get_codec(DEFAULTS.codec), DEFAULTS.part_size)
        task = Task(formula)
        with Generation(engine.path, task) as generation:
            manifest = sink.write_task(task, generation.blocks())
    return manifest.structures, elapsed()


def measure(engine: Engine, out: Path) -> tuple[Costs, list[Row]]:
    tiny = [f for f in formula_set(TINY_ATOMS, out) if f.heavy_atoms == TINY_ATOMS][:TINY_COUNT]
    plain = run_pipeline(engine, tiny, workers=1, split_structures=0, shard_structures=0)
    per_task = work_span(plain.records) / plain.records["task"].nunique()
    sharded = run_pipeline(engine, tiny, workers=1, split_structures=0)
    in_shard = work_span(sharded.records) / len(tiny)
    rows: list[Row] = [
        {"quantity": "per-task overhead s", "formula": f"{len(tiny)} x {TINY_ATOMS} atoms",
         "value": per_task},
        {"quantity": "per-formula in a shard s", "formula": f"{len(tiny)} x {TINY_ATOMS} atoms",
         "value": in_shard},
    ]  # fmt: skip
    per_atom: dict[int, float] = {}
    for heavy, formula in PER_ATOM.items():
        runs = [sink_seconds(engine, formula) for _ in range(REPEAT)]
        structures, seconds = runs[0][0], min(run[1] for run in runs)
        per_atom[heavy] = seconds / structures
        rows.append({"quantity": f"s/structure, {heavy} atoms, 1 core", "formula": formula,
                     "structures": structures, "value": per_atom[heavy]})  # fmt: skip
    xs = np.array(list(per_atom))
    slope, intercept = np.polyfit(xs, np.log(list(per_atom.values())), 1)
    argvs = [[engine.path, f"-m{r}/{SPLIT_PARTS}", "-S", SPLIT_FORMULA] for r in range(SPLIT_PARTS)]
    with one_core():
        whole = min(count_structures(engine, SPLIT_FORMULA)[1] for _ in range(REPEAT))
        parts = min(run_bare(argvs, 1) for _ in range(REPEAT))
    split_part = max(parts - whole, 0.0) / SPLIT_PARTS
    rows.append({"quantity": f"extra s per -m part ({SPLIT_PARTS} parts)",
                 "formula": SPLIT_FORMULA, "value": split_part})  # fmt: skip
    rows.append({"quantity": "growth of s/structure per heavy atom", "formula": "fit",
                 "value": math.exp(slope)})  # fmt: skip
    costs = Costs(per_task, in_shard, split_part, per_atom, float(slope), float(intercept))
    return costs, rows


def default_noise() -> float:
    """Spread of log(count/estimate) over measured 11-12 atom formulae, if the data exist."""
    path = OUT / "estimate_counts.csv"
    if not path.is_file():
        return 0.5
    formulae, counts = [], []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["count"].isdigit() and int(row["count"]) > 0:
                formula = parse_formula(row["formula"])
                if formula.heavy_atoms >= 11:
                    formulae.append(formula)
                    counts.append(int(row["count"]))
    if len(formulae) < 20:
        return 0.5
    residual = np.log(np.array(counts, float)) - np.log(estimate_many(formulae))
    return float(np.std(residual))


def simulate(costs: Sequence[float], pods: int, batch: int) -> float:
    """Makespan: pods lease `batch` tasks at a time in queue order and run them in turn."""
    free = [(0.0, pod) for pod in range(pods)]
    heapq.heapify(free)
    makespan = 0.0
    for start in range(0, len(costs), batch):
        clock, pod = heapq.heappop(free)
        clock += sum(costs[start : start + batch])
        makespan = max(makespan, clock)
        heapq.heappush(free, (clock, pod))
    return makespan


class Workload:
    """The formulae with up to N heavy atoms, their estimates and (noisy) true counts."""

    def __init__(self, heavy: int, costs: Costs, sigma: float, seed: int = 7) -> None:
        self.formulae = generate_formulae(heavy, DEFAULT_ELEMENTS)
        self.estimates = estimate_many(self.formulae)
        rng = np.random.default_rng(seed + heavy)
        truth = self.estimates * np.exp(rng.normal(0.0, sigma, len(self.formulae)))
        per = np.array([costs.per_structure(f.heavy_atoms) for f in self.formulae])
        self.index = {f.hill: i for i, f in enumerate(self.formulae)}
        self.work = {"estimate": self.estimates * per, "noisy": truth * per}
        self.costs = costs

    def task_costs(self, tasks: Sequence[Task], kind: str) -> list[float]:
        work, costs = self.work[kind], self.costs
        result = []
        for task in tasks:
            members = [self.index[f] for f in task.formulae]
            seconds = costs.task + sum(float(work[i]) for i in members) / task.mod
            if task.members:
                seconds += costs.in_shard * len(members)
            if task.mod > 1:
                seconds += costs.split_part
            result.append(seconds)
        return result


def scenarios(pods: int, total: float, largest: float) -> dict[str, PlanOptions]:
    """The plans compared; a split target no formula exceeds is written as 0 (no split).
    "default" is what `run` plans for that many drains with the default settings (slices of
    at most --split-structures); the others split at a quarter of a pod's share."""
    target = max(1, int(total / pods / 4))
    shard = min(DEFAULTS.shard_structures, target)
    if target >= largest:
        target = 0
    return {
        "none": PlanOptions(0, 0),
        "split": PlanOptions(target, 0),
        "shard": PlanOptions(0, shard),
        "split+shard": PlanOptions(target, shard),
        "default": PlanOptions(
            DEFAULTS.split_structures,
            DEFAULTS.shard_structures,
            DEFAULTS.shard_formulae,
            drains=pods,
        ),
    }


def project(
    heavy_atoms: Sequence[int], pod_counts: Sequence[int], costs: Costs, sigma: float
) -> list[Row]:
    rows: list[Row] = []
    for heavy in heavy_atoms:
        with stopwatch() as elapsed:
            load = Workload(heavy, costs, sigma)
        total = float(load.estimates.sum())
        print(f"{heavy} atoms: {len(load.formulae):,} formulae ({elapsed():.0f} s)", flush=True)
        plans: dict[PlanOptions, list[Task]] = {}
        priced: dict[tuple[PlanOptions, str], list[float]] = {}
        for pods in pod_counts:
            for name, options in scenarios(pods, total, float(load.estimates.max())).items():
                if options not in plans:
                    plans[options] = plan_tasks(load.formulae, options)
                tasks = plans[options]
                for kind in ("estimate", "noisy") if sigma > 0 else ("estimate",):
                    if (options, kind) not in priced:
                        priced[options, kind] = load.task_costs(tasks, kind)
                    task_costs = priced[options, kind]
                    work = sum(task_costs)
                    makespan = simulate(task_costs, pods, DEFAULTS.batch_size)
                    rows.append({
                        "heavy atoms": heavy, "formulae": len(load.formulae),
                        "structures (est.)": total, "pods": pods, "plan": name,
                        "counts": kind, "split target": options.targets(total)[0],
                        "tasks": len(tasks), "work pod-h": work / 3600,
                        "makespan h": makespan / 3600,
                        "makespan/(work/pods)": makespan / (work / pods),
                        "efficiency": work / (pods * makespan),
                        "pod-hours": pods * makespan / 3600,
                    })  # fmt: skip
    return rows


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--min-heavy", type=int, default=10)
    cli.add_argument("--max-heavy", type=int, default=12, help="14 for the full projection")
    cli.add_argument("--pods", default="10,100,1000")
    cli.add_argument("--noise", type=float, default=None, help="SIGMA of the count errors")
    args = cli.parse_args()
    top = min(args.max_heavy, 11) if args.quick else args.max_heavy
    pod_counts = [int(p) for p in args.pods.split(",")]
    sigma = default_noise() if args.noise is None else args.noise
    load = load_note()
    engine = engines(args)[-1]  # upstream Surge when given, else the built-in engine
    warm_up(engine)
    costs, measured = measure(engine, args.out)
    report(args.out, "simulate_costs", f"measured costs ({engine.name})", measured, [load])
    rows = project(range(args.min_heavy, top + 1), pod_counts, costs, sigma)
    shown = [r for r in rows if r["counts"] == "estimate"]
    report(
        args.out, "simulate", "simulated makespan", rows if args.quick else shown,
        [f"count noise SIGMA = {sigma:.2f} (rows 'noisy' in the CSV)",
         "makespan/(work/pods) = 1 is perfect; efficiency is its inverse."],
    )  # fmt: skip
    key = [
        r for r in rows
        if r["heavy atoms"] == 12 and r["pods"] == max(pod_counts)
    ]  # fmt: skip
    report(args.out, "simulate_key", f"key figure: 12 heavy atoms, {max(pod_counts)} pods", key)
    fig, axes = figure(2)
    for plan, style in (("none", "o-"), ("split", "s-"), ("default", "^--")):
        for heavy in sorted({r["heavy atoms"] for r in shown}):
            mine = [r for r in shown if r["plan"] == plan and r["heavy atoms"] == heavy]
            axes[0].plot([r["pods"] for r in mine], [r["efficiency"] for r in mine], style,
                         label=f"{heavy} atoms, {plan}")  # fmt: skip
    axes[0].set(xscale="log", xlabel="pods", ylabel="efficiency", ylim=(0, 1.05))
    axes[0].legend(fontsize=6)
    big = [r for r in shown if r["pods"] == max(pod_counts) and r["plan"] == "default"]
    axes[1].plot([r["heavy atoms"] for r in big], [r["makespan h"] for r in big], "o-",
                 label="makespan")  # fmt: skip
    axes[1].plot([r["heavy atoms"] for r in big], [r["work pod-h"] / max(pod_counts) for r in big],
                 "k:", label="work / pods")  # fmt: skip
    axes[1].set(yscale="log", xlabel="heavy atoms", ylabel="hours",
                title=f"{max(pod_counts)} pods, default plan")  # fmt: skip
    axes[1].legend()
    print(f"wrote {save_figure(fig, args.out, 'simulate')}")


if __name__ == "__main__":
    main()
