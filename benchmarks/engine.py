"""The built-in engine against upstream Surge, case by case (structures/s, peak memory, ratio).

Runs `ENGINE [-S] [OPTIONS] FORMULA > /dev/null` pinned to one core for every case of
CASES: the cases of issue #19's table (unfiltered, -T, the reference system's production
line, -B sets, -R), then each filter alone (-P; -t0 -f0; -B1 ... -B9) and SDfile output
(-F), on formulae that take Surge at least 0.2 s. With --surge the two engines run
alternately (ours, Surge, ours, Surge, ...: a change in the machine's load hits both), and
the table gives the medians and the ratio ours/Surge (lower is better; the target is
<= 0.9 everywhere). Times are the child's CPU seconds (user + system, from wait4), which
move far less than wall time on a shared machine; the wall medians are in the CSV. A case
whose structure count differs from Surge 2.0's (EXPECTED, or Surge's own line in this run)
gets no ratio.

Peak memory is the child's ru_maxrss. Linux carries the RSS high-water mark of a forked
Python (~10 MiB) across exec into the child's ru_maxrss, so when GNU time (/usr/bin/time,
Debian package `time`) exists the engine is started through it: its small process forks
the engine, whose ru_maxrss it prints. Otherwise the figure includes that Python baseline.
Last, the cost of one call for CH4 (start-up) over --calls calls.

    python benchmarks/engine.py [--surge /path/to/surge] [--repeat 5] [--quick] [--out DIR]
        [--only SUBSTRING] [--engine /path/to/another/cloudsurge-surge]

Writes benchmarks/out/engine.csv and prints the table as Markdown (`--quick`: one run per
case, issue #19's cases only).
"""

from __future__ import annotations

import csv
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import parser

from cloudsurge_dask.engine import engine_path

PRODUCTION = ("-P", "-T", "-B1,2,3,4,5,7,8,9", "-t0", "-f0")


@dataclass(frozen=True)
class Case:
    """One benchmark case; `expected` is the structure count Surge 2.0 reports (the last
    number of its >Z line)."""

    name: str
    options: tuple[str, ...]
    formula: str
    expected: int
    issue: bool = False  # one of issue #19's table

    @property
    def argv(self) -> list[str]:
        """SMILES unless the options pick another format."""
        fmt = () if any(o in ("-F", "-A", "-u") for o in self.options) else ("-S",)
        return [*fmt, *self.options, self.formula]


CASES = [
    Case("plain", (), "C8H11NO", 2123287, True),
    Case("plain", (), "C10H16O", 452458, True),
    Case("-T", ("-T",), "C10H14O2", 15172614, True),
    Case("production line", PRODUCTION, "C9H11NO", 461287, True),
    Case("production line", PRODUCTION, "C11H14O", 469784, True),
    Case("-B1,...,9", ("-B1,2,3,4,5,6,7,8,9",), "C10H16O", 278674, True),
    Case("-B1,2,3,4,5,7,8,9", ("-B1,2,3,4,5,7,8,9",), "C10H13NO", 33523240, True),
    Case("-R", ("-R",), "C9H12O", 338723, True),
    Case("-P", ("-P",), "C8H11NO", 2120571),
    Case("-t0 -f0", ("-t0", "-f0"), "C11H14O", 1752872),
    Case("-B1", ("-B1",), "C10H16O2", 4643406),
    Case("-B2", ("-B2",), "C10H16O2", 4478074),
    Case("-B3", ("-B3",), "C10H16O2", 4566306),
    Case("-B4", ("-B4",), "C10H16O2", 4671889),
    Case("-B5", ("-B5",), "C10H16O2", 4466562),
    Case("-B6", ("-B6",), "C10H16O2", 4627098),
    Case("-B7", ("-B7",), "C10H16O2", 4675073),
    Case("-B8", ("-B8",), "C10H16O2", 4665322),
    Case("-B9", ("-B9",), "C10H16O2", 3534497),
    Case("SDfile", ("-F",), "C10H16O", 452458),
]
Z_LINE = re.compile(r">Z \w+ [\d >-]*?(\d+) in")
GNU_TIME = Path("/usr/bin/time")


@dataclass
class Run:
    cpu: float  # user + system seconds of the child
    wall: float
    count: int  # structures from the >Z line, -1 when absent or the run failed
    rss_kib: int


def _pin_one_core() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})


def run_once(binary: str, argv: list[str]) -> Run:
    """One run of BINARY ARGV with stdout to /dev/null."""
    with open(os.devnull, "wb") as sink, tempfile.NamedTemporaryFile("r") as rss_file:
        cmd = [binary, *argv]
        if GNU_TIME.is_file():
            cmd = [str(GNU_TIME), "-f", "%M", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE, preexec_fn=_pin_one_core)
        assert proc.stderr is not None
        err = proc.stderr.read().decode(errors="replace")
        # wait4's usage covers the child and what it waited for (time's engine child)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = int(usage.ru_maxrss)
        if GNU_TIME.is_file():
            text = rss_file.read().strip()
            peak = int(text.splitlines()[-1]) if text else -1
    match = Z_LINE.search(err)
    count = int(match.group(1)) if match and proc.returncode == 0 else -1
    return Run(usage.ru_utime + usage.ru_stime, wall, count, peak)


def call_cost(binary: str, calls: int) -> float:
    """Seconds per call of `BINARY CH4` (one process each): the start-up a per-formula
    loop pays."""
    start = time.perf_counter()
    for _ in range(calls):
        subprocess.run([binary, "CH4"], capture_output=True, check=True)
    return (time.perf_counter() - start) / calls


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--repeat", type=int, default=5, help="alternating runs per case (median)")
    cli.add_argument("--calls", type=int, default=300, help="CH4 calls for the start-up cost")
    cli.add_argument("--only", default="", help="cases whose name or formula contains this")
    cli.add_argument(
        "--engine", metavar="PATH", help="this engine binary instead of the installed one"
    )
    args = cli.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)
    cases = [c for c in CASES if c.issue] if args.quick else CASES
    cases = [c for c in cases if args.only in c.name or args.only in c.formula]

    engines = {"cloudsurge-surge": args.engine or str(engine_path())}
    if args.surge:
        engines["surge"] = args.surge
    rows = []
    table = []
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    for case in cases:
        runs: dict[str, list[Run]] = {name: [] for name in engines}
        for _ in range(repeat):
            for name, binary in engines.items():  # alternating: ours, Surge, ours, ...
                runs[name].append(run_once(binary, case.argv))
        cpu: dict[str, float] = {}
        counts_ok = True
        for name, binary in engines.items():
            got = runs[name]
            cpu[name] = statistics.median(r.cpu for r in got)
            wall = statistics.median(r.wall for r in got)
            count = got[0].count
            ok = all(r.count == case.expected for r in got)
            counts_ok = counts_ok and ok
            rss = max(r.rss_kib for r in got)
            rate = count / cpu[name] if cpu[name] > 0 and count > 0 else 0.0
            rows.append(
                {
                    "engine": name,
                    "binary": binary,
                    "case": case.name,
                    "options": " ".join(case.argv[:-1]),
                    "formula": case.formula,
                    "structures": count,
                    "expected": case.expected,
                    "count_ok": ok,
                    "runs": repeat,
                    "cpu_seconds_median": f"{cpu[name]:.4f}",
                    "cpu_seconds_min": f"{min(r.cpu for r in got):.4f}",
                    "wall_seconds_median": f"{wall:.4f}",
                    "structures_per_cpu_s": f"{rate:.0f}",
                    "peak_rss_kib": rss,
                }
            )
            print(
                f"{name:18s} {case.name:18s} {case.formula:9s} {count:>9d} structures  "
                f"{cpu[name]:7.3f} s  {rate / 1e6:6.2f} M/s  peak RSS {rss / 1024:6.1f} MiB"
                + ("" if ok else f"  (expected {case.expected})")
            )
        ratio = ""
        if "surge" in cpu:
            ratio = f"{cpu['cloudsurge-surge'] / cpu['surge']:.2f}" if counts_ok else "n/a"
            print(f"{'':18s} ratio ours/surge {ratio}")
        table.append((case, cpu, ratio))
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
                "runs": 20 if args.quick else args.calls,
                "cpu_seconds_median": "",
                "cpu_seconds_min": "",
                "wall_seconds_median": f"{per_call:.6f}",
                "structures_per_cpu_s": "",
                "peak_rss_kib": "",
            }
        )
    print()
    print("| case | options | formula | structures | ours s | Surge s | ours/Surge |")
    print("|---|---|---|---:|---:|---:|---:|")
    for case, cpu, ratio in table:
        theirs = f"{cpu['surge']:.3f}" if "surge" in cpu else ""
        print(
            f"| {case.name} | `{' '.join(case.argv[:-1])}` | {case.formula} | "
            f"{case.expected:,} | {cpu['cloudsurge-surge']:.3f} | {theirs} | {ratio} |"
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
