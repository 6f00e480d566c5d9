"""From formulae to queued tasks: split the giants, shard the dwarfs, largest first.

Formula sizes span nine orders of magnitude. A giant formula alone would keep one worker
busy while the others idle, so it becomes `-m res/mod` slices of about `split_structures`
each; thousands of tiny formulae would pay process start-up, a file and a Redis round trip
apiece, so consecutive small ones become shards of about `shard_structures` (at most
`shard_formulae` formulae) that share one set of parts. Sizes come from `estimate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .formula import Formula
from .task import Task

MIN_SLICE = 1_000_000  # below this a slice costs more in start-up than it saves
SLICES_PER_DRAIN = 4  # the estimate can be off by 2x or more: leave room to even out
MIN_SHARD = 10_000  # a shard's formulae still run in one process: keep it worth one task
SHARDS_PER_DRAIN = 8  # shards come last in the queue: small enough to even out the tail
SCREEN_WEIGHT = 100  # a screened structure costs 100 to 3,000 times its generation


@dataclass(frozen=True)
class PlanOptions:
    split_structures: int = 0  # 0: never split
    shard_structures: int = 0  # 0: never shard
    shard_formulae: int = 256
    drains: int = 0  # when known, slices shrink so the largest task is ~1/4 of a drain's share
    weight: int = 1  # what a structure costs, in generations of one (SCREEN_WEIGHT: screened)

    def targets(self, total: float) -> tuple[int, int]:
        """(split, shard) structure targets for a job of `total` estimated structures; a
        screened job's tasks hold `weight` times fewer structures, so they take about as
        long as an unscreened job's."""
        split = self.split_structures // self.weight if self.split_structures else 0
        shard = self.shard_structures // self.weight if self.shard_structures else 0
        if self.drains:
            share = total / self.drains
            if split:
                split = int(min(split, max(share / SLICES_PER_DRAIN, MIN_SLICE // self.weight)))
            if shard:
                shard = int(min(shard, max(share / SHARDS_PER_DRAIN, MIN_SHARD // self.weight)))
        return max(split, 1) if split else 0, max(shard, 1) if shard else 0


def plan_tasks(
    formulae: Sequence[Formula], options: PlanOptions, estimates: Sequence[float] | None = None
) -> list[Task]:
    """Tasks in the order to run them: estimated size, largest first. `estimates` (one per
    formula, from `estimate.estimate_many`) when the caller has them already."""
    if not formulae:
        return []
    from .estimate import estimate_many, split_count

    if estimates is None:
        estimates = [float(e) for e in estimate_many(list(formulae))]
    ranked = sorted(zip(formulae, estimates, strict=True), key=lambda p: (-p[1], p[0].hill))
    split, shard_target = options.targets(sum(estimates))
    sized: list[tuple[float, Task]] = []
    shard: list[str] = []
    shard_size = 0.0

    def close_shard() -> None:
        nonlocal shard, shard_size
        if shard:
            sized.append((shard_size, Task.shard(shard)))
        shard, shard_size = [], 0.0

    for formula, estimate in ranked:
        if split and estimate > split:
            mod = split_count(formula, split)
            sized.extend((estimate / mod, Task(formula.hill, res, mod)) for res in range(mod))
        elif shard_target and estimate < shard_target:
            if shard and (
                shard_size + estimate > shard_target or len(shard) >= options.shard_formulae
            ):
                close_shard()
            shard.append(formula.hill)
            shard_size += estimate
        else:
            sized.append((estimate, Task(formula.hill)))
    close_shard()
    sized.sort(key=lambda pair: -pair[0])
    return [task for _, task in sized]
