"""The reference system's worker output path against ours, on the same input.

The reference path, re-created faithfully: one generator process per formula; Python reads
its stdout line by line and writes each line into a `zipfile.ZipFile(...,
compression=ZIP_DEFLATED, compresslevel=6)` member; every `--part-lines` lines (default
10,000,000) the zip part, staged in a local temp dir, is closed, copied ("uploaded") to the
output folder and the staging file deleted. Ours: `run_job` with 1 worker (default codec,
zstd), and for the large formula also our sink driven directly (generator -> Sink, no
cluster, no Redis), all with the same part size.

Inputs: one large formula (default C10H16O2, 4.7 M structures) and every formula with up to
7 heavy atoms (6 with --quick). Parts are scaled down for small inputs: when the input's
largest formula has fewer than 2 x `--part-lines` structures, a part holds a quarter of it,
so every path still rolls over parts
(for a set of formulae: a quarter of its estimated total).

    .venv/bin/python benchmarks/reference.py [--formula C11H14O] [--part-lines N] [--quick]

Writes benchmarks/out/reference.csv and reference.png.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from common import (
    Engine,
    Row,
    count_structures,
    engines,
    figure,
    formula_set,
    load_note,
    parser,
    report,
    run_pipeline,
    save_figure,
    stopwatch,
    warm_up,
    work_span,
)

from cloudsurge_dask.formulae.estimate import estimate_many
from cloudsurge_dask.formulae.formula import Formula, parse_formula
from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import Generation
from cloudsurge_dask.output.codec import get_codec
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.storage import open_store


def reference_formula(
    engine: Engine, formula: str, part_lines: int, staging: Path, output: Path
) -> tuple[int, int]:
    """The reference worker on one formula: (structures, bytes uploaded)."""
    process = subprocess.Popen(
        [engine.path, "-S", formula], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    lines = uploaded = index = 0
    archive: zipfile.ZipFile | None = None
    member = None
    staged = staging / "part.zip"

    def upload() -> int:
        assert archive is not None and member is not None
        member.close()
        archive.close()
        target = output / f"{formula}.{index:05d}.zip"
        shutil.copyfile(staged, target)
        staged.unlink()
        return target.stat().st_size

    for line in process.stdout:
        if archive is None:
            archive = zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED, compresslevel=6)
            member = archive.open(f"{formula}.{index:05d}.smi", "w")
        assert member is not None
        member.write(line)
        lines += 1
        if lines % part_lines == 0:
            uploaded += upload()
            archive, member, index = None, None, index + 1
    if archive is not None:
        uploaded += upload()
    process.wait()
    return lines, uploaded


def reference_run(
    engine: Engine, formulae: Sequence[str], part_lines: int
) -> tuple[float, int, int]:
    """(seconds, structures, bytes) of the reference worker over the formulae in turn."""
    structures = size = 0
    with (
        tempfile.TemporaryDirectory(prefix="ref-stage-") as stage,
        tempfile.TemporaryDirectory(prefix="ref-out-") as out,
        stopwatch() as elapsed,
    ):
        for formula in formulae:
            lines, uploaded = reference_formula(engine, formula, part_lines, Path(stage), Path(out))
            structures += lines
            size += uploaded
    return elapsed(), structures, size


def sink_direct(engine: Engine, formula: str, part_lines: int) -> tuple[float, int, int]:
    """(seconds, structures, bytes) of our sink fed by the generator, no cluster or queue."""
    with tempfile.TemporaryDirectory(prefix="sink-") as out, stopwatch() as elapsed:
        sink = Sink(open_store(out), get_codec("zst"), part_lines)
        task = Task(formula)
        with Generation(engine.path, task) as generation:
            manifest = sink.write_task(task, generation.blocks())
    return elapsed(), manifest.structures, manifest.compressed_bytes


def part_size(structures: int, part_lines: int) -> int:
    """`part_lines`, or a quarter of the input's structures when it has fewer than twice that."""
    if structures >= 2 * part_lines:
        return part_lines
    return max(1, math.ceil(structures / 4))


def compare(
    engine: Engine, label: str, formulae: Sequence[Formula], structures: int, part_lines: int
) -> list[Row]:
    size = part_size(structures, part_lines)
    names = [f.hill for f in formulae]
    ref_seconds, ref_structures, ref_bytes = reference_run(engine, names, size)
    print(f"{engine.name} {label}: reference {ref_seconds:.1f} s", flush=True)
    outcome = run_pipeline(engine, formulae, workers=1, part_size=size)
    frame = outcome.records
    structures = int(frame["structures"].sum())
    if structures != ref_structures:
        raise RuntimeError(f"{label}: ours wrote {structures}, reference {ref_structures}")
    print(f"{engine.name} {label}: ours {outcome.seconds:.1f} s", flush=True)
    base = {"engine": engine.name, "input": label, "part lines": size, "structures": structures}
    ref_bps = ref_bytes / max(structures, 1)
    rows = [
        {**base, "path": "reference (zip, line by line)", "seconds": ref_seconds,
         "reference/this": 1.0, "bytes/structure": ref_bps},
        {**base, "path": "ours: run_job, 1 worker (wall)", "seconds": outcome.seconds,
         "reference/this": ref_seconds / outcome.seconds,
         "bytes/structure": float(frame["compressed_bytes"].sum()) / max(structures, 1)},
        {**base, "path": "ours: run_job, 1 worker (span)", "seconds": work_span(frame),
         "reference/this": ref_seconds / work_span(frame),
         "bytes/structure": float(frame["compressed_bytes"].sum()) / max(structures, 1)},
    ]  # fmt: skip
    if len(formulae) == 1:
        seconds, count, size_bytes = sink_direct(engine, names[0], size)
        rows.append({
            **base, "path": "ours: generator -> Sink directly", "seconds": seconds,
            "reference/this": ref_seconds / seconds, "bytes/structure": size_bytes / max(count, 1),
        })  # fmt: skip
    return rows


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--formula", default="C10H16O2", help="the large formula")
    cli.add_argument("--max-heavy-atoms", type=int, default=7)
    cli.add_argument("--part-lines", type=int, default=10_000_000)
    args = cli.parse_args()
    heavy = 6 if args.quick else args.max_heavy_atoms
    small = formula_set(heavy, args.out)
    large = parse_formula(args.formula)
    load = load_note()
    rows: list[Row] = []
    for engine in engines(args):
        warm_up(engine)
        count, _ = count_structures(engine, large.hill)
        rows += compare(engine, large.hill, [large], count, args.part_lines)
        total = round(float(estimate_many(small).sum()))
        rows += compare(engine, f"<= {heavy} heavy atoms", small, total, args.part_lines)
    report(
        args.out, "reference", "reference output path vs ours", rows,
        [load, "reference/this: how many times faster than the reference path (>1: faster)."],
    )  # fmt: skip
    fig, (axis,) = figure(1, 8.0)
    labels = [f"{row['input']}\n{row['path']}" for row in rows]
    axis.barh(range(len(rows)), [row["reference/this"] for row in rows])
    axis.set_yticks(range(len(rows)), labels, fontsize=7)
    axis.invert_yaxis()
    axis.set(xlabel="speed relative to the reference path", title="reference path vs ours")
    print(f"wrote {save_figure(fig, args.out, 'reference')}")


if __name__ == "__main__":
    main()
