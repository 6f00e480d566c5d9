"""What a Dask worker process logs that the user must not meet as a traceback.

- Dask's "Compute Failed" log of a drain ended by the job's storage or queue: the client
  stops the run and says why in one line, so the record (error and traceback) is dropped.
- "Failed to communicate with scheduler during heartbeat": at the end of a run the scheduler
  may close while a worker's heartbeat is on its way; Dask retries on its own, so the line
  stays but its traceback (tornado's StreamClosedError, three frames deep) goes.
- In the scheduler's process (the client's, for a local cluster): a browser tab on the
  dashboard that closes while Bokeh sends to it makes Bokeh's server log the failed send
  with its traceback (an AssertionError or a closed-socket error); the line stays, the
  traceback goes. (Not reproduced here with headless Chromium; the filter is tested with
  such records.)
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


BROWSER_LOGGERS = (
    "bokeh.server.views.ws", "bokeh.server.protocol_handler", "bokeh.server.connection",
    "bokeh.server.session", "tornado.application", "tornado.websocket",
)  # fmt: skip
_GONE = ("AssertionError", "WebSocketClosedError", "StreamClosedError", "CommClosedError")


class BrowserGone(logging.Filter):
    """A send to a dashboard tab that has closed: one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        kind = record.exc_info[0] if record.exc_info else None
        if kind is not None and kind.__name__ in _GONE:
            record.exc_info, record.exc_text = None, None
            record.msg = f"{record.getMessage()} (a dashboard tab closed: {kind.__name__})"
            record.args = ()
        return True


def quiet_dashboard() -> None:
    """Install BrowserGone on Bokeh's and Tornado's loggers (once per process)."""
    for name in BROWSER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, BrowserGone) for f in logger.filters):
            logger.addFilter(BrowserGone())
