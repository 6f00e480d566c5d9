"""Measure structure counts and `-S` times with the engine, then refit the estimate model.

Counts come from the reference table (up to 7 heavy atoms) and from the engine's `-u`:
every formula with 8 heavy atoms and seeded samples with 9 to 12 (a run that would take
longer than `--timeout` seconds is killed and recorded as censored). Measurements are
cached in `benchmarks/out/estimate_counts.csv` and `estimate_timings.csv`, so a refit
after a model change costs seconds; `--remeasure` starts over.

The script reports held-out accuracy (a fit without the held-out 9-10 atom formulae, and
without any 11-12 atom formula, to show extrapolation), then fits the shipped model on all
the data and writes `cloudsurge_dask/formulae/estimate_model.json` plus predicted-vs-measured
CSV/PNG.

    .venv/bin/python benchmarks/fit_estimate.py [--engine PATH] [--jobs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Any

import numpy as np

from cloudsurge_dask.formulae.estimate import MODEL_PATH, TERMS, design, raw_matrix
from cloudsurge_dask.formulae.formula import Formula, max_hydrogens, parse_formula

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "out"
REFERENCE = (
    Path(os.environ.get("CLOUDSURGE_REFERENCE", ROOT.parent / "shared" / "reference"))
    / "surge_counts_le7.csv"
)
ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br", "I")
SAMPLES = {9: 2500, 10: 2000, 11: 400, 12: 250, 13: 150, 14: 150}  # and every one with 8
CORNER_ATOMS = range(9, 15)  # corners() of these sizes are measured too
PREFILTER_FROM = 11  # formulae this large are skipped when estimated above MAX_COUNTED
MAX_COUNTED = 3e7  # structures; the engine counts about 10 million a second
HELD_OUT = 0.3  # share of the 9-10 atom formulae kept out of the evaluation fit
TIMING_RUNS = 150
SEED = 20240611


def fit_counts(
    raw: np.ndarray, counts: np.ndarray, weights: np.ndarray | None = None
) -> list[float]:
    """Least-squares coefficients of log(count) on the TERMS; rows with count 0 are ignored."""
    keep = counts > 0
    a, b = design(raw[keep]), np.log(counts[keep])
    if weights is not None:
        a, b = a * weights[keep, None], b * weights[keep]
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return [float(c) for c in coef]


def fit_seconds(raw: np.ndarray, counts: np.ndarray, seconds: np.ndarray) -> dict[str, Any]:
    """Overhead per run (median of the tiny runs) and log seconds per structure on
    SECONDS_COLUMNS, from runs large enough for the output to dominate."""
    tiny = counts < 100
    overhead = float(np.median(seconds[tiny])) if tiny.any() else 0.0
    timed = (counts >= 10_000) & (seconds > overhead + 0.005)
    per_structure = np.log((seconds[timed] - overhead) / counts[timed])
    coef, *_ = np.linalg.lstsq(seconds_design(raw[timed]), per_structure, rcond=None)
    return {"overhead": overhead, "per_structure": [float(c) for c in coef]}


def seconds_design(raw: np.ndarray) -> np.ndarray:
    """The SECONDS_COLUMNS for rows of RAW_COLUMNS."""
    return np.column_stack([np.ones(len(raw)), raw[:, 0], raw[:, 5], raw[:, 1]])


def formulae_with(heavy_atoms: int) -> Iterator[Formula]:
    """Every formula with exactly this many heavy atoms, by the reference table's rule."""
    for combo in combinations_with_replacement(ELEMENTS, heavy_atoms):
        pairs = tuple(Counter(combo).items())
        for hydrogens in range(max_hydrogens(pairs), -1, -2):
            yield Formula(pairs, hydrogens)


def find_engine(explicit: str | None) -> str:
    """`--engine`, else `CLOUDSURGE_ENGINE`, else the installed built-in engine."""
    if explicit or os.environ.get("CLOUDSURGE_ENGINE"):
        return explicit or os.environ["CLOUDSURGE_ENGINE"]
    from cloudsurge_dask.engine import engine_path

    return str(engine_path())


def run_count(engine: str, formula: Formula, timeout: float) -> tuple[str, str, float]:
    """(count or 'timeout'/'error', formula, wall seconds) of `ENGINE -u FORMULA`."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [engine, "-u", formula.hill], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "timeout", formula.hill, timeout
    seconds = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0 or not lines or "->" not in lines[-1]:
        return "error", formula.hill, seconds
    return lines[-1].split("->")[2].split()[0], formula.hill, seconds


def run_timing(engine: str, formula: str) -> tuple[str, int, float]:
    """(formula, structures, CPU seconds of the child) of `ENGINE -S FORMULA` into a pipe."""
    process = subprocess.Popen(
        [engine, "-S", formula], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    lines = 0
    while chunk := process.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
    process.stderr.read()
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    return formula, lines, usage.ru_utime + usage.ru_stime


def load_reference() -> dict[str, tuple[str, float]]:
    """Hill formula -> (count or 'error', 0 s) for the plain rows of the reference table."""
    table: dict[str, tuple[str, float]] = {}
    with open(REFERENCE, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["options"]:
                table[parse_formula(row["formula"]).hill] = (row["count"], 0.0)
    return table


def corners(heavy_atoms: int) -> list[Formula]:
    """Formulae with at most one atom other than carbon: the edge of the feature space
    (hydrocarbons, one heteroatom) that random samples almost never hit."""
    chosen = []
    for k in range(2):
        for hetero in combinations_with_replacement(ELEMENTS[1:], k):
            pairs = tuple(Counter(("C",) * (heavy_atoms - k) + hetero).items())
            chosen += [Formula(pairs, h) for h in range(max_hydrogens(pairs), -1, -2)]
    return chosen


def read_cache(path: Path) -> dict[str, tuple[str, float]]:
    if not path.exists():
        return {}
    with open(path, newline="") as handle:
        return {r["formula"]: (r["count"], float(r["seconds"])) for r in csv.DictReader(handle)}


def count_all(
    engine: str, jobs: int, timeout: float, formulae: list[Formula], path: Path
) -> dict[str, tuple[str, float]]:
    """Count the formulae not yet in the cache file, appending each result as it comes."""
    cached = read_cache(path)
    todo = list({f.hill: f for f in formulae if f.hill not in cached}.values())
    if not todo:
        return cached
    print(f"measuring {len(todo)} counts with {engine} ({jobs} jobs)", flush=True)
    fresh = not path.exists()
    with open(path, "a", newline="") as handle, ThreadPoolExecutor(jobs) as pool:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(["formula", "count", "seconds"])
        results = pool.map(lambda f: run_count(engine, f, timeout), todo)
        for i, (count, hill, seconds) in enumerate(results, 1):
            cached[hill] = (count, seconds)
            writer.writerow([hill, count, f"{seconds:.4f}"])
            if i % 200 == 0:
                handle.flush()
                print(f"  {i}/{len(todo)}", flush=True)
    return cached


def as_counts(cached: dict[str, tuple[str, float]]) -> dict[str, int]:
    """Reference plus measured counts: Hill -> count, -1 when censored by the timeout."""
    table = {h: c for h, (c, _) in (load_reference() | cached).items()}
    return {h: (-1 if c == "timeout" else int(c)) for h, c in table.items() if c != "error"}


def measure_counts(engine: str, jobs: int, timeout: float, path: Path) -> dict[str, int]:
    """Hill -> count (-1 when censored), measuring only what is not cached.

    Up to PREFILTER_FROM - 1 heavy atoms everything sampled is run; above, a preliminary
    fit on those counts skips formulae estimated above MAX_COUNTED (they would take longer
    than the timeout). The skip depends on the features only, so it does not bias the fit.
    """
    rng = random.Random(SEED)
    samples = {k: rng.sample(list(formulae_with(k)), n) for k, n in SAMPLES.items()}
    small = list(formulae_with(8)) + [
        f for k, s in samples.items() if k < PREFILTER_FROM for f in s
    ]
    table = as_counts(count_all(engine, jobs, timeout, small, path))
    hills = [h for h, c in table.items() if c > 0]
    raw, _ = raw_matrix(parse_formula(h) for h in hills)
    coef = fit_counts(raw, np.array([table[h] for h in hills], dtype=float), np.sqrt(raw[:, 0]))
    large = [f for k, s in samples.items() if k >= PREFILTER_FROM for f in s]
    large += [f for k in CORNER_ATOMS for f in corners(k)]
    raw, feasible = raw_matrix(large)
    keep = feasible & (design(raw) @ np.asarray(coef) < math.log(MAX_COUNTED))
    print(f"{int(keep.sum())} of {len(large)} formulae with {PREFILTER_FROM}+ atoms are countable")
    chosen = [f for f, k in zip(large, keep, strict=True) if k]
    return as_counts(count_all(engine, jobs, timeout, chosen, path))


def measure_timings(
    engine: str, counts: dict[str, int], path: Path
) -> list[tuple[str, int, float]]:
    """(formula, structures, seconds) of `-S` runs over a log-uniform spread of sizes."""
    if path.exists():
        with open(path, newline="") as handle:
            return [
                (r["formula"], int(r["structures"]), float(r["seconds"]))
                for r in csv.DictReader(handle)
            ]
    rng = random.Random(SEED + 1)
    pool = [(h, c) for h, c in counts.items() if 0 < c < 10_000_000]
    bins: dict[int, list[str]] = {}
    for hill, count in pool:
        bins.setdefault(int(math.log10(count) * 2), []).append(hill)
    chosen: list[str] = []
    while len(chosen) < TIMING_RUNS and any(bins.values()):
        for members in bins.values():
            if members:
                chosen.append(members.pop(rng.randrange(len(members))))
    print(f"timing {len(chosen)} -S runs (one at a time)", flush=True)
    rows = [run_timing(engine, hill) for hill in chosen]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["formula", "structures", "seconds"])
        writer.writerows((h, n, f"{s:.5f}") for h, n, s in rows)
    return rows


def ratio_errors(predicted: np.ndarray, measured: np.ndarray) -> dict[str, float]:
    """Median and 90th percentile of max(p/m, m/p), and the geometric-mean bias p/m."""
    log_ratio = np.log(predicted) - np.log(measured)
    errors = np.exp(np.abs(log_ratio))
    return {
        "n": len(measured),
        "median": round(float(np.median(errors)), 3),
        "p90": round(float(np.percentile(errors, 90)), 3),
        "max": round(float(errors.max()), 2),
        "bias": round(float(np.exp(log_ratio.mean())), 3),
    }


def plot(path: Path, measured: np.ndarray, predicted: np.ndarray, atoms: np.ndarray) -> None:
    """Predicted vs measured on log axes, coloured by heavy atoms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    points = ax.scatter(measured, predicted, c=atoms, s=3, cmap="viridis", alpha=0.6)
    limits = [1, max(measured.max(), predicted.max()) * 2]
    ax.plot(limits, limits, "k-", lw=0.8)
    ax.plot(limits, [2 * v for v in limits], "k:", lw=0.8)
    ax.plot(limits, [v / 2 for v in limits], "k:", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="measured structures (-u)")
    ax.set(ylabel="estimated structures", title="estimate_structures (dotted: factor 2)")
    fig.colorbar(points, label="heavy atoms")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", help="generator executable (default: the built-in engine)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel -u runs")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per -u run")
    parser.add_argument("--remeasure", action="store_true", help="ignore cached measurements")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    counts_csv, timings_csv = OUT / "estimate_counts.csv", OUT / "estimate_timings.csv"
    if args.remeasure:
        counts_csv.unlink(missing_ok=True)
        timings_csv.unlink(missing_ok=True)
    engine = find_engine(args.engine)
    table = measure_counts(engine, args.jobs, args.timeout, counts_csv)
    censored = [parse_formula(h) for h, c in table.items() if c < 0]
    hills = [h for h, c in table.items() if c >= 0]
    formulae = [parse_formula(h) for h in hills]
    counts = np.array([table[h] for h in hills], dtype=float)
    raw, feasible = raw_matrix(formulae)
    atoms = raw[:, 0]
    weights = atoms  # larger formulae matter more for splitting
    rng = np.random.default_rng(SEED)
    held = (atoms >= 9) & (atoms <= 10) & (rng.random(len(atoms)) < np.float64(HELD_OUT))
    extrapolated = atoms >= 11
    train = ~held & ~extrapolated
    corner = np.array([sum(k for e, k in f.counts if e != "C") <= 1 for f in formulae])
    positive = counts > 0
    zeros = int((~positive).sum())
    print(f"{len(formulae)} measured formulae ({zeros} with no structure, "
          f"{int((~feasible & ~positive).sum())} of them flagged infeasible by the features, "
          f"{int((~feasible & positive).sum())} wrongly); {len(censored)} censored")  # fmt: skip

    evaluation = fit_counts(raw[train], counts[train], weights[train])
    held_prediction = np.exp(design(raw) @ np.asarray(evaluation))
    report: dict[str, Any] = {}
    for name, mask in {
        "train <=7": train & (atoms <= 7),
        "train 8": train & (atoms == 8),
        "held-out 9-10": held,
        **{f"extrapolated {k}": extrapolated & (atoms == k) for k in range(11, 15)},
        "extrapolated 11-14, corners": extrapolated & corner,
    }.items():
        mask = mask & positive
        report[name] = ratio_errors(held_prediction[mask], counts[mask])
        print(f"evaluation fit, {name:16s} {report[name]}")

    final = fit_counts(raw, counts, weights)
    prediction = np.exp(design(raw) @ np.asarray(final)) * feasible
    for k in sorted(set(atoms.astype(int))):
        mask = (atoms == k) & positive
        report[f"final fit, {k} atoms"] = ratio_errors(prediction[mask], counts[mask])
    print("final fit:", {k: (v["median"], v["p90"]) for k, v in report.items() if "final" in k})
    censored_raw, _ = raw_matrix(censored)
    censored_estimate = np.exp(design(censored_raw) @ np.asarray(final))
    for formula, value in zip(censored, censored_estimate, strict=True):
        print(f"censored (> {args.timeout:g} s): {formula.hill} estimated {value:.3g}")

    timings = measure_timings(engine, table, timings_csv)
    t_formulae = [parse_formula(h) for h, _, _ in timings]
    t_raw, _ = raw_matrix(t_formulae)
    t_counts = np.array([c for _, c, _ in timings], dtype=float)
    t_seconds = np.array([s for _, _, s in timings])
    seconds = fit_seconds(t_raw, t_counts, t_seconds)
    t_log_counts = design(t_raw) @ np.asarray(final)  # as estimate_seconds sees them
    per_structure = seconds_design(t_raw) @ np.asarray(seconds["per_structure"])
    t_pred = seconds["overhead"] + np.exp(t_log_counts + per_structure)
    sizable = t_seconds > 0.05
    report["seconds (runs > 0.05 s)"] = ratio_errors(t_pred[sizable], t_seconds[sizable])
    print(f"seconds: {seconds}; {report['seconds (runs > 0.05 s)']}")

    model_path = ROOT / "cloudsurge_dask" / MODEL_PATH.name  # the source tree, not the install
    model = {
        "about": "log(count) least squares; see cloudsurge_dask/estimate.py and "
        "benchmarks/fit_estimate.py",
        "terms": list(TERMS),
        "count": final,
        "seconds": seconds,
        "fitted_on": {str(k): int(((atoms == k) & positive).sum()) for k in sorted(set(atoms))},
        "accuracy": report,
    }
    model_path.write_text(json.dumps(model, indent=1) + "\n")
    with open(OUT / "estimate_predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["formula", "heavy_atoms", "measured", "estimated", "evaluation_fit", "set"]
        )
        for i, hill in enumerate(hills):
            role = "held-out" if held[i] else "extrapolated" if extrapolated[i] else "train"
            writer.writerow([hill, int(atoms[i]), int(counts[i]), f"{prediction[i]:.4g}",
                             f"{held_prediction[i]:.4g}", role])  # fmt: skip
    plot(OUT / "estimate_predictions.png", counts[positive], prediction[positive], atoms[positive])
    print(f"wrote {model_path} and {OUT}/estimate_predictions.{{csv,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
