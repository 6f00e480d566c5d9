"""Records out of a job: to Parquet/CSV, and as the expected counts `verify` checks against."""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError, StorageError
from ..output.layout import RECORDS_FILE, job_url
from ..output.records import read_records, records_frame
from ..queue.jobqueue import JobQueue
from ..settings import Settings
from ..storage import open_store


def load_records(settings: Settings, job: str) -> pd.DataFrame:
    """From Redis when --redis-url is given (live jobs), else the job's records.parquet."""
    if settings.redis_url:
        return records_frame(JobQueue.open(settings.redis_url, job).records())
    store = open_store(job_url(settings.output, job))
    frame = read_records(store)
    if frame is None:
        raise StorageError(f"{store.url_of(RECORDS_FILE)} does not exist (wrong --output or job?)")
    return frame


def export_records(settings: Settings, job: str, target: str) -> int:
    frame = load_records(settings, job)
    if target.endswith(".csv"):
        frame.to_csv(target, index=False)
    elif target.endswith(".parquet"):
        frame.to_parquet(target, index=False)
    else:
        raise ConfigError(f"--to {target!r}: name a .parquet or .csv file")
    return len(frame)
