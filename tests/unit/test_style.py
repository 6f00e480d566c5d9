"""The house style is checked, not hoped for: ruff and mypy over the package and tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff_is_clean() -> None:
    done = run(str(BIN / "ruff"), "check", "--no-cache", "cloudsurge_dask", "tests", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = run(str(BIN / "mypy"), "cloudsurge_dask", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


# the stages in the order of the flow (ARCHITECTURE.md): a module imports its own stage and
# stages before it, never a later one, so the picture `ls cloudsurge_dask` gives holds
LAYERS = (
    "errors", "declaration", "storage", "engine", "formulae", "generate", "output", "queue",
    "screen", "paramtypes", "settings", "clusters", "run", "results", "cli", "__main__",
    "__init__",
)  # fmt: skip


def test_stages_import_only_earlier_stages() -> None:
    package = ROOT / "cloudsurge_dask"
    wrong = []
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        mine = LAYERS.index(parts[0])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = list(parts[:-1])[: len(parts) - node.level]
                target = [*base, *(node.module or "").split(".")]
                theirs = LAYERS.index(target[0]) if target and target[0] else mine
                if theirs > mine:
                    wrong.append(f"{path.relative_to(ROOT)} imports {'.'.join(target)}")
    assert wrong == []
    assert {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == {
        "formulae", "generate", "output", "queue", "screen", "clusters", "run", "results",
        "engine",
    }  # fmt: skip
