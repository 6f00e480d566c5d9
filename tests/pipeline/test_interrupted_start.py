"""A signal that reaches `run` while it still makes its job (here: while the generator's probe
runs, before anything is queued) ends it with the signal's own exit status, as a signal later
in the run does, in one line, leaving nothing to resume and no process behind. Through the
real command line."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.processes import descendants


def stalled_generator(tmp_path: Path) -> tuple[str, Path]:
    """A generator that says when it runs, then never answers (the probe's 60 s limit)."""
    marker = tmp_path / "probing"
    script = tmp_path / "stalled-surge"
    script.write_text(f"#!/bin/sh\ntouch {marker}\nexec sleep 120\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), marker


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_job_is_made_exits_with_its_status(
    tmp_path: Path, signum: int, code: int
) -> None:
    script, marker = stalled_generator(tmp_path)
    listing = tmp_path / "formulae.txt"
    listing.write_text("CH4\nC2H6\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    env.pop("CLOUDSURGE_REDIS_URL", None)
    client = subprocess.Popen(
        [sys.executable, "-m", "cloudsurge_dask", "run", "--formulae", str(listing),
         "--surge", script, "--output", str(tmp_path / "out")],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert client.poll() is None and time.monotonic() < deadline, client.communicate()
        time.sleep(0.05)
    probing = list(descendants(client.pid))
    assert probing, "the probe runs as the client's child"
    client.send_signal(signum)
    stdout, stderr = client.communicate(timeout=60)
    assert client.returncode == code, stderr
    name = signal.Signals(signum).name
    assert stderr.startswith(f"error: interrupted by {name} while starting job "), stderr
    assert len(stderr.strip().splitlines()) == 1 and "resume" not in stderr, stderr
    assert stdout == ""
    assert not any(Path(f"/proc/{pid}").exists() for pid in probing), "a probe outlived it"
    out = tmp_path / "out"
    assert not out.exists() or not any(out.rglob("state")), sorted(out.rglob("*"))
