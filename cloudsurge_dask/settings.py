"""Every setting of the project, each declared once (see `declaration.py`), and the part of
them a queued job stores for its workers.

Each value comes from its command-line flag, else from the `CLOUDSURGE_<NAME>` environment
variable, else from the default here. Validation runs through each setting's click type,
whichever way a `Settings` is made, so the rest of the code can trust one. Nothing in this
module touches the network or the disk.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import click

from .declaration import check, declared, setting
from .errors import ConfigError
from .formulae.formula import MAX_HEAVY_ATOMS
from .generate.formats import FORMATS, SMILES
from .generate.options import PRESETS, SHOWN
from .output.codec import CODECS, DEFAULT_CODEC
from .output.layout import job_url
from .paramtypes import (
    Directives,
    ElementList,
    GeneratorOptions,
    PluginReference,
    ScreenList,
    Walltime,
)
from .screen.screener import ScreenSpec

DEFAULT_ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br", "I")


class ClusterKind(StrEnum):
    """Where a run's drains run; `scheduler` is an existing one (--scheduler), not a choice."""

    LOCAL = "local"
    SCHEDULER = "scheduler"
    KUBERNETES = "kubernetes"
    SLURM = "slurm"


CLUSTER_KINDS = (ClusterKind.LOCAL.value, ClusterKind.KUBERNETES.value, ClusterKind.SLURM.value)

# the subcommands each kind of setting applies to
FORMULAE = ("run", "formulae", "plan")
REDIS = ("run", "enqueue", "worker", "status", "stop", "export")
QUEUED = ("run", "enqueue", "plan")  # fixed when a job is queued (and previewed by `plan`)
OUTPUT = ("run", "enqueue", "status", "stop", "export", "verify", "cat", "ls", "jobs")
RUN = ("run", "plan")
KUBE_OBJECTS = ("run", "plan", "manifests")  # also rendered into the Kubernetes objects
# what reaches a queue's Redis in a cluster from outside it (--redis-forward)
FORWARD = ("run", "plan", "status", "stop", "export")
SLURM = ("run", "plan", "sbatch-script")  # also rendered into the sbatch array script


SCREENING = ("run", "enqueue", "plan")
# what --help says about pushing screens down to the generator
PUSH_DOWN = (
    "Screens cost 100-3,000x the generator: push what the generator can do into "
    "--surge-options (no triple bonds: -T; forbidden substructure sets: -B; ring sizes: -t -f "
    "-p -h; cycles and planarity: -b -P -C), a thousand times faster."
)


def _cores() -> int:
    return os.cpu_count() or 1


POSITIVE = click.IntRange(min=1)
COUNT = click.IntRange(min=0)
SECONDS = click.FloatRange(min=0)
TEXT = click.STRING


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; see `python -m cloudsurge_dask run --help`."""

    max_heavy_atoms: int = setting(
        6, "Enumerate every formula with 1..N heavy atoms.",
        click.IntRange(1, MAX_HEAVY_ATOMS), FORMULAE, "Formulae", stored=True,
    )
    elements: tuple[str, ...] = setting(
        DEFAULT_ELEMENTS, "Heavy elements of the formula set, comma separated.",
        ElementList(), FORMULAE, "Formulae", stored=True,
    )
    formulae: str | None = setting(
        None, "Read formulae from this file, pipe (`<(grep ...)`) or URL (one per line, "
        "# comments; .gz, .zst... by its name) instead of CDK.",
        click.Path(), FORMULAE, "Formulae", stored=True,
    )
    redis_url: str | None = setting(
        None, "Redis URL of the queue (redis://:PASSWORD@HOST:PORT/DB); put it in the variable, "
        "so its password does not show in `ps`.", TEXT, REDIS, "Queue",
        shown_default="embedded private redis-server (random port and password)",
    )
    lease_seconds: float = setting(
        60.0, "A task whose worker stops renewing it for this long is taken over.",
        click.FloatRange(min=0, min_open=True), QUEUED, "Queue", stored=True,
    )
    max_attempts: int = setting(
        3, "Tries per task before it is recorded as failed.", POSITIVE, QUEUED, "Queue",
        stored=True,
    )
    batch_size: int = setting(
        4, "Tasks a worker leases at once.", POSITIVE, QUEUED, "Queue", stored=True,
    )
    split_structures: int = setting(
        20_000_000, "Split a formula estimated above this many structures into `-m res/mod` "
        "slices of about this size (0: never); smaller when a quarter of one drain's share of "
        "the whole job is smaller (but not below 1,000,000); a screened job's tasks are 100 "
        "times smaller.", COUNT, QUEUED, "Queue",
        stored=True,
    )
    shard_structures: int = setting(
        1_000_000, "Group formulae estimated below this many structures into shards of about "
        "this size sharing one set of parts (0: never).", COUNT, QUEUED, "Queue",
        stored=True,
    )
    shard_formulae: int = setting(
        256, "At most this many formulae in one shard.", POSITIVE, QUEUED, "Queue",
        stored=True,
    )
    surge: str | None = setting(
        None, "Generator executable.", click.Path(dir_okay=False), QUEUED, "Generator",
        stored=True, shown_default="`surge` on PATH, else the built-in engine",
    )
    surge_options: tuple[str, ...] = setting(
        (), f"Surge 2.0 filter options, e.g. '-T -P', each checked against the manual's syntax: "
        f"{SHOWN}; the output format and the splitting are the pipeline's own.",
        GeneratorOptions(), QUEUED, "Generator", stored=True,
    )
    preset: str = setting(
        "none", "A named option line put before --surge-options; cloudsurge-production is the "
        "reference system's '-P -T -B1,2,3,4,5,7,8,9 -t0 -f0'.", click.Choice(tuple(PRESETS)),
        QUEUED, "Generator", stored=True,
    )
    generator_timeout: float = setting(
        0.0, "Kill a generator run after this many seconds (0: no limit).", SECONDS, QUEUED,
        "Generator", stored=True,
    )
    screen: tuple[str, ...] = setting(
        (), "Keep only structures for which this holds (repeatable: all must hold): 'NAME OP "
        "NUMBER' or 'NUMBER OP NAME OP NUMBER' (OP < <= > >=; NAME an RDKit descriptor such as "
        "MolWt, MolLogP, TPSA, NumHDonors, or np_likeness, sa_score, qed), 'require SMARTS', "
        "'exclude SMARTS', 'catalog NAME' (an RDKit FilterCatalog: pains, brenk, nih, zinc, "
        "chembl...). " + PUSH_DOWN, ScreenList(), SCREENING, "Screening", stored=True,
        repeatable=True,
    )
    screen_unparsable: str = setting(
        "drop", "A structure RDKit cannot parse (counted as unparsable) is dropped, or kept "
        "unscreened.", click.Choice(("drop", "keep")), SCREENING, "Screening", stored=True,
    )
    screen_plugin: str | None = setting(
        None, "Also keep only what this function keeps: it takes a list of SMILES and returns "
        "one boolean per SMILES (True keeps); imported once per worker process.",
        PluginReference(), SCREENING, "Screening", stored=True,
    )
    stereo: bool = setting(
        False, "Write every kept structure as its stereoisomers (RDKit, unassigned centres "
        "only, isomeric SMILES), screened before they are expanded.", click.BOOL, SCREENING,
        "Screening", stored=True, switch=True,
    )
    screen_processes: int = setting(
        0, "Screening processes per drain (0: the cores of its machine, pod or Slurm job, so "
        "that a drain busy with a large slice uses the cores an idle one left).", COUNT,
        ("run", "worker"), "Screening",
    )
    output: str = setting(
        "./results", "Output URL; the job's files go to OUTPUT/JOB/ (a folder, `gs://bucket/"
        "prefix` through gcsfs with default credentials or the emulator at "
        "STORAGE_EMULATOR_HOST, `memory://`).", TEXT, OUTPUT, "Output",
    )
    part_size: int = setting(
        10_000_000, "At most this many structures per compressed part.", POSITIVE, QUEUED,
        "Output", stored=True,
    )
    format: str = setting(
        SMILES.name, "Structure format of the parts: SMILES lines (.smi) or SDfile records "
        "(.sdf, Surge's -F).", click.Choice(tuple(FORMATS)), QUEUED, "Output", stored=True,
    )
    codec: str = setting(
        DEFAULT_CODEC, "Part compression (gz: ISA-L gzip; zip: deflate, like the reference "
        "system's parts).", click.Choice(CODECS), QUEUED, "Output", stored=True,
    )
    stop_timeout: float = setting(
        300.0, "Seconds `stop` waits for the job's client to stop and save its records (0: no "
        "limit).", SECONDS, ("stop",), "Queue",
    )
    cluster: str = setting(
        ClusterKind.LOCAL.value, "Cluster kind.", click.Choice(CLUSTER_KINDS), RUN, "Cluster",
    )
    scheduler: str | None = setting(
        None, "Address of an existing Dask scheduler to use instead of a new cluster (with "
        "--cluster kubernetes: one in Kubernetes, whose workers take the Redis URL from their "
        "Secret, as a detached run's client does).", TEXT, RUN, "Cluster",
    )
    workers: int = setting(
        _cores, "Local worker processes, one single-threaded drain each.", POSITIVE, RUN,
        "Cluster", shown_default="number of cores",
    )
    inline_structures: int = setting(
        1_000_000, "A local run estimated below this many structures runs in this process "
        "alone, without starting a Dask cluster (a cluster takes longer to start than such a "
        "run); a larger one is drained here too until the cluster is up (0: start the cluster "
        "first and drain only on it).", COUNT, RUN, "Cluster",
    )
    cluster_timeout: float = setting(
        300.0, "Seconds to wait for a cluster or scheduler before giving up (0: no limit).",
        SECONDS, RUN, "Cluster",
    )
    image: str = setting(
        "cloudsurge-dask-worker:latest", "Worker image.", TEXT, KUBE_OBJECTS, "Kubernetes",
    )
    namespace: str = setting(
        "default", "Namespace of every object (and of --redis-url's Service with "
        "--redis-forward, unless its host names one).", TEXT,
        tuple(dict.fromkeys(KUBE_OBJECTS + FORWARD)), "Kubernetes",
    )
    pods: int = setting(2, "Worker pods.", POSITIVE, RUN, "Kubernetes")
    processes_per_pod: int = setting(
        1, "Worker processes (drains) per pod.", POSITIVE, RUN, "Kubernetes",
    )
    pod_cpu: str = setting(
        "1", "CPU request and limit per worker pod.", TEXT, KUBE_OBJECTS, "Kubernetes",
    )
    pod_memory: str = setting(
        "2Gi", "Memory request and limit per worker pod.", TEXT, KUBE_OBJECTS, "Kubernetes",
    )
    pod_ephemeral_storage: str = setting(
        "1Gi", "Ephemeral-storage (scratch) request and limit per worker pod.", TEXT,
        KUBE_OBJECTS, "Kubernetes",
    )
    redis_secret: str = setting(
        "cloudsurge-redis", "Secret holding the Redis URL under key 'url' (and the server's "
        "password under 'password').", TEXT, KUBE_OBJECTS, "Kubernetes",
    )
    storage_secret: str | None = setting(
        None, "Secret with a storage key file key.json (else Workload Identity).", TEXT,
        KUBE_OBJECTS, "Kubernetes",
    )
    service_account: str | None = setting(
        None, "Service account of the worker pods (Workload Identity).", TEXT, RUN,
        "Kubernetes",
    )
    detach: bool = setting(
        False, "With --cluster kubernetes: run the job's client in the cluster too (a DaskJob: "
        "its own scheduler, workers and client pod) and return at once; the job is queued from "
        "here on --redis-url, its output must be one the pods reach (gs://...). Follow it with "
        "`status JOB`, stop it with `stop JOB`, go on with `run --resume JOB --detach`.",
        click.BOOL, ("run",), "Kubernetes", switch=True,
    )
    redis_forward: bool = setting(
        False, "Reach --redis-url's Service (its host: SERVICE[.NAMESPACE], as in the Redis "
        "Secret) from outside the cluster through a port-forward this client keeps up itself, "
        "to whichever pod serves it: no `kubectl port-forward` needed, and a replaced Redis pod "
        "does not end the run (with `status`, `stop`, `export`: the same, for the command).",
        click.BOOL, FORWARD, "Kubernetes", switch=True,
    )
    adaptive_max: int = setting(
        0, "Scale adaptively up to this many pods (0: fixed size).", COUNT, RUN, "Kubernetes",
    )
    slurm_jobs: int = setting(
        2, "Slurm jobs (--cluster slurm; a killed or retired one is replaced) or array tasks "
        "(sbatch-script).", POSITIVE, SLURM, "Slurm",
    )
    slurm_processes: int = setting(
        1, "Worker processes (drains) per Slurm job.", POSITIVE, SLURM, "Slurm",
    )
    slurm_cores: int = setting(
        1, "Cores per Slurm job (at least --slurm-processes).", POSITIVE, SLURM, "Slurm",
    )
    slurm_memory: str = setting("2GB", "Memory per Slurm job.", TEXT, SLURM, "Slurm")
    slurm_walltime: str = setting(
        "01:00:00", "Time limit per job (HH:MM:SS, D-HH:MM:SS); Dask workers retire before it, "
        "staggered, handing their tasks back.", Walltime(), SLURM, "Slurm",
    )
    slurm_partition: str | None = setting(
        None, "Partition of the jobs.", TEXT, SLURM, "Slurm", shown_default="the site's default",
    )
    slurm_account: str | None = setting(None, "Account charged.", TEXT, SLURM, "Slurm")
    slurm_directives: tuple[str, ...] = setting(
        (), "Extra #SBATCH options, ';'-separated ('--qos=short;--constraint=ib').",
        Directives(), SLURM, "Slurm",
    )
    slurm_prologue: str | None = setting(
        None, "Shell line run in each job before the workers (module load, a venv's activate).",
        TEXT, SLURM, "Slurm",
    )
    slurm_log_directory: str | None = setting(
        None, "Folder for the jobs' output files.", TEXT, SLURM, "Slurm",
        shown_default="the submitting folder",
    )
    slurm_interface: str | None = setting(
        None, "Network interface of the scheduler and workers (ib0, eth0).", TEXT, RUN, "Slurm",
        shown_default="the host's address",
    )
    redis_bind: str | None = setting(
        None, "Address the embedded Redis listens on, one the compute nodes reach (the login "
        "node's cluster address; 0.0.0.0: all, the URL then names this host).", TEXT, RUN,
        "Slurm", shown_default="127.0.0.1",
    )

    @classmethod
    def build(
        cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Merge flags (None means 'not given'), `CLOUDSURGE_*` variables and defaults; values
        may be text (as typed) or already typed."""
        flags = flags or {}
        env = os.environ if env is None else env
        known = {item.name: item for item in declared(cls)}
        unknown = set(flags) - set(known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, item in known.items():
            raw, origin = flags.get(name), item.flag
            if raw is None:
                raw, origin = env.get(item.variable), item.variable
            if raw is None or (raw == "" and item.default is None):
                continue
            values[name] = item.parse(raw, origin)
        return cls(**values)

    def __post_init__(self) -> None:
        """Checks that hold however the object was made (build, replace, or directly)."""
        check(self)
        if self.scheduler and self.cluster == ClusterKind.SLURM:
            raise ConfigError(f"--scheduler and --cluster {self.cluster} exclude each other")
        if self.detach and (self.cluster != ClusterKind.KUBERNETES or self.scheduler):
            raise ConfigError("--detach runs the client in Kubernetes: give --cluster kubernetes "
                              "(and no --scheduler)")
        if self.slurm_processes > self.slurm_cores:
            raise ConfigError("--slurm-processes must not exceed --slurm-cores (a core each)")
        if self.screening.active and self.format != SMILES.name:
            raise ConfigError("--screen, --screen-plugin and --stereo work on --format smiles")

    @property
    def generator_options(self) -> tuple[str, ...]:
        """What the generator gets besides the output format and a split: the preset's line,
        then --surge-options."""
        return PRESETS[self.preset] + self.surge_options

    @property
    def screening(self) -> ScreenSpec:
        return ScreenSpec(
            self.screen, self.screen_plugin, self.stereo, self.screen_unparsable == "keep"
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, validated like the original."""
        return dataclasses.replace(self, **changes)


STORED = tuple(item.name for item in declared(Settings) if item.stored)


@dataclass(frozen=True)
class JobMeta:
    """What every worker must know about a job, fixed when the job is queued and stored with
    it in Redis, so workers started elsewhere agree with the client: the job's own folder
    (`root`) and the settings declared `stored` (the others stay at their defaults)."""

    root: str
    settings: Settings

    @classmethod
    def of(cls, settings: Settings, job: str) -> JobMeta:
        return cls(job_url(settings.output, job), settings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the job's folder under the key `output`."""
        data: dict[str, Any] = {name: getattr(self.settings, name) for name in STORED}
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        data["output"] = self.root
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobMeta:
        stored = {name: data[name] for name in STORED if name in data}
        return cls(str(data["output"]), Settings.build(stored, env={}))
