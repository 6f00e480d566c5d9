"""Third-party noise kept off the user's terminal: records as Dask, Bokeh and Tornado log them,
through the real logging machinery, with and without the filters."""

from __future__ import annotations

import io
import logging

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from cloudsurge_dask.clusters.logfilter import (
    BROWSER_LOGGERS,
    BrowserGone,
    quiet_dashboard,
    quiet_dask_worker,
)


def logged(name: str, message: str, error: BaseException, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        try:
            raise error
        except BaseException:
            logger.error(message, *args, exc_info=True)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_closed_dashboard_tab_logs_one_line() -> None:
    for name in BROWSER_LOGGERS:  # as a process before any scheduler of ours ran in it
        logger = logging.getLogger(name)
        for found in [f for f in logger.filters if isinstance(f, BrowserGone)]:
            logger.removeFilter(found)
    before = logged("bokeh.server.views.ws", "Failed sending message %s", AssertionError(), "x")
    assert "Traceback" in before  # what the user saw
    quiet_dashboard()
    for error in (AssertionError(), WebSocketClosedError(), StreamClosedError()):
        text = logged("bokeh.server.views.ws", "Failed sending message %s", error, "x")
        assert "Traceback" not in text and "Failed sending message x" in text
        assert "a dashboard tab closed" in text and len(text.strip().splitlines()) == 1
    other = logged("bokeh.server.views.ws", "a real bug", KeyError("k"))
    assert "Traceback" in other  # anything else keeps its traceback


def test_heartbeat_failure_at_the_end_keeps_its_line_not_its_traceback() -> None:
    quiet_dask_worker()
    text = logged(
        "distributed.worker", "Failed to communicate with scheduler during heartbeat.",
        StreamClosedError(),
    )  # fmt: skip
    assert "heartbeat" in text and "Traceback" not in text
    failed = logged(
        "distributed.worker", "Compute Failed\nKey: %s\nState: %s\nTask: %s\nException: %s",
        RuntimeError("x"), "drain-J-0", "executing", "drain", "StorageError('full')",
    )  # fmt: skip
    assert failed == ""  # the client says why the run stopped, in one line
