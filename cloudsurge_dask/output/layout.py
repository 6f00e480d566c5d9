"""Where every file of a job goes under the output URL, named in one place.

The sink writes these paths, `verify` and `export` read them, and the client writes the
records file; a reader of the output (or of this module) sees the whole layout::

    OUTPUT/JOB/parts/<task>/<task>.<NNNNN><ext>   compressed generator output
    OUTPUT/JOB/manifests/<task>.json             the task's index, written last (its commit)
    OUTPUT/JOB/records.parquet                   one row per formula
    OUTPUT/JOB/job.json                          the job's state, written by the client when
                                                 it queues the job and updated at the end

`catalog` reads all of them back by formula (`cat`, `ls`) and by job (`jobs`).
"""

from __future__ import annotations

PARTS = "parts"
MANIFESTS = "manifests"
RECORDS_FILE = "records.parquet"
JOB_FILE = "job.json"


def job_url(output: str, job: str) -> str:
    """The root of one job's files under the output URL."""
    return f"{output.rstrip('/')}/{job}"


def part_path(key: str, index: int, extension: str) -> str:
    return f"{PARTS}/{key}/{key}.{index:05d}{extension}"


def manifest_path(key: str) -> str:
    return f"{MANIFESTS}/{key}.json"
