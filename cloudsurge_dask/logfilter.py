"""What a Dask worker process logs that the user must not meet as a traceback.

- Dask's "Compute Failed" log of a drain ended by the job's storage or queue: the client
  stops the run and says why in one line, so the record (error and traceback) is dropped.
- "Failed to communicate with scheduler during heartbeat": at the end of a run the scheduler
  may close while a worker's heartbeat is on its way; Dask retries on its own, so the line
  stays but its traceback (tornado's StreamClosedError, three frames deep) goes.
"""

from __future__ import annotations

import logging

_HEARTBEAT = "Failed to communicate with scheduler during heartbeat"


class DaskNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        message = str(record.msg)
        if message.startswith(_HEARTBEAT):
            record.exc_info, record.exc_text = None, None
            return True
        return not (
            message.startswith("Compute Failed")
            and len(args) > 3
            and str(args[0]).startswith("drain-")
            and str(args[3]).startswith(("StorageError(", "QueueError("))
        )


def quiet_dask_worker() -> None:
    """Install the filter on Dask's worker logger (once per process)."""
    logger = logging.getLogger("distributed.worker")
    if not any(isinstance(f, DaskNoise) for f in logger.filters):
        logger.addFilter(DaskNoise())
