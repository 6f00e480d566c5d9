"""The exception tree of cloudsurge-dask.

Every failure a user can meet is one of these, so the CLI can print one precise line
and exit non-zero instead of a traceback::

    CloudSurgeError
    ├── ConfigError            bad flag, env var or option value
    │   └── EngineMissing      the built-in engine is not installed (also a FileNotFoundError)
    ├── FormulaError           a formula line that fails the strict grammar (carries line number)
    ├── QueueError             Redis unreachable, refused, or the job is unknown
    ├── StorageError           the output URL cannot be written or read
    │   └── ObjectNotFound     a read asked for a missing object (also a FileNotFoundError)
    ├── GeneratorError         the structure generator failed for one formula
    │   ├── GeneratorRejected  it refused the formula (`>E ...`): permanent, never retried
    │   └── GeneratorCrashed   crash, timeout, garbage or a count mismatch: retried
    │       └── TornOutput     output that does not end with a newline (a run cut short)
    ├── ScreenError            screening failed for one task (a plugin raised, a screening
    │                          process died): retried like a crash
    ├── ClusterError           the Dask cluster could not be started or reached
    ├── RunInterrupted         SIGINT/SIGTERM before the run drove its job (exit 130/143)
    ├── VerifyError            an output part does not match its manifest
    │   └── CorruptData        a part or manifest that cannot be decoded at all
    └── ResultError            `cat` asked for structures that are not there
        ├── UnknownFormula     not a formula of the job (or of no finished task yet)
        └── NoStructures       in the job, but rejected, failed or not done yet
"""

from __future__ import annotations


class CloudSurgeError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CloudSurgeError):
    """A setting (flag, `CLOUDSURGE_*` variable or default) is invalid."""


class EngineMissing(ConfigError, FileNotFoundError):
    """The built-in engine's binary is not where the package installs it (catchable as either
    parent: a missing file is what it is, a broken install is what it means)."""


class FormulaError(CloudSurgeError):
    """A formula failed the strict grammar; `line` is 1-based when it came from a file."""

    def __init__(self, message: str, line: int | None = None, source: str | None = None):
        where = ""
        if source is not None and line is not None:
            where = f"{source}:{line}: "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(f"{where}{message}")
        self.line = line
        self.source = source


class QueueError(CloudSurgeError):
    """The Redis queue cannot be reached or is in an unexpected state."""


class StorageError(CloudSurgeError):
    """The output location cannot be written or read."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """A read asked for an object that does not exist (catchable as either parent)."""


class GeneratorError(CloudSurgeError):
    """The structure generator failed for one formula."""

    permanent = False


class GeneratorRejected(GeneratorError):
    """The generator refused the formula itself; retrying cannot help."""

    permanent = True


class GeneratorCrashed(GeneratorError):
    """The generator crashed, hung, or printed output that does not add up; worth a retry."""


class TornOutput(GeneratorCrashed):
    """Generator output that does not end with a newline: the run was cut short."""


class ScreenError(CloudSurgeError):
    """Screening a task's structures failed (a plugin raised or answered wrongly, a screening
    process died); the task fails with the message and is retried like a crash."""

    permanent = False


class ClusterError(CloudSurgeError):
    """The Dask cluster could not be created or reached."""


class RunInterrupted(CloudSurgeError):
    """A signal reached the client while it was still starting or resuming the job (later, a
    run ends as interrupted with its records saved); the exit status is the signal's, as for
    a run stopped later."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class VerifyError(CloudSurgeError):
    """An output part is missing, torn or altered with respect to its manifest."""


class CorruptData(VerifyError):
    """A stored part does not decompress, or a manifest does not parse."""


class ResultError(CloudSurgeError):
    """A formula's structures were asked for and cannot be given."""


class UnknownFormula(ResultError):
    """The formula is not part of the job (or, while it runs, of no finished task yet)."""


class NoStructures(ResultError):
    """The formula is in the job but has no stored structures: rejected, failed, unfinished."""
