"""Processes a test started, by their PIDs: stopping one (SIGTERM, then SIGKILL if it
lingers), and finding this test's own descendants (never other processes by name)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every live descendant of `root`: PID -> (parent PID, command line), from /proc."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        # the command name in parentheses may hold spaces: the parent PID follows its ")"
        parents[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), command)
    found: dict[int, tuple[int, str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, command) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = (ppid, command)
                frontier.append(pid)
    return found


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """End `process` (a server a fixture started) and reap it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
