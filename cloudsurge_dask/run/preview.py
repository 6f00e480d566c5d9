"""`plan`: what a run will cost before it is paid for, from real structures.

The size model estimates each formula's structures; formulae drawn with probability
proportional to that size (with replacement) are then really generated, one `-m` slice each
when large, with the job's own options. That measures how far the options take the estimate
(a factor applied to every formula), the generator's time per structure, and, screening a
sample of each slice's structures with the job's own Screener, each screen's pass rate
(alone), the combined pass rate, the stereoisomers per kept structure, and the microseconds
per structure. The mean over the draws (each weighted by how far the size model was off for
its formula) estimates the job's rates; kept structures, bytes, CPU-hours and the wall time
on the configured cluster follow.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError, GeneratorRejected
from ..formulae.estimate import estimate_many
from ..formulae.formula import Formula
from ..formulae.task import Task
from ..generate.generator import Generation, resolve_executable
from ..output.codec import get_codec
from ..screen.screener import Screener
from ..settings import Settings

START_SECONDS = 0.002  # a generator process's start and end (a screened task runs one per formula)
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
    generator_us: float  # per structure, beyond the process's start
    screen_us: float
    stored_bytes: int  # compressed, of the kept sample's output
    start_seconds: float = 0.0  # the generator process's wall time, all of it


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
        max(seconds - START_SECONDS, 0.0) / max(result.structures, 1) * 1e6, screen_us,
        compressed, seconds,
    )  # fmt: skip


def preview(settings: Settings, formulae: Sequence[Formula], cores: int, *, samples: int = 500,
            draws: int = 60, seed: int = 0) -> Preview:  # fmt: skip
    """Sample, measure and project the job these settings and formulae describe.

    `draws` formulae are drawn with probability proportional to their estimated size (with
    replacement): a job's kept structures are the sum of each formula's structures times its
    pass rate, and the mean pass rate over such draws estimates it without bias, whichever
    formulae the screens favour (Hansen-Hurwitz)."""
    sizes = [float(e) for e in estimate_many(list(formulae))]
    executable = resolve_executable(settings.surge)
    spec = settings.screening
    screener = Screener(spec) if spec.active else None
    picked = random.Random(seed).choices(range(len(formulae)), weights=sizes, k=draws)
    measured: dict[int, Sample | None] = {}
    for i in dict.fromkeys(picked):
        measured[i] = _sample(
            settings, executable, screener, formulae[i], sizes[i], samples, seed + i
        )
    taken = [(i, sample) for i, sample in ((i, measured[i]) for i in picked) if sample]
    distinct = [(i, s) for i, s in measured.items() if s is not None]
    if not taken:
        raise ConfigError("plan: the generator refused every sampled formula")
    factor = sum(s.generated * s.mod for _, s in distinct) / max(
        sum(sizes[i] for i, _ in distinct), 1.0
    )
    generated = sum(sizes) * factor
    # each draw weighs what the size model got wrong about its formula (measured / estimated),
    # so the rates are those of the structures, not of the model's idea of them
    weights = [s.generated * s.mod / max(sizes[i], 1.0) for i, s in taken]

    def mean(values: list[float]) -> float:
        return sum(w * v for w, v in zip(weights, values, strict=True)) / max(sum(weights), 1e-12)

    samples_ = [s for _, s in taken]
    rate = mean([s.kept / max(s.screened, 1) for s in samples_])
    stored_rate = mean([s.stored / max(s.screened, 1) for s in samples_])
    per_stored = sum(s.stored_bytes for s in samples_) / max(sum(s.stored for s in samples_), 1)
    screen_us = mean([s.screen_us for s in samples_])
    generator_us = mean([s.generator_us for s in samples_])
    cpu = generated * (screen_us + generator_us) / 1e6 + len(formulae) * START_SECONDS
    rates = [
        mean([s.passes[k] / max(s.screened, 1) for s in samples_]) for k in range(len(spec.labels))
    ]
    return Preview(
        formulae=len(formulae), estimated_generated=sum(sizes), option_factor=factor,
        generated=generated, kept=generated * rate, stored=generated * stored_rate,
        bytes=generated * stored_rate * per_stored, cpu_hours=cpu / 3600, cores=cores,
        wall_hours=cpu / 3600 / max(cores, 1), screens=list(spec.labels), pass_rates=rates,
        screen_us=screen_us, generator_us=generator_us, samples=[s for _, s in distinct],
    )  # fmt: skip
