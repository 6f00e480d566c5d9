"""Screening: the pipeline with screens against a bare RDKit loop, in the same run.

The bare loop is what a user would write with the same screens built once per process:
`Chem.MolFromSmiles` and the checks over the engine's SMILES, already in memory, split into
one contiguous share per process (multiprocessing, one process per core used). The pipeline
is `run_job` on the same formulae with the same screens, N drains with the default screening
processes (every core, shared by the drains); its rate is the structures generated over its
work span (first task start to last task end: cluster start-up excluded; generation,
screening, compression and storage included). Ratio pipeline/bare >= 0.9 is the target.
Beside the wall-clock rates, CPU microseconds per structure of the bare loop and of the
pipeline's screen stage (the records' `screen_cpu_seconds`): their ratio does not depend on
what else the machine runs. Cases: `np_likeness >= 1`, `catalog brenk`, and NP + SA + PAINS +
Brenk together; 1 and 2 processes. Also printed: the NP-likeness rate of one core alone
(target >= 10 k/s) and the peak memory of a screening process with every catalog and model
loaded (target < 500 MB).

    .venv/bin/python benchmarks/screen.py [--quick]

Writes benchmarks/out/screen.csv and screen.png.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Sequence

from common import (
    Engine,
    Row,
    builtin_path,
    figure,
    parser,
    report,
    run_pipeline,
    save_figure,
    work_span,
)

from cloudsurge_dask import Screener, ScreenSpec
from cloudsurge_dask.formulae.formula import parse_formula

CASES = {
    "np_likeness >= 1": ("np_likeness >= 1",),
    "catalog brenk": ("catalog brenk",),
    "NP + SA + PAINS + Brenk": ("np_likeness >= 1", "sa_score <= 6", "catalog pains",
                                "catalog brenk"),
}  # fmt: skip
FORMULAE = ("C7H8O", "C6H7NO")  # 13 k and 58 k structures
QUICK = ("C7H8O",)


def engine_output(formulae: Sequence[str]) -> list[bytes]:
    lines: list[bytes] = []
    for formula in formulae:
        run = subprocess.run([builtin_path(), "-S", formula], capture_output=True, check=True)
        lines.extend(run.stdout.splitlines())
    return lines


def _bare(args: tuple[tuple[str, ...], list[bytes]]) -> tuple[int, float, float]:
    """One process of the bare loop: its screens built first, then timed over its share."""
    screens, lines = args
    from rdkit import Chem, rdBase

    from cloudsurge_dask.screen.expression import evaluation_order, parse_screens
    from cloudsurge_dask.screen.screener import compile_screen

    rdBase.DisableLog("rdApp.*")
    parsed = parse_screens(screens)
    tests = [compile_screen(parsed[i]) for i in evaluation_order(parsed)]
    clock, cpu = time.perf_counter(), time.process_time()
    kept = 0
    for line in lines:
        mol = Chem.MolFromSmiles(line.decode())
        if mol is not None and all(test(mol) for test in tests):
            kept += 1
    return kept, time.perf_counter() - clock, time.process_time() - cpu


def bare_rate(
    screens: tuple[str, ...], lines: list[bytes], processes: int
) -> tuple[float, int, float]:
    """Structures per second of the bare loop on `processes` processes (the slowest's time),
    structures kept, and CPU microseconds per structure."""
    share = -(-len(lines) // processes)
    jobs = [(screens, lines[i * share : (i + 1) * share]) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_bare, jobs)
    cpu = sum(c for _, _, c in results) / len(lines) * 1e6
    return len(lines) / max(s for _, s, _ in results), sum(k for k, _, _ in results), cpu


def peak_memory() -> float:
    """MB of a screening process with every FilterCatalog (each by name; `all`, their union,
    would load each twice), the three models and a stereo expansion."""
    code = (
        "import resource; from cloudsurge_dask import Screener, ScreenSpec;"
        "from cloudsurge_dask.screen.expression import catalog_names;"
        "s = tuple(f'catalog {n}' for n in catalog_names() if n != 'all') + ('np_likeness >= -5', "
        "'sa_score <= 10', 'qed >= 0');"
        "Screener(ScreenSpec(s, stereo=True)).screen([b'CC(O)CN'] * 2048);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(run.stdout.split()[-1]) / 1024


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    formulae = QUICK if args.quick else FORMULAE
    lines = engine_output(formulae)
    chosen = [parse_formula(f) for f in formulae]
    rows: list[Row] = []
    engine = Engine("cloudsurge-surge", builtin_path(), True)
    for name, screens in CASES.items():
        for processes in (1, 2):
            bare, bare_kept, bare_cpu = bare_rate(screens, lines, processes)
            outcome = run_pipeline(
                engine, chosen, workers=processes, screen=screens
            )
            frame = outcome.records
            generated, kept = int(frame["generated"].sum()), int(frame["structures"].sum())
            if (generated, kept) != (len(lines), bare_kept):
                raise RuntimeError(f"{name}: pipeline {generated}/{kept}, bare {len(lines)}/"
                                   f"{bare_kept}")  # fmt: skip
            rate = generated / work_span(frame)
            screen_cpu = float(frame["screen_cpu_seconds"].sum()) / generated * 1e6
            rows.append({
                "case": name, "processes": processes, "structures": generated, "kept": kept,
                "bare per s": round(bare), "pipeline per s": round(rate),
                "pipeline / bare": round(rate / bare, 3),
                "bare CPU us": round(bare_cpu, 1), "screen stage CPU us": round(screen_cpu, 1),
                "CPU bare / stage": round(bare_cpu / screen_cpu, 3),
            })  # fmt: skip
    one = Screener(ScreenSpec(("np_likeness >= 1",)))
    sample = lines[:20_000]
    clock = time.process_time()
    one.screen(sample)
    np_rate = len(sample) / (time.process_time() - clock)
    memory = peak_memory()
    notes = [
        f"formulae {', '.join(formulae)}: {len(lines):,} structures; {multiprocessing.cpu_count()}"
        " cores",
        f"NP-likeness (parse + score) on one core: {np_rate:,.0f} structures/s",
        f"peak memory of a screening process with all {len(_catalogs())} catalogs, the three "
        f"models and --stereo: {memory:,.0f} MB",
    ]
    report(args.out, "screen", "Screening: pipeline against a bare RDKit loop", rows, notes)
    fig, (axis,) = figure()
    labels = [f"{r['case']}\n{r['processes']} proc" for r in rows]
    axis.barh(labels, [r["pipeline / bare"] for r in rows])
    axis.axvline(0.9, color="red", linestyle="--")
    axis.set_xlabel("pipeline / bare RDKit loop (structures per second)")
    print(f"wrote {save_figure(fig, args.out, 'screen')}")


def _catalogs() -> list[str]:
    from cloudsurge_dask.screen.expression import catalog_names

    return [name for name in catalog_names() if name != "all"]


if __name__ == "__main__":
    main()
