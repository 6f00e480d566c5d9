"""`verify --deep` and `verify --rescreen N`: checks of a screened job beyond its manifests.

--deep runs the job's generator again with `-u` (count only, nothing written: far cheaper
than the run) on every committed task and compares its count with the `generated` the
manifest holds, so a screened job proves it saw every structure. --rescreen N draws N stored
structures at random and screens them again in a fresh screener: every one must pass (with
--stereo the stored stereoisomer is screened with its stereo removed, as its constitution
was).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import GeneratorError, StorageError, VerifyError
from ..formulae.task import Task
from ..generate.formats import get_format
from ..generate.generator import Generation, resolve_executable, takes_several_formulae
from ..output.codec import get_codec
from ..output.layout import MANIFESTS, manifest_path
from ..output.ledger import read_ledger
from ..output.manifest import Manifest
from ..screen.screener import Screener
from ..settings import JobMeta
from ..storage import Store

COUNT_ONLY = "-u"


@dataclass(frozen=True)
class Finding:
    tasks: int
    problems: list[str]


def _manifests(store: Store) -> Iterator[Manifest]:
    for relpath in store.list(MANIFESTS):
        if relpath.endswith(".json"):
            key = relpath[len(MANIFESTS) + 1 : -len(".json")]
            try:
                yield Manifest.from_json(store.read_bytes(manifest_path(key)))
            except (StorageError, VerifyError):
                continue  # the plain verify names it


def _count(executable: str, meta: JobMeta, task: Task, formulae: list[str] | None) -> int:
    with Generation(
        executable, task, meta.settings.generator_options, formulae=formulae, output=COUNT_ONLY
    ) as run:
        for _ in run.blocks():
            pass
        return run.result.structures


def job_meta(store: Store) -> JobMeta:
    """The job's queued settings, from its job.json (no Redis needed)."""
    ledger = read_ledger(store)
    if ledger is None or not ledger.settings:
        raise StorageError(f"{store.url}/job.json is missing: its settings are not known")
    return JobMeta.from_dict(ledger.settings)


def deep_check(store: Store, meta: JobMeta) -> Finding:
    """Each committed task's `generated` against the generator's own count, run again."""
    executable = resolve_executable(meta.settings.surge)
    several = takes_several_formulae(executable)
    problems: list[str] = []
    tasks = 0
    for manifest in _manifests(store):
        tasks += 1
        members = [formula for formula, _ in manifest.index]
        try:
            if not manifest.index:  # a formula, or one slice of it
                counted = _count(executable, meta, Task.from_key(manifest.task), None)
            elif several:
                counted = _count(executable, meta, Task.shard(members), members)
            else:
                counted = sum(_count(executable, meta, Task(f), None) for f in members)
        except GeneratorError as exc:
            problems.append(f"{manifest.task}: the generator failed to count it again: {exc}")
            continue
        claimed = manifest.generated or manifest.structures  # 0: written before the field
        if counted != claimed:
            problems.append(
                f"{manifest.task}: the generator counts {counted} structures, the manifest "
                f"says {claimed} were generated"
            )
    return Finding(tasks, problems)


def _draw(store: Store, count: int, seed: int | None) -> list[bytes]:
    """`count` stored structures drawn uniformly over the job (by part counts), in order."""
    manifests = list(_manifests(store))
    parts = [(m, p) for m in manifests for p in m.parts]
    total = sum(p.structures for _, p in parts)
    chooser = random.Random(seed)
    chosen = sorted(chooser.sample(range(total), min(count, total)))
    lines: list[bytes] = []
    start = 0
    want = iter(chosen)
    target = next(want, None)
    for manifest, part in parts:
        end = start + part.structures
        if target is not None and target < end:
            fmt = get_format(manifest.format)
            codec = get_codec(manifest.codec, content=fmt.extension)
            data = b"".join(codec.iter_decompress(store.read_bytes(part.path)))
            rows = data.split(b"\n")
            while target is not None and target < end:
                lines.append(rows[target - start])
                target = next(want, None)
        start = end
    return lines


def rescreen(store: Store, meta: JobMeta, count: int, seed: int | None = None) -> Finding:
    """Screen `count` stored structures again; each that fails is a problem."""
    spec = meta.settings.screening
    if not spec.active:
        return Finding(0, ["--rescreen: the job was not screened"])
    from rdkit import Chem

    screener = Screener(dataclasses.replace(spec, stereo=False))
    problems: list[str] = []
    drawn = _draw(store, count, seed)
    for line in drawn:
        smiles = line
        if spec.stereo:
            mol = Chem.MolFromSmiles(line.decode("ascii"))
            if mol is not None:
                Chem.RemoveStereochemistry(mol)
                smiles = Chem.MolToSmiles(mol).encode("ascii")
        out, tally = screener.screen([smiles])
        if not out:
            failed = [spec.labels[i] for i, n in enumerate(tally.removed) if n]
            why = failed[0] if failed else "unparsable"
            problems.append(f"rescreen: {line.decode('ascii')} fails {why}")
    return Finding(len(drawn), problems)
