"""One frozen settings object, built once by the CLI.

Each value comes from its command-line flag, else from the `CLOUDSURGE_<NAME>` environment
variable, else from the default here. Validation happens once, here, so the rest of the code
can trust a `Settings`. Nothing in this module touches the network or the disk.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError

DEFAULT_ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br", "I")
CODECS = ("zst", "gz", "zip")
CLUSTER_KINDS = ("local", "kubernetes")


def _positive_int(value: str | int) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be a positive whole number")
    return number


def _non_negative_int(value: str | int) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number, 0 or more")
    return number


def _non_negative_float(value: str | float) -> float:
    number = float(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _positive_float(value: str | float) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be a positive number of seconds")
    return number


def _words(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(value)


def _surge_options(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    from .generator import validate_options

    try:
        return validate_options(_words(value))
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("--surge-options: ")) from None


def _elements(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return tuple(value)


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _flag(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _optional_str(value: str | None) -> str | None:
    return value or None


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; see `python -m cloudsurge_dask run --help`."""

    # formulae
    max_heavy_atoms: int = 6
    elements: tuple[str, ...] = DEFAULT_ELEMENTS
    formulae: str | None = None
    # queue
    redis_url: str | None = None
    lease_seconds: float = 60.0
    max_attempts: int = 3
    batch_size: int = 4
    split_structures: int = 20_000_000
    shard_structures: int = 1_000_000
    shard_formulae: int = 256
    # generator
    surge: str | None = None
    surge_options: tuple[str, ...] = ()
    generator_timeout: float = 0.0
    # sink
    output: str = "./results"
    part_size: int = 10_000_000
    codec: str = "zst"
    # cluster
    cluster: str = "local"
    scheduler: str | None = None
    workers: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    # kubernetes
    image: str = "cloudsurge-dask-worker:latest"
    namespace: str = "default"
    pods: int = 2
    processes_per_pod: int = 1
    pod_cpu: str = "1"
    pod_memory: str = "2Gi"
    pod_ephemeral_storage: str = "1Gi"
    redis_secret: str = "cloudsurge-redis"
    storage_secret: str | None = None
    service_account: str | None = None
    adaptive_max: int = 0
    cluster_timeout: float = 300.0

    @classmethod
    def build(
        cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Merge flags (None means 'not given'), `CLOUDSURGE_*` variables and defaults."""
        flags = flags or {}
        env = os.environ if env is None else env
        unknown = set(flags) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = flags.get(field.name)
            origin = f"--{field.name.replace('_', '-')}"
            if raw is None:
                variable = f"CLOUDSURGE_{field.name.upper()}"
                if variable not in env:
                    continue
                raw, origin = env[variable], variable
            try:
                values[field.name] = _PARSERS[field.name](raw)
            except ValueError as exc:
                raise ConfigError(f"{origin}={raw!r}: {exc}") from None
        return cls(**values)

    def __post_init__(self) -> None:
        """Checks that hold however the object was made (build, replace, or directly)."""
        from .generator import validate_options

        validate_options(self.surge_options)
        if self.max_heavy_atoms > 32:
            raise ConfigError("--max-heavy-atoms: at most 32 heavy atoms are supported")
        if not self.elements:
            raise ConfigError("--elements: name at least one element")
        if self.scheduler and self.cluster == "kubernetes":
            raise ConfigError("--scheduler and --cluster kubernetes exclude each other")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, validated like the original."""
        return dataclasses.replace(self, **changes)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "max_heavy_atoms": _positive_int,
    "elements": _elements,
    "formulae": _optional_str,
    "redis_url": _optional_str,
    "lease_seconds": _positive_float,
    "max_attempts": _positive_int,
    "batch_size": _positive_int,
    "split_structures": _non_negative_int,
    "shard_structures": _non_negative_int,
    "shard_formulae": _positive_int,
    "surge": _optional_str,
    "surge_options": _surge_options,
    "generator_timeout": _non_negative_float,
    "output": str,
    "part_size": _positive_int,
    "codec": _choice(*CODECS),
    "cluster": _choice(*CLUSTER_KINDS),
    "scheduler": _optional_str,
    "workers": _positive_int,
    "image": str,
    "namespace": str,
    "pods": _positive_int,
    "processes_per_pod": _positive_int,
    "pod_cpu": str,
    "pod_memory": str,
    "pod_ephemeral_storage": str,
    "redis_secret": str,
    "storage_secret": _optional_str,
    "service_account": _optional_str,
    "adaptive_max": int,
    "cluster_timeout": _non_negative_float,
}


@dataclass(frozen=True)
class JobMeta:
    """The part of the settings every worker must know about a job, fixed when the job is
    queued and stored with it in Redis, so workers started elsewhere agree with the client."""

    output: str
    surge: str | None
    surge_options: tuple[str, ...]
    part_size: int
    codec: str
    generator_timeout: float
    lease_seconds: float
    max_attempts: int
    batch_size: int

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["surge_options"] = list(self.surge_options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobMeta:
        values = {name: data[name] for name in cls.__dataclass_fields__}
        values["surge_options"] = tuple(values["surge_options"])
        return cls(**values)
