"""A screening process: `python -m cloudsurge_dask.screen.child`, started by the stage.

Reads its ScreenSpec and says ("ready", None) once its screens are built; then reads chunks
of SMILES lines from stdin and answers each with ("ok", (kept bytes, tally)) or ("error",
message) on stdout; ends at the end of its input.
"""

from __future__ import annotations

import sys

from ..errors import CloudSurgeError
from .screener import Screener
from .stage import receive, send


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    try:
        spec = receive(source)
    except EOFError:
        return
    try:
        screener = Screener(spec)
    except CloudSurgeError as exc:
        send(sink, ("error", str(exc)))
        return
    send(sink, ("ready", None))
    while True:
        try:
            lines = receive(source)
        except EOFError:
            return
        try:
            send(sink, ("ok", screener.screen(lines)))
        except CloudSurgeError as exc:
            send(sink, ("error", str(exc)))
        except BrokenPipeError:
            return


if __name__ == "__main__":
    main()
