"""Shared helpers of the throughput benchmarks (pods, overhead, reference, simulate).

Every benchmark takes `--surge PATH` (run upstream Surge side by side with the built-in
engine), `--quick` (a smaller workload for a smoke run) and `--out DIR` (default
`benchmarks/out/`), prints one table of ratios measured in the same run, and writes the
table as CSV plus a PNG plot (matplotlib, Agg backend).

Run them from the repository root with the package on the path, for example
`.venv/bin/python benchmarks/pods.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cloudsurge_dask.formulae.formula import Formula
from cloudsurge_dask.formulae.source import read_formula_file, write_formula_file
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.settings import DEFAULT_ELEMENTS, Settings

OUT = Path(__file__).resolve().parent / "out"
BUILTIN = "cloudsurge-surge"
UPSTREAM = "surge"
Row = dict[str, Any]


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark shares; scripts add their own."""
    parsed = argparse.ArgumentParser(description=description)
    parsed.add_argument(
        "--surge", metavar="PATH", help="also run upstream Surge (this binary) side by side"
    )
    parsed.add_argument("--quick", action="store_true", help="a small workload (smoke run)")
    parsed.add_argument("--out", type=Path, default=OUT, help="directory for CSV and PNG")
    return parsed


@dataclass(frozen=True)
class Engine:
    """A generator to benchmark: its label, executable, and whether it takes several
    formulae in one process (the built-in engine's batch mode, probed, not assumed)."""

    name: str
    path: str
    batch: bool


def builtin_path() -> str:
    from cloudsurge_dask.engine import engine_path

    return str(engine_path())


def probe_batch(executable: str) -> bool:
    """True when `EXE -S F1 F2 F3` exits 0 and prints one `>Z` summary per formula."""
    done = subprocess.run(
        [executable, "-S", "CH4", "C2H6", "CH4O"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
    )
    summaries = [line for line in done.stderr.splitlines() if line.startswith(b">Z")]
    return done.returncode == 0 and len(summaries) == 3


def engines(args: argparse.Namespace) -> list[Engine]:
    """The built-in engine, plus upstream Surge when `--surge` names it."""
    chosen = [Engine(BUILTIN, builtin_path(), False)]
    if args.surge:
        chosen.append(Engine(UPSTREAM, str(Path(args.surge).resolve()), False))
    return [Engine(e.name, e.path, probe_batch(e.path)) for e in chosen]


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed:` ... `elapsed()` gives seconds so far (frozen at exit)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def formula_set(max_heavy_atoms: int, out: Path) -> list[Formula]:
    """Every formula with 1..N heavy atoms over the default elements, enumerated once by CDK
    and cached in a formula file (`out/formulae_le<N>.txt`), which later runs read back."""
    path = out / f"formulae_le{max_heavy_atoms}.txt"
    if not path.is_file():
        from cloudsurge_dask.formulae.source import generate_formulae

        out.mkdir(parents=True, exist_ok=True)
        write_formula_file(generate_formulae(max_heavy_atoms, DEFAULT_ELEMENTS), str(path))
    return read_formula_file(str(path))


def settings_for(engine: Engine, output: str, **flags: Any) -> Settings:
    """Pipeline settings with the defaults, no environment, and this engine named explicitly
    (without `--surge` the pipeline would prefer a `surge` found on PATH)."""
    return Settings.build({"surge": engine.path, "output": output, **flags}, env={})


def run_pipeline(engine: Engine, formulae: Sequence[Formula], **flags: Any) -> Any:
    """`run_job` into a temporary output folder (removed afterwards); returns the Outcome."""
    from cloudsurge_dask.run.job import run_job

    with tempfile.TemporaryDirectory(prefix="bench-") as output:
        outcome = run_job(settings_for(engine, output, **flags), formulae, quiet=True)
    if not outcome.ok:
        failed = outcome.records[outcome.records["status"] == "failed"]
        raise RuntimeError(f"pipeline run failed: {failed[['task', 'error']].head()}")
    return outcome


def busy_seconds(records: pd.DataFrame) -> float:
    """Sum over tasks of the worker's busy time (formulae of a shard share one span)."""
    spans = records.groupby("task").agg(started=("started", "first"), finished=("finished", "max"))
    return float((spans["finished"] - spans["started"]).dt.total_seconds().sum())


def generator_share(records: pd.DataFrame, column: str = "generator_cpu_seconds") -> float:
    """Records' generator seconds over the workers' busy time: by default its CPU seconds
    (the time really spent generating); `generator_seconds` (its wall time) also counts
    waits on a full pipe or for a core, so it over-states the share on a loaded machine."""
    busy = busy_seconds(records)
    return float(records[column].sum()) / busy if busy > 0 else 0.0


def work_span(records: pd.DataFrame) -> float:
    """First task start to last task end: the run without cluster and Redis start-up."""
    return float((records["finished"].max() - records["started"].min()).total_seconds())


def generator_argvs(engine: Engine, task: Task, options: Sequence[str] = ()) -> list[list[str]]:
    """The bare generator command lines of one task: a shard in one process only when the
    engine takes several formulae, else one process per formula."""
    base = [engine.path, *options, *task.split_options, "-S"]
    if engine.batch or len(task.formulae) == 1:
        return [[*base, *task.formulae]]
    return [[*base, formula] for formula in task.formulae]


def refuses(engine: Engine, formula: str) -> bool:
    """Whether the generator exits non-zero on the formula alone."""
    done = subprocess.run([engine.path, "-u", formula], capture_output=True, check=False)
    return done.returncode != 0


def runnable(engine: Engine, tasks: Sequence[Task], formulae: Sequence[Formula]) -> list[Task]:
    """The tasks without the formulae the generator refuses outright (C2): they produce
    nothing, and the pipeline sets them aside after one refusal, so bare batches leave them
    out (a batch stops at the first refused formula)."""
    from cloudsurge_dask.formulae.estimate import estimate_structures

    refused = {f.hill for f in formulae if estimate_structures(f) == 0 and refuses(engine, f.hill)}
    return [Task.shard([f for f in t.formulae if f not in refused]) if t.members else t
            for t in tasks if not (set(t.formulae) <= refused)]  # fmt: skip


def run_bare(argvs: Sequence[Sequence[str]], processes: int) -> float:
    """Run the command lines on `processes` parallel slots in the given order, stdout to
    /dev/null; returns wall seconds. `xargs -P` starts them, so no Python runs between two
    generator processes. A formula the generator refuses (such as C2: exit 1 with a `>E`
    line) is fine; any other failure raises."""
    if not argvs:
        return 0.0
    executable = argvs[0][0]
    if any(argv[0] != executable for argv in argvs):
        raise ValueError("run_bare runs one executable")
    lines = "".join(" ".join(argv[1:]) + "\n" for argv in argvs).encode()
    expected = sum(len(argv) - 1 - argv.index("-S") for argv in argvs)
    with open(os.devnull, "wb") as devnull, stopwatch() as elapsed:
        done = subprocess.run(
            ["xargs", "-P", str(max(1, processes)), "-L", "1", executable],
            input=lines, stdout=devnull, stderr=subprocess.PIPE, check=False,
        )  # fmt: skip
    summaries = sum(1 for line in done.stderr.splitlines() if line.startswith((b">Z", b">E")))
    if done.returncode not in (0, 123) or summaries < expected:
        raise RuntimeError(
            f"bare generator: xargs exit {done.returncode}, {summaries} of {expected} summaries: "
            f"{done.stderr[-300:]!r}"
        )
    return elapsed()


def count_structures(engine: Engine, formula: str) -> tuple[int, float]:
    """(structures, wall seconds) of `ENGINE -S FORMULA > /dev/null`."""
    with open(os.devnull, "wb") as devnull, stopwatch() as elapsed:
        done = subprocess.run(
            [engine.path, "-S", formula], stdin=subprocess.DEVNULL, stdout=devnull,
            stderr=subprocess.PIPE, check=True,
        )  # fmt: skip
    for line in done.stderr.splitlines():
        if line.startswith(b">Z"):
            return int(line.split(b"->")[-1].split()[0]), elapsed()
    raise RuntimeError(f"{engine.path} printed no >Z line for {formula}")


def load_note() -> str:
    """The machine's load when a benchmark starts: other processes skew absolute times."""
    one, five, _ = os.getloadavg()
    return f"load average at start: {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def warm_up(engine: Engine) -> None:
    """One tiny pipeline run, so the first measured run pays no cold imports and caches."""
    from cloudsurge_dask.formulae.formula import parse_formula

    run_pipeline(engine, [parse_formula("CH4")], workers=1)


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or math.isnan(value):
            return f"{value:g}"
        magnitude = abs(value)
        if magnitude >= 1e6:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.0f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        if magnitude >= 0.001:
            return f"{value:.3f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Sequence[Row], columns: Sequence[str] | None = None) -> str:
    """A Markdown table (prints well in a terminal, pastes into the README)."""
    if not rows:
        return "(no rows)"
    names = list(columns or dict.fromkeys(key for row in rows for key in row))
    cells = [[fmt(row.get(name, "")) for name in names] for row in rows]
    widths = [max(len(name), *(len(r[i]) for r in cells)) for i, name in enumerate(names)]
    line = "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([line, rule, *body])


def write_csv(out: Path, name: str, rows: Sequence[Row]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    names: list[str] = []
    for row in rows:
        names.extend(key for key in row if key not in names)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def figure(ncols: int = 1, width: float = 6.0) -> tuple[Any, Any]:
    """A matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.2), squeeze=False)
    return fig, axes[0]


def save_figure(fig: Any, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def report(
    out: Path, name: str, title: str, rows: Sequence[Row], notes: Sequence[str] = ()
) -> None:
    """Print the table (with notes) and write it as CSV."""
    print(f"\n## {title}\n")
    print(table(rows))
    for note in notes:
        print(f"\n{note}")
    print(f"\nwrote {write_csv(out, name, rows)}")
