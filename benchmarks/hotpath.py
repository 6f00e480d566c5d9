"""The hot path alone: one generator run streamed into the Sink in this process (no Redis,
no Dask), the way a worker runs a task. Prints one JSON line: wall seconds, the generator's
CPU seconds (wait4), this process's CPU seconds (reading, compression, hashing, storing),
structures and compressed bytes.

`overhead.py` runs it under `taskset` to see what one worker gets from one core (generator
and compression share it) and from two (compression overlaps generation on the other core).

    .venv/bin/python benchmarks/hotpath.py ENGINE FORMULA OUTPUT_DIR [--codec zst] [--raw]

By default the path a worker takes: with the built-in engine and zst the engine compresses
and cuts the parts itself (`-Z`) and Python only hashes and stores them; `--raw` forces the
Python path (raw stdout counted, cut and compressed here), as for upstream Surge, gz or zip.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.generate.generator import Generation, takes_several_formulae
from cloudsurge_dask.output.codec import DEFAULT_CODEC, get_codec
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.storage import open_store

PART_SIZE = 10_000_000


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("engine")
    cli.add_argument("formula")
    cli.add_argument("output")
    cli.add_argument("--codec", default=DEFAULT_CODEC)
    cli.add_argument("--raw", action="store_true", help="the Python path even where -Z works")
    args = cli.parse_args()
    sink = Sink(open_store(args.output), get_codec(args.codec), PART_SIZE)
    task = Task(args.formula)
    framed = None if args.raw or not takes_several_formulae(args.engine) else sink.engine_parts
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    with Generation(args.engine, task, parts=framed) as generation:
        if framed:
            manifest = sink.commit(sink.write_compressed(task, generation.parts()))
        else:
            manifest = sink.write_task(task, generation.blocks())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({
        "wall": wall, "generator_cpu": generation.result.cpu_seconds, "pipeline_cpu": own,
        "structures": manifest.structures, "compressed_bytes": manifest.compressed_bytes,
        "path": "engine -Z" if framed else "raw",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
