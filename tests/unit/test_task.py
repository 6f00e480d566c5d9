"""Task keys and queue specs: whole formulae, split slices and shards."""

from __future__ import annotations

import pytest

from cloudsurge_dask.formulae.task import Task


@pytest.mark.parametrize(
    "task",
    [Task("C8H11NO"), Task("C8H11NO", 3, 16), Task.shard(["CH4", "C2H6", "H2O"])],
)
def test_spec_round_trip(task: Task) -> None:
    assert Task.from_spec(task.spec) == task
    assert "/" not in task.key and " " not in task.key


def test_shard_shape() -> None:
    shard = Task.shard(["CH4", "C2H6", "H2O"])
    assert shard.formulae == ("CH4", "C2H6", "H2O")
    assert shard.key == "CH4+2"
    assert shard.split_options == ()
    assert Task.shard(["CH4"]) == Task("CH4")


def test_split_options() -> None:
    assert Task("C8H11NO", 3, 16).split_options == ("-m3/16",)
    assert Task("C8H11NO").split_options == ()


@pytest.mark.parametrize(("res", "mod"), [(-1, 2), (2, 2), (0, 0)])
def test_bad_split(res: int, mod: int) -> None:
    with pytest.raises(ValueError):
        Task("CH4", res, mod)


@pytest.mark.parametrize("spec", ["", "C8H11NO~3of", "a/b", "CH4,", ",CH4", "C H4"])
def test_bad_spec(spec: str) -> None:
    with pytest.raises(ValueError):
        Task.from_spec(spec)
