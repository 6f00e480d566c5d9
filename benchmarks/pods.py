"""Scaling with workers: the same workload on 1, 2, ... local Dask workers ("pods").

The workload is every formula with 1..N heavy atoms (default 7: 9,660 formulae, 2,410,888
structures), enumerated once by CDK into a formula file. For each engine and worker count:
wall seconds of `run_job` (cluster and Redis start-up included), speedup and efficiency
against 1 worker, the records' generator share of worker time (generator seconds over the
summed busy span of each task), structures/s and compressed bytes/structure.

Each count runs `--repeat` times (default 3; the best wall time and the run with the best
span are kept: the whole workload is about a second of work, so one run is noisy), and
that on all cores and pinned (sched_setaffinity, inherited by the Dask
workers, Redis and the generators) to one core per worker, as pods with one vCPU each
would be: on all cores a single worker already uses the second core for compression, so
its speedup understates what adding a pod gives.

    .venv/bin/python benchmarks/pods.py [--max-heavy-atoms 7] [--workers 1,2] [--surge PATH]
    .venv/bin/python benchmarks/pods.py --quick      # 6 heavy atoms
    .venv/bin/python benchmarks/pods.py --cluster kubernetes [--max-heavy-atoms 8]

Writes benchmarks/out/pods.csv and pods.png.

With `--cluster kubernetes` the same formulae run on real pods of the test Kubernetes of
scripts/test-kubernetes.sh (started if it is down, as `pytest -m kubernetes` does, and the
namespace, Redis and emulator of tests/support/kubetest.py), as a user outside the cluster
runs them (the Role's ServiceAccount, --redis-forward, output gs:// on the GCS emulator): 1
pod, 2 pods, and 1 pod with --processes-per-pod 2, each pod asking 250m CPU so that all fit
beside the scheduler and Redis on 2 cores (the test cluster does not enforce CPU limits, so
a pod uses the cores left free). Wall s includes the DaskCluster's start; the work span and
the generator share per pod come from the records. Writes benchmarks/out/pods_kubernetes.csv.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from common import (
    Row,
    engines,
    figure,
    formula_set,
    generator_share,
    load_note,
    parser,
    report,
    run_pipeline,
    save_figure,
    warm_up,
    work_span,
)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--max-heavy-atoms", type=int, default=7)
    cli.add_argument(
        "--workers", default=None, help="comma-separated worker counts (default 1..cores, >=2)"
    )
    cli.add_argument("--repeat", type=int, default=3, help="runs per count; the best is kept")
    cli.add_argument("--cluster", choices=("local", "kubernetes"), default="local")
    args = cli.parse_args()
    heavy = 6 if args.quick else args.max_heavy_atoms
    if args.cluster == "kubernetes":
        on_kubernetes(args.out, heavy, max(1, args.repeat))
        return
    counts = (
        [int(w) for w in args.workers.split(",")]
        if args.workers
        else list(range(1, max(2, os.cpu_count() or 1) + 1))
    )
    formulae = formula_set(heavy, args.out)
    rows: list[Row] = []
    load = load_note()
    everything = os.sched_getaffinity(0)
    for engine, pinned in [(e, p) for e in engines(args) for p in (False, True)]:
        warm_up(engine)
        base: tuple[float, float] | None = None
        for workers in counts:
            if pinned and workers > len(everything):
                continue
            cores = sorted(everything)[:workers] if pinned else sorted(everything)
            os.sched_setaffinity(0, cores)
            try:
                runs = [run_pipeline(engine, formulae, workers=workers)
                        for _ in range(max(1, args.repeat))]  # fmt: skip
            finally:
                os.sched_setaffinity(0, everything)
            outcome = min(runs, key=lambda run: work_span(run.records))
            wall = min(run.seconds for run in runs)
            frame = outcome.records
            structures = int(frame["structures"].sum())
            span = work_span(frame)
            base = base or (wall, span)
            rows.append({
                "engine": engine.name,
                "batch mode": engine.batch,
                "workers": workers,
                "cores": "1 per worker" if pinned else f"all {len(cores)}",
                "formulae": len(formulae),
                "tasks": int(frame["task"].nunique()),
                "structures": structures,
                "wall s": wall,
                "work span s": span,
                "speedup": base[0] / wall,
                "efficiency": base[0] / wall / workers,
                "speedup (span)": base[1] / span,
                "efficiency (span)": base[1] / span / workers,
                "generator share": generator_share(frame),
                "structures/s": structures / wall,
                "bytes/structure": float(frame["compressed_bytes"].sum()) / max(structures, 1),
            })  # fmt: skip
            print(f"{engine.name}: {workers} worker(s) on {len(cores)} core(s) "
                  f"{wall:.1f} s", flush=True)  # fmt: skip
    report(
        args.out, "pods", f"pods: formulae up to {heavy} heavy atoms, default settings", rows,
        [load, "speedup and efficiency are against 1 worker of the same engine; wall s includes "
         "the local Dask cluster's and Redis's start-up, work span s does not."],
    )  # fmt: skip
    fig, (left, right) = figure(2)

    def label(row: Row) -> str:
        return f"{row['engine']}, " + ("1 core/worker" if "per" in row["cores"] else "all cores")

    for name in dict.fromkeys(label(row) for row in rows):
        mine = [row for row in rows if label(row) == name]
        xs = [row["workers"] for row in mine]
        left.plot(xs, [row["speedup"] for row in mine], "o-", label=f"{name} (wall)")
        left.plot(xs, [row["speedup (span)"] for row in mine], "s--", label=f"{name} (span)")
        right.plot(xs, [row["generator share"] for row in mine], "o-", label=name)
    left.plot(counts, counts, "k:", label="ideal")
    left.set(xlabel="workers", ylabel="speedup", title=f"<= {heavy} heavy atoms")
    right.set(xlabel="workers", ylabel="generator share of worker time", ylim=(0, 1.05))
    left.legend()
    right.legend()
    print(f"wrote {save_figure(fig, args.out, 'pods')}")


POD_SHAPES = ((1, 1), (2, 1), (1, 2))  # (pods, processes per pod)


def pod_share(frame: pd.DataFrame) -> str:
    """The generator share of each worker pod's busy time (a pod's processes pooled)."""
    pods = frame["worker"].astype(str).str.rsplit("-", n=2).str[0]  # HOSTNAME-PID-RANDOM
    shares = [generator_share(part) for _, part in frame.groupby(pods)]
    return " / ".join(f"{share:.3f}" for share in sorted(shares, reverse=True))


def on_kubernetes(out: Path, heavy: int, repeat: int) -> None:
    """The three pod shapes on the test cluster, `repeat` runs each (the best span kept)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from support.kubetest import EMULATOR, TEST_IMAGE, create_bucket, open_test_cluster

    from cloudsurge_dask.run.job import run_job
    from cloudsurge_dask.settings import Settings

    formulae = formula_set(heavy, out)
    load = load_note()
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-k8s-") as work,
        open_test_cluster(Path(work)) as cluster,
    ):
        os.environ.update(
            KUBECONFIG=cluster.env["KUBECONFIG"], STORAGE_EMULATOR_HOST=EMULATOR,
            GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false",
        )  # fmt: skip
        for pods, processes in POD_SHAPES:
            runs: list[tuple[float, Any]] = []
            for _ in range(repeat):
                bucket = f"kb-{uuid.uuid4().hex[:10]}"
                create_bucket(bucket)
                settings = Settings.build({
                    "cluster": "kubernetes", "namespace": cluster.namespace,
                    "image": TEST_IMAGE, "pods": pods, "processes_per_pod": processes,
                    "pod_cpu": "250m", "pod_memory": "1Gi", "redis_forward": True,
                    "redis_url": cluster.in_cluster_url, "output": f"gs://{bucket}/runs",
                    "cluster_timeout": 600,
                }, env={})  # fmt: skip
                started = time.monotonic()
                outcome = run_job(settings, formulae, quiet=True)
                runs.append((time.monotonic() - started, outcome))
                if not outcome.ok:
                    raise RuntimeError(f"{pods} pod(s) x {processes}: run failed")
            wall, outcome = min(runs, key=lambda run: work_span(run[1].records))
            frame = outcome.records
            structures = int(frame["structures"].sum())
            rows.append({
                "pods": pods, "processes/pod": processes, "formulae": len(frame),
                "tasks": int(frame["task"].nunique()), "structures": structures,
                "wall s": wall, "work span s": work_span(frame),
                "generator share": generator_share(frame),
                "generator share per pod": pod_share(frame),
                "structures/s (span)": structures / work_span(frame),
            })  # fmt: skip
            print(f"{pods} pod(s) x {processes}: {wall:.1f} s", flush=True)
    base = rows[0]["work span s"]
    for row in rows:
        row["speedup (span)"] = base / row["work span s"]
    report(
        out, "pods_kubernetes",
        f"pods on the test Kubernetes: formulae up to {heavy} heavy atoms, best span of "
        f"{repeat} run(s)", rows,
        [load, "wall s includes the DaskCluster's start (scheduler and worker pods); work span "
         "s does not. Pods ask 250m CPU; the test cluster does not enforce CPU limits."],
    )  # fmt: skip


if __name__ == "__main__":
    main()
