"""Container engine helpers for the containers and Kubernetes suites (podman or docker).

Everything a test starts is named `<prefix>-...` with a fresh prefix per session and removed
by that name (or id) at the end; nothing here touches containers, networks or images it did
not create. The images come from the project's own `scripts/build-image.sh`.
"""

from __future__ import annotations

import functools
import re
import resource
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-image.sh"


@dataclass(frozen=True)
class Engine:
    """The command that runs the engine, and the flags every `run` needs on this host."""

    command: tuple[str, ...]
    run_flags: tuple[str, ...]
    scratch: tuple[str, ...]  # a writable /scratch for the image's user on a read-only root

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.command, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join([*self.command, *args])[:300]} -> {done.returncode}\n"
                f"{done.stdout[-2000:]}{done.stderr[-3000:]}"
            )
        return done

    def run_detached(self, name: str, *args: str) -> str:
        return self("run", "-d", "--name", name, *self.run_flags, *args).stdout.strip()

    def ip_of(self, name: str, network: str) -> str:
        template = '{{(index .NetworkSettings.Networks "' + network + '").IPAddress}}'
        address = self("inspect", "-f", template, name).stdout.strip()
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address), address
        return address


def _limit(kind: int, cap: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return cap if hard == resource.RLIM_INFINITY else min(hard, cap)


@functools.cache
def engine() -> Engine:
    """podman (with runc and limits this host allows) if installed, else a working docker.

    scripts/build-image.sh installs podman where neither exists; call `build()` first."""
    if shutil.which("podman"):
        runc = shutil.which("runc") or "/usr/sbin/runc"
        nofile = _limit(resource.RLIMIT_NOFILE, 65536)
        nproc = _limit(resource.RLIMIT_NPROC, 32768)
        limits = ("--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}")
        # podman ignores a tmpfs mode here; `U` hands the mount to the container's user
        return Engine(("podman", "--runtime", runc), limits, ("--tmpfs", "/scratch:rw,U"))
    if shutil.which("docker"):
        return Engine(("docker",), (), ("--tmpfs", "/scratch:rw,mode=1777"))
    pytest.fail("neither podman nor docker: scripts/build-image.sh installs podman")


@dataclass
class Built:
    image: str
    engine: str
    base: str
    seconds: int
    bytes: int
    output: str = field(repr=False)


def build(*args: str, timeout: float = 1800) -> Built:
    """Run scripts/build-image.sh and parse its last line."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    line = done.stdout.strip().splitlines()[-1]
    values = dict(word.split("=", 1) for word in line.split())
    return Built(
        values["image"],
        values["engine"],
        values["base"],
        int(values["seconds"]),
        int(values["bytes"]),
        output,
    )


def fresh_prefix(kind: str) -> str:
    return f"cloudsurge-{kind}-{uuid.uuid4().hex[:8]}"
