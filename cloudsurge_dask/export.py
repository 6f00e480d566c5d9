"""Records out of a job: to Parquet/CSV, and as the expected counts `verify` checks against."""

from __future__ import annotations

import io

import pandas as pd

from .errors import ConfigError, StorageError
from .jobqueue import JobQueue
from .records import OK, records_frame
from .redisserver import connect
from .settings import Settings
from .storage import open_store
from .verify import VerifyReport, verify_job

RECORDS_FILE = "records.parquet"


def job_url(output: str, job: str) -> str:
    return f"{output.rstrip('/')}/{job}"


def load_records(settings: Settings, job: str) -> pd.DataFrame:
    """From Redis when --redis-url is given (live jobs), else the job's records.parquet."""
    if settings.redis_url:
        queue = JobQueue(connect(settings.redis_url), job)
        if not queue.exists():
            raise ConfigError(f"no job {job} on that Redis")
        return records_frame(queue.records())
    store = open_store(job_url(settings.output, job))
    if not store.exists(RECORDS_FILE):
        raise StorageError(f"{store.url_of(RECORDS_FILE)} does not exist (wrong --output or job?)")
    return pd.read_parquet(io.BytesIO(store.read_bytes(RECORDS_FILE)))


def export_records(settings: Settings, job: str, target: str) -> int:
    frame = load_records(settings, job)
    if target.endswith(".csv"):
        frame.to_csv(target, index=False)
    elif target.endswith(".parquet"):
        frame.to_parquet(target, index=False)
    else:
        raise ConfigError(f"--to {target!r}: name a .parquet or .csv file")
    return len(frame)


def verify_output(settings: Settings, job: str) -> VerifyReport:
    """Every part against its manifest, and every manifest against the generator's totals."""
    frame = load_records(settings.replace(redis_url=None), job)
    done = frame[frame["status"] == OK]
    totals = done.groupby("task")["structures"].sum()
    expected = {str(task): int(n) for task, n in totals.items()}
    return verify_job(open_store(job_url(settings.output, job)), expected)
