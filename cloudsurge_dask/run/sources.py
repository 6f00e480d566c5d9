"""A task's generator runs, the sources a worker stages into its sink: a shard in one process
(the built-in engine takes several formulae), or one process per formula; and what each
formula got of them (its count, seconds, bytes, or the generator's refusal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import overload

from ..errors import GeneratorRejected
from ..formulae.task import Task
from ..generate.framed import CompressedPart
from ..generate.generator import Generation
from ..settings import Settings


@dataclass(frozen=True)
class FormulaRun:
    """One formula's share of a task: its count, generator wall and CPU seconds and output
    bytes (None when several formulae shared one process); `error` if the generator refused
    it."""

    formula: str
    structures: int
    seconds: float
    raw_bytes: int | None
    error: str | None = None
    cpu_seconds: float = 0.0


# a source of one task's generator output, each block tagged with its formula: fills the
# list with one FormulaRun per formula as the generator runs end, so the list is complete
# once the blocks are exhausted
Source = Callable[[Task, list[FormulaRun]], Iterator[tuple[str, bytearray]]]


class GeneratorRuns:
    """Runs `executable` with a job's generator options, timeout and output format."""

    def __init__(self, executable: str, settings: Settings, output: str) -> None:
        self.executable, self.settings, self.output = executable, settings, output

    def generation(
        self, task: Task, formulae: list[str] | None = None, parts: str | None = None
    ) -> Generation:
        return Generation(
            self.executable,
            task,
            self.settings.generator_options,
            self.settings.generator_timeout,
            formulae=formulae,
            output=self.output,
            parts=parts,
        )

    @overload
    def batch(
        self, task: Task, runs: list[FormulaRun], *, refused: dict[str, str], framed: None = None
    ) -> Iterator[tuple[str, bytearray]]: ...

    @overload
    def batch(
        self, task: Task, runs: list[FormulaRun], *, refused: dict[str, str], framed: str
    ) -> Iterator[CompressedPart]: ...

    def batch(
        self,
        task: Task,
        runs: list[FormulaRun],
        *,
        refused: dict[str, str],
        framed: str | None = None,
    ) -> Iterator[tuple[str, bytearray] | CompressedPart]:
        """All formulae of a shard but the refused ones in one generator process: its blocks
        tagged with the shard (formula boundaries are known only at the end), or with
        `framed` (the engine's parts option) the parts it compressed."""
        chosen = [formula for formula in task.formulae if formula not in refused]
        with self.generation(task, chosen, framed) as generation:
            if framed:
                yield from generation.parts()
            else:
                for block in generation.blocks():
                    yield task.formula, block
            result = generation.result
        total = max(sum(result.times), 1e-9)
        measured = iter(zip(result.counts, result.times, strict=True))
        for formula in task.formulae:
            if formula in refused:
                runs.append(FormulaRun(formula, 0, 0.0, 0, refused[formula]))
                continue
            count, seconds = next(measured)
            share = seconds / total
            runs.append(FormulaRun(
                formula, count, result.wall_seconds * share, None,
                cpu_seconds=result.cpu_seconds * share,
            ))  # fmt: skip

    def one_by_one(self, task: Task, runs: list[FormulaRun]) -> Iterator[tuple[str, bytearray]]:
        """One generator process per formula of the task, their outputs one after another,
        each block tagged with its formula (what screening counts by)."""
        for formula in task.formulae:
            single = Task(formula) if task.members else task
            wrote = 0
            with self.generation(single) as generation:
                try:
                    for block in generation.blocks():
                        wrote += len(block)
                        yield formula, block
                except GeneratorRejected as exc:
                    if wrote or not task.members:
                        raise
                    runs.append(FormulaRun(formula, 0, 0.0, 0, str(exc)))
                    continue
                result = generation.result
            runs.append(FormulaRun(
                formula, result.structures, result.wall_seconds, wrote,
                cpu_seconds=result.cpu_seconds,
            ))  # fmt: skip
