"""Pipeline versus the bare generator writing to /dev/null, on the same input.

(a) One large formula: the first candidate whose bare `ENGINE -S F > /dev/null` takes 3 to
    10 s on this machine (0.5 to 3 s with --quick), or `--formula`. The pipeline runs it with
    2 workers and the default split setting, with splitting off, and split into about 4
    parts per worker. (b) Every formula with up to 7 heavy atoms (6 with --quick), 2 workers,
    default settings.

The baseline is the generator run over exactly the tasks the pipeline plans (`plan_tasks`
with the same options), in the same order, on as many parallel processes as workers: a
shard in one process when the engine takes several formulae (its batch mode, probed:
exit 0 and one `>Z` line per formula), else one process per formula; upstream Surge always
one process per formula. Ratio bare/pipeline = the share of the generator's own speed the
pipeline delivers; on the wall clock (cluster and Redis start-up included) and on the work
span (first task start to last task end).

    .venv/bin/python benchmarks/overhead.py [--formula C11H14O] [--surge PATH] [--quick]

Writes benchmarks/out/overhead.csv and overhead.png.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from common import (
    Engine,
    Row,
    count_structures,
    engines,
    figure,
    formula_set,
    generator_argvs,
    generator_share,
    load_note,
    parser,
    report,
    run_bare,
    run_pipeline,
    runnable,
    save_figure,
    settings_for,
    warm_up,
    work_span,
)

from cloudsurge_dask.formulae.estimate import estimate_structures
from cloudsurge_dask.formulae.formula import Formula, parse_formula
from cloudsurge_dask.formulae.plan import PlanOptions, plan_tasks

CANDIDATES = ("C10H16O2", "C11H14O", "C10H13NO")
WORKERS = 2


def pick_formula(engine: Engine, low: float, high: float) -> tuple[str, list[Row]]:
    """The first candidate whose bare run takes low..high seconds (else the closest)."""
    measured: list[Row] = []
    for formula in CANDIDATES:
        structures, seconds = count_structures(engine, formula)
        measured.append({"formula": formula, "structures": structures, "bare s": seconds})
        print(f"candidate {formula}: {structures:,} structures in {seconds:.2f} s", flush=True)
        if low <= seconds <= high:
            return formula, measured
        if seconds > high:
            break
    middle = (low + high) / 2
    best = min(measured, key=lambda row: abs(row["bare s"] - middle))
    return str(best["formula"]), measured


def compare(engine: Engine, label: str, formulae: Sequence[Formula], flags: dict[str, int]) -> Row:
    """One pipeline run and its bare baseline over the same planned tasks."""
    settings = settings_for(engine, "unused", workers=WORKERS, **flags)
    options = PlanOptions(
        settings.split_structures, settings.shard_structures, settings.shard_formulae
    )
    tasks = plan_tasks(formulae, options)
    argvs = [
        argv for task in runnable(engine, tasks, formulae) for argv in generator_argvs(engine, task)
    ]
    bare = run_bare(argvs, WORKERS)
    outcome = run_pipeline(engine, formulae, workers=WORKERS, **flags)
    frame = outcome.records
    span = work_span(frame)
    structures = int(frame["structures"].sum())
    print(f"{engine.name} {label}: bare {bare:.2f} s, pipeline {outcome.seconds:.2f} s", flush=True)
    return {
        "engine": engine.name,
        "input": label,
        "split_structures": settings.split_structures,
        "tasks": len(tasks),
        "processes": len(argvs),
        "structures": structures,
        "bare s": bare,
        "pipeline s": outcome.seconds,
        "pipeline span s": span,
        "bare/pipeline": bare / outcome.seconds,
        "bare/pipeline (span)": bare / span,
        "generator share": generator_share(frame),
        "bytes/structure": float(frame["compressed_bytes"].sum()) / max(structures, 1),
    }


HOTPATH = Path(__file__).with_name("hotpath.py")
REPEATS = 3


def hot_path(engine: Engine, formula: str, cores: int, output: str | None = None) -> Row:
    """The generator streamed into the Sink in one process (`hotpath.py`) on `cores` CPUs
    (pinned with taskset), best of REPEATS. With one core the generator and compression
    share it, as each of 2 workers on this 2-core machine does; with two the compression
    overlaps generation on the spare core. bound = generator CPU / (generator CPU + the
    pipeline's own CPU): the most any arrangement with one core per worker can reach.
    `output` (a URL such as gs://bucket/prefix) replaces the temporary local folder."""
    pin = ["taskset", "-c", ",".join(str(c) for c in range(cores))]
    best: dict[str, float] = {}
    for attempt in range(REPEATS):
        with tempfile.TemporaryDirectory(
            dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        ) as out:
            target = f"{output.rstrip('/')}/{cores}-{attempt}" if output else out
            argv = [*pin, sys.executable, str(HOTPATH), engine.path, formula, target]
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
        run = json.loads(done.stdout.strip().splitlines()[-1])
        if not best or run["wall"] < best["wall"]:
            best = run
    generator, own = best["generator_cpu"], best["pipeline_cpu"]
    print(f"{engine.name} {formula} hot path on {cores} core(s): {best['wall']:.2f} s", flush=True)
    return {
        "engine": engine.name,
        "input": formula,
        "cores": cores,
        "output": "temporary folder" if output is None else output,
        "wall s": best["wall"],
        "generator CPU s": generator,
        "pipeline CPU s": own,
        "pipeline CPU / generator CPU": own / generator,
        "generator share": generator / best["wall"],
        "bound (1 core per worker)": generator / (generator + own),
        "bytes/structure": best["compressed_bytes"] / max(best["structures"], 1),
    }


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--formula", help="the large formula of part (a) (default: measured pick)")
    cli.add_argument("--max-heavy-atoms", type=int, default=7, help="the set of part (b)")
    cli.add_argument(
        "--hot-output",
        metavar="URL",
        help="also run the hot path writing here (say gs://bucket/prefix; with the GCS "
        "emulator set STORAGE_EMULATOR_HOST and GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false)",
    )
    args = cli.parse_args()
    chosen = engines(args)
    low, high = (0.5, 3.0) if args.quick else (3.0, 10.0)
    candidates: list[Row] = []
    if args.formula:
        large = args.formula
    else:
        large, candidates = pick_formula(chosen[0], low, high)
    heavy = 6 if args.quick else args.max_heavy_atoms
    small = formula_set(heavy, args.out)
    formula = parse_formula(large)
    estimate = estimate_structures(formula)
    quarter = max(1, int(estimate / (4 * WORKERS)))
    rows: list[Row] = []
    load = load_note()
    # the hot path first: a Dask cluster still shutting down would share the cores with it
    hot = [hot_path(engine, large, cores) for engine in chosen for cores in (1, 2)]
    if args.hot_output:
        hot += [hot_path(engine, large, 2, args.hot_output) for engine in chosen]
    for engine in chosen:
        warm_up(engine)
        rows.append(compare(engine, f"{large} default split", [formula], {}))
        rows.append(compare(engine, f"{large} split off", [formula], {"split_structures": 0}))
        rows.append(compare(
            engine, f"{large} ~{4 * WORKERS} parts", [formula], {"split_structures": quarter}
        ))  # fmt: skip
        rows.append(compare(engine, f"<= {heavy} heavy atoms", small, {}))
    notes = [
        load,
        f"large formula: {large} (estimated {estimate:,.0f} structures by the fitted model); "
        + ", ".join(f"{c['formula']} {c['bare s']:.2f} s" for c in candidates),
        f"{WORKERS} workers; batch mode: "
        + ", ".join(f"{e.name} {'yes' if e.batch else 'no'}" for e in chosen),
    ]
    report(args.out, "overhead", "overhead: pipeline vs bare generator", rows, notes)
    report(args.out, "hotpath", "hot path: one worker, generator -> sink, no Dask", hot, [
        "generator share = generator CPU / wall; bound = generator CPU / (generator CPU + "
        "pipeline CPU), the most one core per worker allows with this codec",
    ])  # fmt: skip
    fig, (axis,) = figure(1, 8.0)
    labels = [f"{row['engine']}\n{row['input']}" for row in rows]
    xs = range(len(rows))
    axis.bar([x - 0.2 for x in xs], [row["bare/pipeline"] for row in rows], 0.4, label="wall")
    axis.bar([x + 0.2 for x in xs], [row["bare/pipeline (span)"] for row in rows], 0.4,
             label="work span")  # fmt: skip
    axis.axhline(1.0, color="k", linestyle=":")
    axis.set_xticks(list(xs), labels, fontsize=7)
    axis.set(ylabel="bare seconds / pipeline seconds", title="share of generator speed")
    axis.legend()
    print(f"wrote {save_figure(fig, args.out, 'overhead')}")


if __name__ == "__main__":
    main()
