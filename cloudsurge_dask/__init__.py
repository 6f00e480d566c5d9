"""cloudsurge-dask: every structure of every formula, on a Dask cluster, verifiably.

The public surface a script may use, imported on first use (importing the package itself
starts nothing and loads neither Dask nor RDKit)::

    from cloudsurge_dask import Settings, run_job, parse_formula
    outcome = run_job(Settings.build({"max_heavy_atoms": 5}), [parse_formula("C6H6")])

Run from a script, `run_job` must be called under `if __name__ == "__main__":` (Dask starts
its worker processes by spawning). Errors are the tree in `cloudsurge_dask.errors`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> the module that defines it
_PUBLIC = {
    "Settings": "settings", "JobMeta": "settings",
    "Formula": "formulae.formula", "parse_formula": "formulae.formula",
    "generate_formulae": "formulae.source", "read_formula_file": "formulae.source",
    "run_job": "run.job", "enqueue": "run.job", "Outcome": "run.outcome",
    "Worker": "run.worker", "TaskRecord": "output.records", "records_frame": "output.records",
    "Catalog": "results.catalog", "load_records": "results.export",
    "verify_output": "results.verify", "VerifyReport": "results.verify",
    "Manifest": "output.manifest",
    "ScreenSpec": "screen.screener", "Screener": "screen.screener", "Tally": "screen.screener",
    "parse_screen": "screen.expression", "preview": "run.preview",
    "CloudSurgeError": "errors", "ConfigError": "errors", "FormulaError": "errors",
    "QueueError": "errors", "StorageError": "errors", "GeneratorError": "errors",
    "ScreenError": "errors", "ClusterError": "errors", "VerifyError": "errors",
    "ResultError": "errors",
}  # fmt: skip
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'cloudsurge_dask' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
