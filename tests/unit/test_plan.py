"""Planning tasks: giants split, dwarfs sharded, largest first, nothing lost or doubled."""

from __future__ import annotations

from support.refdata import hill_counts

from cloudsurge_dask.formulae.estimate import estimate_structures
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.formulae.plan import MIN_SLICE, PlanOptions, plan_tasks


def formulae(names: list[str]) -> list:
    return [parse_formula(n) for n in names]


def covered(tasks: list) -> list[str]:
    return sorted(f for task in tasks if task.res == 0 for f in task.formulae)


def test_every_formula_once_whatever_the_options() -> None:
    names = [*sorted(hill_counts())[:400], "C11H14O", "C10H16O2"]
    for options in (
        PlanOptions(),
        PlanOptions(split_structures=2_000_000),
        PlanOptions(shard_structures=50_000, shard_formulae=32),
        PlanOptions(split_structures=2_000_000, shard_structures=50_000, drains=2),
    ):
        tasks = plan_tasks(formulae(names), options)
        assert covered(tasks) == sorted(names), options
        keys = [t.key for t in tasks]
        assert len(keys) == len(set(keys))
        for task in tasks:
            assert len(task.formulae) <= options.shard_formulae or task.mod == 1


def test_giant_is_split_into_complete_slices() -> None:
    tasks = plan_tasks(formulae(["C11H14O", "CH4"]), PlanOptions(split_structures=2_000_000))
    slices = [t for t in tasks if t.formula == "C11H14O"]
    mod = slices[0].mod
    assert mod > 1 and sorted(t.res for t in slices) == list(range(mod))
    assert tasks[-1].formula == "CH4"  # largest first


def test_drains_shrink_slices_but_not_below_the_floor() -> None:
    giant = parse_formula("C11H14O")
    few = plan_tasks([giant], PlanOptions(split_structures=10**9, drains=1))
    many = plan_tasks([giant], PlanOptions(split_structures=10**9, drains=64))
    assert len(many) > len(few)
    assert len(many) <= estimate_structures(giant) / MIN_SLICE + 1


def test_shards_respect_size_and_count() -> None:
    names = sorted(hill_counts())[:300]
    options = PlanOptions(shard_structures=2_000, shard_formulae=20)
    tasks = plan_tasks(formulae(names), options)
    shards = [t for t in tasks if t.members]
    assert shards and all(len(t.members) <= 20 for t in shards)
    for shard in shards:
        assert sum(estimate_structures(parse_formula(f)) for f in shard.members) <= 2_000 * 2
