"""How a run shows its progress: a live rich bar on a terminal, a plain line every ~30 s in a
log file, nothing with `--quiet`.

The bar counts structures against the plan's estimate (tasks run largest first, so a count of
formulae or tasks would race ahead and give a useless ETA), and shows formulae final / total,
structures, their rate, elapsed time and the time left. Log lines are whole lines: no `\\r`
frames pile up in a file.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..queue.jobqueue import Counters

LOG_INTERVAL = 30.0


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class ProgressView:
    """`update(counters)` as often as you like; `close()` once. Which kind is chosen here."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.started = time.monotonic()
        self._last_line = 0.0
        self._baseline: int | None = None  # structures already made when this run began
        self._bar: Progress | None = None
        self._row: TaskID | None = None
        if self.live:
            self._bar = Progress(
                TextColumn("{task.fields[formulae]}"),
                BarColumn(),
                TextColumn("{task.fields[structures]} structures"),
                TextColumn("{task.fields[rate]}/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._row = self._bar.add_task("run", total=None, **self._fields(None))

    def _fields(self, counters: Counters | None) -> dict[str, Any]:
        if counters is None:
            return {"formulae": "starting", "structures": "0", "rate": "0"}
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return {
            "formulae": f"{counters.formulae_final:,}/{counters.formulae:,} formulae",
            "structures": f"{counters.structures:,}",
            "rate": f"{self._made(counters) / elapsed:,.0f}",
        }

    def _made(self, counters: Counters) -> int:
        """Structures made by this run (a resumed job starts from its earlier count)."""
        if self._baseline is None:
            self._baseline = counters.structures
        return counters.structures - self._baseline

    def line(self, counters: Counters) -> str:
        """The plain form, also used for the last line of a run."""
        elapsed = time.monotonic() - self.started
        fields = self._fields(counters)
        eta, made = "", self._made(counters)
        if made > 0 and counters.structures < counters.estimate:
            left = elapsed * (counters.estimate - counters.structures) / made
            eta = f", ETA ~{_clock(left)} (from the plan's estimate)"
        return (
            f"{fields['formulae']}, {fields['structures']} structures "
            f"({fields['rate']}/s), elapsed {_clock(elapsed)}{eta}"
        )

    def update(self, counters: Counters, force: bool = False) -> None:
        if self.quiet:
            return
        if self._bar is not None and self._row is not None:
            total = max(counters.estimate, counters.structures, 1)
            if counters.finished:
                total = max(counters.structures, 1)
            self._bar.update(
                self._row, total=total, completed=counters.structures, **self._fields(counters)
            )
            return
        now = time.monotonic()
        if force or now - self._last_line >= LOG_INTERVAL:
            self._last_line = now
            self.stream.write(f"progress: {self.line(counters)}\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        """A message line (above the bar on a terminal)."""
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self, counters: Counters | None = None) -> None:
        if counters is not None:
            self.update(counters, force=True)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
