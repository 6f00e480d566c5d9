"""`plan`: what a run will cost before it is paid for, from real structures.

The size model estimates each formula's structures; a few formulae (the largest, and some
small ones drawn at random) are then really generated, one `-m` slice each when large, with
the job's own options. That measures how far the options take the estimate (a factor applied
to every formula), the generator's time per structure, and, screening a sample of each
slice's structures with the job's own Screener, each screen's pass rate (alone), the
combined pass rate, the stereoisomers per kept structure, and the microseconds per
structure. Each formula takes the rates of the sampled formula nearest to it in size. Kept
structures, bytes, CPU-hours and the wall time on the configured cluster follow.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..codec import get_codec
from ..errors import ConfigError, GeneratorRejected
from ..estimate import estimate_many
from ..formula import Formula
from ..generator import Generation, resolve_executable
from ..settings import Settings
from ..task import Task
from .screener import Screener

SLICE_TARGET = 40_000  # structures generated per sampled slice (one -m slice of a large formula)


@dataclass
class Sample:
    """One really generated formula (or one slice of it, scaled by `mod`)."""

    formula: str
    mod: int
    generated: int  # in the slice
    screened: int
    kept: int
    stored: int
    passes: list[int]  # per screen, alone
    generator_us: float
    screen_us: float
    stored_bytes: int  # compressed, of the kept sample's output


@dataclass
class Preview:
    formulae: int
    estimated_generated: float
    option_factor: float
    generated: float
    kept: float
    stored: float
    bytes: float
    cpu_hours: float
    cores: int
    wall_hours: float
    screens: list[str]
    pass_rates: list[float]
    screen_us: float
    generator_us: float
    samples: list[Sample] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"formulae: {self.formulae:,}",
            f"generated: ~{self.generated:,.0f} structures (size model "
            f"{self.estimated_generated:,.0f} x {self.option_factor:.3g} measured for the "
            "generator options)",
        ]
        for label, rate in zip(self.screens, self.pass_rates, strict=True):
            lines.append(f"  screen {label!r}: passes {rate:.1%} alone")
        lines += [
            f"kept: ~{self.kept:,.0f} ({self.kept / max(self.generated, 1):.2%})"
            + (f", ~{self.stored:,.0f} stereoisomers stored" if self.stored != self.kept else ""),
            f"stored: ~{self.bytes / 1e6:,.1f} MB compressed",
            f"cost: generator {self.generator_us:,.2f} us + screening {self.screen_us:,.1f} us per "
            f"structure generated = ~{self.cpu_hours:,.2f} CPU-hours",
            f"wall: ~{self.wall_hours * 60:,.1f} minutes on {self.cores} core(s) "
            "(drains x screening processes)",
            "sampled: " + ", ".join(f"{s.formula} (1/{s.mod})" for s in self.samples),
        ]
        return "\n".join(lines)


def _chosen(formulae: Sequence[Formula], sizes: Sequence[float], large: int, small: int,
            seed: int) -> list[int]:  # fmt: skip
    order = sorted(range(len(formulae)), key=lambda i: -sizes[i])
    picked = order[:large]
    rest = order[large:]
    picked += random.Random(seed).sample(rest, min(small, len(rest)))
    return picked


def _sample(settings: Settings, executable: str, screener: Screener | None, formula: Formula,
            size: float, count: int, seed: int) -> Sample | None:  # fmt: skip
    """None for a formula the generator refuses (it has no structures to sample)."""
    mod = max(1, math.ceil(size / SLICE_TARGET))
    res = random.Random(seed).randrange(mod)
    task = Task(formula.hill, res, mod) if mod > 1 else Task(formula.hill)
    clock = time.perf_counter()
    try:
        with Generation(executable, task, settings.generator_options) as run:
            data = b"".join(run.blocks())
            result = run.result
    except GeneratorRejected:
        return None
    seconds = time.perf_counter() - clock
    lines = data.splitlines()
    chosen = random.Random(seed).sample(lines, min(count, len(lines)))
    spec = settings.screening
    kept = stored = len(chosen)
    passes: list[int] = []
    screen_us = 0.0
    out = b"".join(line + b"\n" for line in chosen)
    if screener is not None and chosen:
        clock = time.process_time()
        out, tally = screener.screen(chosen)
        screen_us = (time.process_time() - clock) / len(chosen) * 1e6
        kept, stored = tally.kept, tally.stored
        singles = [Screener(type(spec)((text,))) for text in spec.screens]
        passes = [single.screen(chosen)[1].kept for single in singles]
        if spec.plugin:
            passes.append(Screener(type(spec)(plugin=spec.plugin)).screen(chosen)[1].kept)
    compressed = len(get_codec(settings.codec).compress(out, "sample.smi")) if out else 0
    return Sample(
        formula.hill, mod, result.structures, len(chosen), kept, stored, passes,
        seconds / max(result.structures, 1) * 1e6, screen_us, compressed,
    )  # fmt: skip


def preview(settings: Settings, formulae: Sequence[Formula], cores: int, *, samples: int = 2000,
            large: int = 3, small: int = 5, seed: int = 0) -> Preview:  # fmt: skip
    """Sample, measure and project the job these settings and formulae describe."""
    sizes = [float(e) for e in estimate_many(list(formulae))]
    executable = resolve_executable(settings.surge)
    spec = settings.screening
    screener = Screener(spec) if spec.active else None
    picked = _chosen(formulae, sizes, large, small, seed)
    drawn = [
        (i, _sample(settings, executable, screener, formulae[i], sizes[i], samples, seed + i))
        for i in picked
    ]
    taken = [(i, s) for i, s in drawn if s is not None]
    if not taken:
        raise ConfigError("plan: the generator refused every sampled formula")
    measured = sum(s.generated * s.mod for _, s in taken)
    factor = measured / max(sum(sizes[i] for i, _ in taken), 1.0)
    generated = kept = stored = size = cpu = 0.0
    for i, value in enumerate(sizes):
        near = min(taken, key=lambda pair: abs(math.log1p(sizes[pair[0]]) - math.log1p(value)))[1]
        made = value * factor
        if i in picked:  # measured (0 if refused)
            made = float(sum(s.generated * s.mod for j, s in taken if j == i))
        rate = near.kept / max(near.screened, 1)
        expand = near.stored / max(near.kept, 1)
        generated += made
        kept += made * rate
        stored += made * rate * expand
        size += made * rate * expand * near.stored_bytes / max(near.stored, 1)
        cpu += made * (near.generator_us + near.screen_us) / 1e6
    screened = sum(s.screened for _, s in taken)
    rates = [sum(s.passes[k] for _, s in taken) / max(screened, 1) for k in range(len(spec.labels))]
    weight = max(sum(s.screened for _, s in taken), 1)
    return Preview(
        formulae=len(formulae), estimated_generated=sum(sizes), option_factor=factor,
        generated=generated, kept=kept, stored=stored, bytes=size, cpu_hours=cpu / 3600,
        cores=cores, wall_hours=cpu / 3600 / max(cores, 1), screens=list(spec.labels),
        pass_rates=rates,
        screen_us=sum(s.screen_us * s.screened for _, s in taken) / weight,
        generator_us=sum(s.generator_us * s.generated for _, s in taken)
        / max(sum(s.generated for _, s in taken), 1),
        samples=[s for _, s in taken],
    )  # fmt: skip
