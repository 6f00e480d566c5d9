"""Structures per second of the built-in engine (and optionally another Surge binary).

Runs `ENGINE -S [OPTIONS] FORMULA > /dev/null` pinned to one core, best of --repeat runs,
for the cases of CASES: unfiltered C8H11NO (2,123,287 structures) and C10H16O (452,458),
the reference system's production line on C9H11NO, -R on C9H12O and every -B set on
C10H16O; then the cost of one call for CH4 (start-up) over --calls calls. With --surge
each case runs on both engines one after the other and the ratio is printed (time of
ours over time of Surge's: below 1.2 is the target under filters). Peak memory is the child's
ru_maxrss (the figure getrusage(RUSAGE_CHILDREN) reports), taken per run. Linux carries
the RSS high-water mark of a forked Python (~10 MiB) across exec into the child's
ru_maxrss, so when GNU time (/usr/bin/time, Debian package `time`) exists the engine is
started through it: its small process forks the engine, whose ru_maxrss it prints.
Otherwise os.wait4 is used and the figure includes that Python baseline.

    python benchmarks/engine.py [--surge /path/to/surge] [--repeat 3] [--quick] [--out DIR]

Writes benchmarks/out/engine.csv (`--quick`: one run per formula).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from common import parser

from cloudsurge_dask.engine import engine_path

# (name, options, formula, structures Surge 2.0 reports)
CASES = [
    ("plain", (), "C8H11NO", 2123287),
    ("plain", (), "C10H16O", 452458),
    ("production", ("-P", "-T", "-B1,2,3,4,5,7,8,9", "-t0", "-f0"), "C9H11NO", 461287),
    ("aromatic", ("-R",), "C9H12O", 338723),
    ("all B sets", ("-B1,2,3,4,5,6,7,8,9",), "C10H16O", 278674),
]
Z_LINE = re.compile(r">Z \w+ [\d >-]*?(\d+) in")
GNU_TIME = Path("/usr/bin/time")


def _pin_one_core() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})


def run_once(binary: str, options: tuple[str, ...], formula: str) -> tuple[float, int, int]:
    """One run: (wall seconds, structures from the >Z line or -1, peak RSS KiB)."""
    with open(os.devnull, "wb") as sink, tempfile.NamedTemporaryFile("r") as rss_file:
        argv = [binary, "-S", *options, formula]
        if GNU_TIME.is_file():
            argv = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *argv]
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=sink,
            stderr=subprocess.PIPE,
            preexec_fn=_pin_one_core,
        )
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = int(usage.ru_maxrss)
        if GNU_TIME.is_file():
            text = rss_file.read().strip()
            peak = int(text.splitlines()[-1]) if text else -1
    match = Z_LINE.search(err)
    count = int(match.group(1)) if match and proc.returncode == 0 else -1
    return seconds, count, peak


def call_cost(binary: str, calls: int) -> float:
    """Seconds per call of `BINARY CH4` (one process each): the start-up a per-formula
    loop pays."""
    start = time.perf_counter()
    for _ in range(calls):
        subprocess.run([binary, "CH4"], capture_output=True, check=True)
    return (time.perf_counter() - start) / calls


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    cli.add_argument("--calls", type=int, default=300, help="CH4 calls for the start-up cost")
    args = cli.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)

    engines = {"cloudsurge-surge": str(engine_path())}
    if args.surge:
        engines["surge"] = args.surge
    rows = []
    for case, options, formula, expected in CASES:
        seconds_of: dict[str, float] = {}
        counts_ok = True
        for name, binary in engines.items():
            runs = [run_once(binary, options, formula) for _ in range(repeat)]
            seconds = min(r[0] for r in runs)
            seconds_of[name] = seconds
            count = runs[0][1]
            counts_ok = counts_ok and count == expected
            rss = max(r[2] for r in runs)
            rate = count / seconds if seconds > 0 and count > 0 else 0.0
            rows.append(
                {
                    "engine": name,
                    "binary": binary,
                    "case": case,
                    "options": " ".join(options),
                    "formula": formula,
                    "structures": count,
                    "expected": expected,
                    "count_ok": count == expected,
                    "seconds": f"{seconds:.4f}",
                    "structures_per_s": f"{rate:.0f}",
                    "peak_rss_kib": rss,
                }
            )
            print(
                f"{name:18s} {case:11s} {formula:8s} {count:>9d} structures  {seconds:7.3f} s  "
                f"{rate / 1e6:6.2f} M/s  peak RSS {rss / 1024:6.1f} MiB"
                + ("" if count == expected else f"  (expected {expected})")
            )
        if "surge" in seconds_of:
            ratio = seconds_of["cloudsurge-surge"] / seconds_of["surge"]
            verdict = f"{ratio:.2f}" if counts_ok else "n/a (a count differs)"
            print(f"{'':18s} ratio ours/surge {verdict}")
    for name, binary in engines.items():
        per_call = call_cost(binary, 20 if args.quick else args.calls)
        print(f"{name:18s} one call for CH4: {per_call * 1e3:.2f} ms")
        rows.append(
            {
                "engine": name,
                "binary": binary,
                "case": "start-up",
                "options": "",
                "formula": "CH4",
                "structures": 1,
                "expected": 1,
                "count_ok": True,
                "seconds": f"{per_call:.6f}",
                "structures_per_s": "",
                "peak_rss_kib": "",
            }
        )
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "engine.csv"
    with open(target, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
