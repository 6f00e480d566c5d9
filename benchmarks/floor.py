"""A whole run against the floor a user would build by hand, and the start of a tiny run.

(a) Every formula up to N heavy atoms (8 and 9 by default; 7 with --quick), in one
    process per planned task on 2 parallel slots, three ways, alternating, in one run:
    - **bare**: the engine to /dev/null (`xargs -P2 ENGINE -S BATCH`): the generator's speed;
    - **hand**: what a user would write, `xargs -P2 sh -c 'ENGINE -S BATCH | zstd -1 > FILE'`:
      the same output compressed, with nothing counted, checked, hashed or recorded;
    - **run**: `python -m cloudsurge_dask run --workers 2` with the default settings, in a
      fresh process (its wall time, imports, Redis and cluster start-up included): parts,
      manifests, counts checked, records.
    Ratios run/hand and run/bare come from the medians of `--repeats` rounds.
(b) A one-formula run (CH4) as a user starts it, `python -m cloudsurge_dask run --formulae
    FILE --output DIR` in a fresh process: wall seconds, median of 5.

    .venv/bin/python benchmarks/floor.py [--max-heavy 8,9] [--repeats 3] [--quick]

Writes benchmarks/out/floor.csv.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from common import (
    Engine,
    Row,
    engines,
    formula_set,
    generator_argvs,
    load_note,
    parser,
    report,
    run_bare,
    runnable,
    settings_for,
    stopwatch,
    warm_up,
)

from cloudsurge_dask.formulae.estimate import estimate_many
from cloudsurge_dask.formulae.formula import Formula
from cloudsurge_dask.formulae.plan import PlanOptions, plan_tasks

WORKERS = 2
ROOT = Path(__file__).resolve().parent.parent


def task_argvs(engine: Engine, formulae: Sequence[Formula]) -> list[list[str]]:
    """The generator command lines of the tasks a run plans with the default settings."""
    settings = settings_for(engine, "unused", workers=WORKERS)
    options = PlanOptions(
        settings.split_structures, settings.shard_structures, settings.shard_formulae,
        drains=WORKERS,
    )  # fmt: skip
    tasks = plan_tasks(formulae, options, [float(e) for e in estimate_many(list(formulae))])
    return [
        argv for task in runnable(engine, tasks, formulae) for argv in generator_argvs(engine, task)
    ]


def run_hand(argvs: Sequence[Sequence[str]], folder: Path) -> tuple[float, int]:
    """`xargs -P2 sh -c 'ENGINE ARGS | zstd -1 -q > FILE'`; (wall seconds, bytes written)."""
    if shutil.which("zstd") is None:
        raise SystemExit("the hand pipeline needs the zstd command: apt-get install zstd")
    folder.mkdir(parents=True, exist_ok=True)
    script = 'out=$1; shift; "$@" | zstd -1 -q > "$out"'
    lines = "".join(
        f"{folder / f'{i:06d}.smi.zst'} {' '.join(argv)}\n" for i, argv in enumerate(argvs)
    ).encode()
    with open(os.devnull, "wb") as devnull, stopwatch() as elapsed:
        done = subprocess.run(
            ["xargs", "-P", str(WORKERS), "-L", "1", "sh", "-c", script, "sh"],
            input=lines, stdout=devnull, stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    if done.returncode not in (0, 123):
        raise RuntimeError(f"hand pipeline: xargs exit {done.returncode}")
    written = sum(path.stat().st_size for path in folder.iterdir())
    shutil.rmtree(folder)
    return elapsed(), written


def run_cli(engine: Engine, max_heavy: int, out: Path) -> tuple[float, pd.DataFrame]:
    """`python -m cloudsurge_dask run` in a fresh process, as a user starts it (an in-process
    run would have its Dask workers import this script again); wall seconds and records."""
    with tempfile.TemporaryDirectory(prefix="run-") as scratch:
        argv = [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae",
                str(out / f"formulae_le{max_heavy}.txt"), "--output", scratch, "--quiet",
                "--workers", str(WORKERS), "--surge", engine.path]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSURGE_")}
        with stopwatch() as elapsed:
            done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"run failed: {done.stderr[-500:]}")
        job = done.stdout.strip().splitlines()[-1]
        return elapsed(), pd.read_parquet(Path(scratch) / job / "records.parquet")


def whole_runs(engine: Engine, max_heavy: int, repeats: int, out: Path) -> Row:
    formulae = formula_set(max_heavy, out)
    argvs = task_argvs(engine, formulae)
    bare, hand, run, spans = [], [], [], []
    structures = compressed = hand_bytes = 0
    for round_ in range(repeats):
        bare.append(run_bare(argvs, WORKERS))
        with tempfile.TemporaryDirectory(prefix="hand-") as scratch:
            seconds, hand_bytes = run_hand(argvs, Path(scratch) / "parts")
        hand.append(seconds)
        seconds, frame = run_cli(engine, max_heavy, out)
        run.append(seconds)
        spans.append((frame["finished"].max() - frame["started"].min()).total_seconds())
        structures = int(frame["structures"].sum())
        compressed = int(frame["compressed_bytes"].sum())
        print(
            f"<= {max_heavy} round {round_ + 1}: bare {bare[-1]:.2f} s, hand {hand[-1]:.2f} s, "
            f"run {run[-1]:.2f} s (span {spans[-1]:.2f} s)", flush=True,
        )  # fmt: skip
    median = statistics.median
    return {
        "workload": f"<= {max_heavy} heavy atoms",
        "formulae": len(formulae),
        "structures": structures,
        "bare s": median(bare),
        "hand s": median(hand),
        "run s": median(run),
        "run span s": median(spans),
        "run/hand": median(run) / median(hand),
        "run/bare": median(run) / median(bare),
        "bytes/structure": compressed / max(structures, 1),
        "hand bytes/structure": hand_bytes / max(structures, 1),
    }


def one_formula(repeats: int = 5) -> Row:
    """A fresh `python -m cloudsurge_dask run` of CH4, as a user types it."""
    walls = []
    with tempfile.TemporaryDirectory(prefix="start-") as scratch:
        formula_file = Path(scratch) / "ch4.txt"
        formula_file.write_text("CH4\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSURGE_")}
        for i in range(repeats):
            argv = [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae",
                    str(formula_file), "--output", f"{scratch}/out{i}", "--quiet"]  # fmt: skip
            with stopwatch() as elapsed:
                subprocess.run(argv, check=True, cwd=ROOT, env=env, capture_output=True)
            walls.append(elapsed())
    return {"workload": "one formula (CH4), fresh process", "run s": statistics.median(walls),
            "runs": repeats, "fastest s": min(walls)}  # fmt: skip


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--max-heavy", default="8,9", help="workloads, comma-separated")
    cli.add_argument("--repeats", type=int, default=3, help="alternating rounds per workload")
    args = cli.parse_args()
    note = load_note()
    engine = engines(args)[0]
    warm_up(engine)
    sizes = [7] if args.quick else [int(n) for n in args.max_heavy.split(",")]
    rows = [whole_runs(engine, n, 1 if args.quick else args.repeats, args.out) for n in sizes]
    rows.append(one_formula(3 if args.quick else 5))
    report(
        args.out,
        "floor",
        "A whole run against the hand pipeline and the bare engine",
        rows,
        [note, f"{WORKERS} workers / parallel slots; medians of alternating rounds"],
    )


if __name__ == "__main__":
    main()
