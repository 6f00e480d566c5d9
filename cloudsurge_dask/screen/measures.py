"""What a RANGE screen measures: RDKit's descriptors and the three model scores.

Each function returns exactly what the function a user would call returns: RDKit's
`Descriptors` entries, `QED.qed`, Contrib's `sascorer.calculateScore`, and Contrib's
`npscorer.scoreMol`, computed here with the Morgan generator and the model loaded once per
process instead of once per molecule (the same arithmetic in the same order, so the same
floats; a test compares them). Models are loaded on first use, never at import time.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

Measure = Callable[[Any], float]


def contrib_dir() -> Path:
    from rdkit import RDConfig

    return Path(RDConfig.RDContribDir)


def model_files() -> dict[str, Path]:
    """The model files the scores read (they ship inside RDKit's wheel)."""
    root = contrib_dir()
    return {
        "np_likeness": root / "NP_Score" / "publicnp.model.gz",
        "sa_score": root / "SA_Score" / "fpscores.pkl.gz",
    }


def model_checksums(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """sha256 of each model file a job's screens use (job.json keeps them, so a result can be
    traced to the model that chose it)."""
    files = model_files()
    return {
        name: hashlib.sha256(files[name].read_bytes()).hexdigest()
        for name in names
        if name in files
    }


@functools.cache
def _np_model() -> dict[int, float]:
    with gzip.open(model_files()["np_likeness"]) as handle:
        model: dict[int, float] = pickle.load(handle)
    return model


def _np_likeness() -> Measure:
    """Contrib's `scoreMolWConfidence(...).nplikeness` with its Morgan generator built once."""
    from rdkit.Chem import rdFingerprintGenerator

    model = _np_model()
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

    def score(mol: Any) -> float:
        bits = generator.GetSparseCountFingerprint(mol).GetNonzeroElements()
        value = 0.0
        for bit in bits:
            if bit in model:
                value += model[bit]
        value /= float(mol.GetNumAtoms())
        if value > 4:
            value = 4.0 + math.log10(value - 4.0 + 1.0)
        elif value < -4:
            value = -4.0 - math.log10(-4.0 - value + 1.0)
        return value

    return score


def _sa_score() -> Measure:
    from rdkit.Contrib.SA_Score import sascorer

    sascorer.readFragmentScores()
    return sascorer.calculateScore


def _qed() -> Measure:
    from rdkit.Chem import QED

    return QED.qed


@functools.cache
def measure(name: str) -> Measure:
    """The function for a descriptor or model score name (checked by the grammar)."""
    if name == "np_likeness":
        return _np_likeness()
    if name == "sa_score":
        return _sa_score()
    if name == "qed":
        return _qed()
    from rdkit.Chem import Descriptors

    return dict(Descriptors.descList)[name]
