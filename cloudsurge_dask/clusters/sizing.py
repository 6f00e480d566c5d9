"""How many drains a run's cluster will have and how many screening processes each gets.

Known from the settings alone, before any cluster exists (the plan sizes its slices by the
drains), so this module imports no Dask: a small run never loads it.
"""

from __future__ import annotations

from ..screen.preflight import available_cores
from ..settings import ClusterKind, Settings


def screen_processes(settings: Settings, kind: str) -> int:
    """--screen-processes, else every core of a drain's machine or pod: the drains of one
    machine share them, so when one drain waits on a large slice (`-m` slices can be very
    uneven) its screening processes use the cores an idle drain left (one per drain on
    another scheduler's workers, whose machines are not known here)."""
    if settings.screen_processes:
        return settings.screen_processes
    if kind == ClusterKind.LOCAL:
        return available_cores()
    if kind == ClusterKind.KUBERNETES:
        return _cpu_cores(settings.pod_cpu)
    if kind == ClusterKind.SLURM:
        return max(1, settings.slurm_cores)
    return 1


def _cpu_cores(quantity: str) -> int:
    """Whole cores of a Kubernetes CPU quantity ('2', '1.5', '500m'), at least 1."""
    try:
        cores = int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)
    except ValueError:
        return 1
    return max(1, int(cores))


def expected_drains(settings: Settings) -> int:
    """How many drains the run will have, before the cluster exists (to size split slices);
    for an existing scheduler, --workers stands in for its unknown worker count."""
    if settings.cluster == ClusterKind.KUBERNETES:
        return max(settings.pods, settings.adaptive_max) * settings.processes_per_pod
    if settings.cluster == ClusterKind.SLURM:
        return settings.slurm_jobs * settings.slurm_processes
    return settings.workers
