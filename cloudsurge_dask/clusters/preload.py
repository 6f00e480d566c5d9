"""Set-up of each local Dask worker process, loaded by Dask (`preload`) as it starts.

A terminal's Ctrl-C goes to the whole foreground process group, the workers of a local
cluster included, which would die mid-task with a traceback each. The client alone decides
what a Ctrl-C means (stop cleanly: workers finish the task in hand, records are saved), so
its workers ignore SIGINT; SIGTERM and SIGKILL still end them. Dask's own noise is filtered
from the start (`logfilter`).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from .logfilter import quiet_dask_worker


def dask_setup(worker: Any) -> None:
    """Dask's preload hook (run in the worker process's main thread)."""
    quiet_dask_worker()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
