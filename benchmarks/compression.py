"""Codec speed and size on real SMILES, against zlib level 6 (what the reference system used).

    .venv/bin/python benchmarks/compression.py [--input FILE.smi] [--formula C8H11NO]
        [--surge PATH] [--quick] [--out DIR]

Corpus: the `-S FORMULA` output of `--surge PATH` or else the built-in engine (`--quick`:
C7H9NO), else the reference Surge outputs in /work/shared/reference/surge_smiles
concatenated. Prints a table
and writes benchmarks/out/codecs.csv. Times are the best of several runs on one core.
"""

from __future__ import annotations

import csv
import functools
import gzip
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

from common import parser

from cloudsurge_dask.formulae.task import Task
from cloudsurge_dask.output.codec import Codec, get_codec
from cloudsurge_dask.output.sink import Sink
from cloudsurge_dask.storage import open_store

REFERENCE = Path("/work/shared/reference/surge_smiles")
LEVELS = {"zst": [-3, -1, 1, 2, 3, 6], "gz": [0, 1, 2, 3], "zip": [0, 1, 2, 3]}
MIN_SECONDS = 0.5


def corpus(input_file: str | None, formula: str, surge: str | None) -> tuple[bytes, str]:
    if input_file:
        return Path(input_file).read_bytes(), input_file
    try:
        from cloudsurge_dask.engine import engine_path

        binary = surge or str(engine_path())
        run = subprocess.run([binary, "-S", formula], capture_output=True, check=True, timeout=600)
        return run.stdout, f"{Path(binary).name} -S {formula}"
    except (ImportError, AttributeError, OSError, subprocess.SubprocessError) as exc:
        print(f"engine unavailable ({type(exc).__name__}: {exc}); using reference files")
    files = sorted(REFERENCE.glob("*.smi.gz"))
    return b"".join(gzip.decompress(f.read_bytes()) for f in files), f"{len(files)} reference files"


def best_seconds(work: Callable[..., object], *args: object) -> float:
    best, spent, runs = float("inf"), 0.0, 0
    while spent < MIN_SECONDS or runs < 3:
        started = time.perf_counter()
        work(*args)
        elapsed = time.perf_counter() - started
        best, spent, runs = min(best, elapsed), spent + elapsed, runs + 1
    return best


def _named_compress(codec: Codec, data: bytes) -> bytes:
    return codec.compress(data, "part.smi")


def zlib_gzip(level: int) -> Callable[[bytes], bytes]:
    def compress(data: bytes) -> bytes:
        obj = zlib.compressobj(level, zlib.DEFLATED, 31)
        return obj.compress(data) + obj.flush()

    return compress


def sink_seconds(data: bytes, codec_name: str) -> float:
    """The whole sink (cut, compress, hash, store to memory) on 1 MiB blocks."""
    blocks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    store = open_store(f"memory://bench-{uuid.uuid4().hex}")
    sink = Sink(store, get_codec(codec_name), 10_000_000)
    return best_seconds(sink.write_task, Task("C8H11NO"), blocks)


def main() -> None:
    cli = parser(__doc__.split("\n")[0])
    cli.add_argument("--input", help="a SMILES file to use as the corpus")
    cli.add_argument("--formula", default=None, help="the corpus formula (default C8H11NO)")
    args = cli.parse_args()
    formula = args.formula or ("C7H9NO" if args.quick else "C8H11NO")
    data, source = corpus(args.input, formula, args.surge)
    structures = data.count(b"\n")
    mb = len(data) / 1e6
    print(f"corpus: {source}: {structures:,} structures, {mb:.1f} MB\n")

    rows = []
    reference = zlib_gzip(6)
    ref_packed = reference(data)
    ref_seconds = best_seconds(reference, data)
    candidates: list[tuple[str, str, int, Callable[[bytes], bytes], Callable[[bytes], bytes]]] = [
        ("zlib-gzip (reference)", "gz", 6, reference, gzip.decompress),
        ("zlib-gzip", "gz", 1, zlib_gzip(1), gzip.decompress),
    ]
    for name, levels in LEVELS.items():
        for level in levels:
            codec = get_codec(name, level)
            candidates.append(
                (
                    f"{name} ({'zstandard' if name == 'zst' else 'ISA-L'})",
                    name,
                    level,
                    functools.partial(_named_compress, codec),
                    codec.decompress,
                )
            )
    for label, fmt, level, compress, decompress in candidates:
        packed = ref_packed if level == 6 and label.startswith("zlib") else compress(data)
        assert decompress(packed) == data
        seconds = ref_seconds if packed is ref_packed else best_seconds(compress, data)
        unpack = best_seconds(decompress, packed)
        rows.append(
            {
                "codec": label,
                "format": fmt,
                "level": level,
                "compress_MBps": round(mb / seconds, 1),
                "decompress_MBps": round(mb / unpack, 1),
                "ratio": round(len(data) / len(packed), 2),
                "bytes_per_structure": round(len(packed) / structures, 3),
                "speed_vs_zlib6": round(ref_seconds / seconds, 1),
                "size_vs_zlib6": round(len(packed) / len(ref_packed), 3),
            }
        )
    for name in LEVELS:
        seconds = sink_seconds(data, name)
        rows.append(
            {
                "codec": f"Sink end-to-end ({name}, memory://)",
                "format": name,
                "level": get_codec(name).level,
                "compress_MBps": round(mb / seconds, 1),
                "decompress_MBps": "",
                "ratio": "",
                "bytes_per_structure": "",
                "speed_vs_zlib6": round(ref_seconds / seconds, 1),
                "size_vs_zlib6": "",
            }
        )

    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)))
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "codecs.csv"
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nsaved {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
