"""Before a screened job is queued: its screens built and tried once, and what chose its
structures written down (job.json's `screening`: the screens, RDKit's version, the model
files' checksums), so a result can be traced to the exact models that kept it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ScreenError
from .expression import MODEL_SCORES, ScreenKind
from .screener import Screener, ScreenSpec

# tried once on the client: a plugin that cannot be imported or fails on a plain list of
# SMILES is refused before anything is queued
PROBE_SMILES = (b"C", b"CCO", b"c1ccccc1")


def check_screening(spec: ScreenSpec) -> None:
    """Build every pattern, catalog, model and the plugin, and screen a few structures."""
    if not spec.active:
        return
    try:
        Screener(spec).screen(list(PROBE_SMILES))
    except ScreenError as exc:
        raise ConfigError(f"screening failed its probe, so nothing was queued: {exc}") from None


def provenance(spec: ScreenSpec) -> dict[str, Any]:
    """What job.json says about the screening (empty without screening)."""
    if not spec.active:
        return {}
    import rdkit

    from .measures import model_checksums

    used = [s.name for s in spec.parsed() if s.kind is ScreenKind.RANGE and s.name in MODEL_SCORES]
    return {
        "screens": list(spec.labels),
        "plugin": spec.plugin,
        "stereo": spec.stereo,
        "unparsable": "keep" if spec.keep_unparsable else "drop",
        "rdkit": rdkit.__version__,
        "models": model_checksums(used),
    }


def available_cores() -> int:
    """The cores this process may use: its CPU affinity, bounded by a cgroup v2 CPU quota
    (a pod's CPU limit)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return max(cores, 1)
    if quota != "max" and int(period) > 0:
        cores = min(cores, max(int(quota) // int(period), 1))
    return max(cores, 1)
