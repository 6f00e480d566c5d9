"""The formula list of a run: every formula with 1..N heavy atoms over some elements (via
CDK), or the formulae of a file.

CDK (through JPype) enumerates the heavy-atom multisets, so the project's formula set comes
from the same chemistry toolkit users know; Python only applies the hydrogen rule (every
count from sum(valence-2)+2 down to 0 in steps of 2), which CDK's own rules cannot express
with the generator's lowest valences.

The trick that makes CDK's mass-window generator enumerate by *atom count*: each element
gets a synthetic isotope of mass 1 + i*EPSILON (distinct, because CDK's full enumerator
merges equal masses), so a formula's mass lies within 0.5 of its number of heavy atoms and
the window [0.5, N+0.5] holds exactly the multisets with 1..N atoms.
"""

from __future__ import annotations

import contextlib
import math
import os
import stat
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from fsspec.compression import compr
from fsspec.utils import infer_compression

from ..errors import ConfigError, FormulaError, StorageError
from ..storage import open_file
from .formula import (
    MAX_HEAVY_ATOMS,
    Formula,
    check_formula,
    element_problem,
    max_hydrogens,
    parse_formula,
)

CDK_JAR_DIR = Path("/usr/share/java")
DEBIAN_PACKAGES = "default-jre-headless libcdk-java"
EPSILON = 1e-3  # 32 atoms * 9 * EPSILON stays far below the 0.5 margin of the window
MAX_MULTISETS = 2_000_000  # beyond this the formula list alone would take gigabytes
MAX_LINE_BYTES = 4096  # a longer line in a formula file is junk, not a formula
PARSE_CACHE_LINES = 1 << 16  # bounds the memory spent on remembering parsed lines
SHOWN_BAD_LINES = 5  # bad lines quoted in a file's error; the rest are only counted

_BLANK = b" \t\r\n\x0b\x0c"
_START_LOCK = threading.Lock()
_classes: dict[str, Any] = {}


def _check_installation(jar_dir: Path = CDK_JAR_DIR) -> None:
    """Raise ConfigError naming the Debian packages if Java or the CDK jars are missing."""
    import jpype

    if not list(jar_dir.glob("cdk-formula*.jar")):
        raise ConfigError(
            f"the CDK jars are missing from {jar_dir}: install the Debian packages "
            f"{DEBIAN_PACKAGES}"
        )
    try:
        jpype.getDefaultJVMPath()
    except jpype.JVMNotFoundException as exc:
        raise ConfigError(
            f"no Java runtime found ({exc}): install the Debian packages {DEBIAN_PACKAGES}"
        ) from None


def _cdk() -> dict[str, Any]:
    """The CDK classes, starting the JVM on first use (once per process, never at import)."""
    with _START_LOCK:
        if _classes:
            return _classes
        import jpype

        if not jpype.isJVMStarted():
            _check_installation()
            # -Xrs: SIGINT and SIGTERM stay Python's, so a run stops cleanly (see interruption)
            jpype.startJVM(
                "-Xrs", classpath=[f"{CDK_JAR_DIR}/*"], convertStrings=False, interrupt=False
            )
            _quiet_slf4j(jpype)
        try:
            for name in ("MolecularFormulaRange", "MolecularFormulaGenerator"):
                _classes[name] = jpype.JClass(f"org.openscience.cdk.formula.{name}")
            _classes["Manipulator"] = jpype.JClass(
                "org.openscience.cdk.tools.manipulator.MolecularFormulaManipulator"
            )
            _classes["builder"] = jpype.JClass(
                "org.openscience.cdk.silent.SilentChemObjectBuilder"
            ).getInstance()
            _classes["IIsotope"] = jpype.JClass("org.openscience.cdk.interfaces.IIsotope")
        except (TypeError, jpype.JException) as exc:
            _classes.clear()
            raise ConfigError(
                f"CDK classes not found on the JVM class path ({exc}): install the Debian "
                f"packages {DEBIAN_PACKAGES}, and start no JVM without them before this one"
            ) from None
        return _classes


def _quiet_slf4j(jpype: Any) -> None:
    """Let SLF4J pick its binding with stderr muted: its many-bindings warning is noise."""
    system = jpype.JClass("java.lang.System")
    stream = jpype.JClass("java.io.PrintStream")
    null = jpype.JClass("java.io.OutputStream").nullOutputStream()
    saved = system.err
    system.setErr(stream(null))
    try:
        jpype.JClass("org.slf4j.LoggerFactory").getILoggerFactory()
    except jpype.JException:
        pass  # no SLF4J on the class path: nothing to quiet
    finally:
        system.setErr(saved)


def _check_request(max_heavy_atoms: int, elements: Sequence[str]) -> list[str]:
    if isinstance(elements, str):
        raise ConfigError(f"elements must be a sequence of symbols, not the string {elements!r}")
    if not isinstance(max_heavy_atoms, int) or not 1 <= max_heavy_atoms <= MAX_HEAVY_ATOMS:
        raise ConfigError(
            f"max heavy atoms must be a whole number from 1 to {MAX_HEAVY_ATOMS}, "
            f"not {max_heavy_atoms!r}"
        )
    chosen = list(dict.fromkeys(elements))
    problem = element_problem(chosen)
    if problem:
        raise ConfigError(problem)
    multisets = math.comb(max_heavy_atoms + len(chosen), len(chosen)) - 1
    if multisets > MAX_MULTISETS:
        raise ConfigError(
            f"{max_heavy_atoms} heavy atoms over {len(chosen)} elements give {multisets:,} "
            f"heavy-atom combinations (limit {MAX_MULTISETS:,}): use fewer atoms or elements, "
            "or pass a formula file"
        )
    return chosen


def heavy_atom_sets(max_heavy_atoms: int, elements: Sequence[str]) -> list[dict[str, int]]:
    """Every multiset of 1..N heavy atoms over the elements, enumerated by CDK."""
    chosen = _check_request(max_heavy_atoms, elements)
    cdk = _cdk()
    ranges = cdk["MolecularFormulaRange"]()
    for index, element in enumerate(chosen):
        isotope = cdk["builder"].newInstance(cdk["IIsotope"], element)
        isotope.setExactMass(1.0 + index * EPSILON)
        ranges.addIsotope(isotope, 0, max_heavy_atoms)
    generator = cdk["MolecularFormulaGenerator"](cdk["builder"], 0.5, max_heavy_atoms + 0.5, ranges)
    to_string = cdk["Manipulator"].getString
    found: list[dict[str, int]] = []
    while (cdk_formula := generator.getNextFormula()) is not None:
        found.append(dict(parse_formula(str(to_string(cdk_formula))).counts))
    return found


def generate_formulae(max_heavy_atoms: int, elements: Sequence[str]) -> list[Formula]:
    """All formulae with 1..N heavy atoms over the elements, by heavy atoms then Hill string.

    For each heavy-atom multiset from CDK, every hydrogen count from the most the atoms can
    carry down to 0 in steps of 2 (none if that most is negative).
    """
    formulae: list[Formula] = []
    for counts in heavy_atom_sets(max_heavy_atoms, elements):
        pairs = tuple(counts.items())
        formulae.extend(Formula(pairs, h) for h in range(max_hydrogens(pairs), -1, -2))
    formulae.sort(key=lambda formula: (formula.heavy_atoms, formula.hill))
    return formulae


def _raw_lines(handle: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[bytes | None]:
    """Yield the lines of a binary stream without their newline; None for an overlong line."""
    rest = b""
    overlong = False
    while chunk := handle.read(chunk_size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for raw in lines:
            yield None if overlong or len(raw) > MAX_LINE_BYTES else raw
            overlong = False
        if len(rest) > MAX_LINE_BYTES:
            overlong, rest = True, b""
    if rest or overlong:
        yield None if overlong or len(rest) > MAX_LINE_BYTES else rest


def _pipe(path_or_url: str) -> str | None:
    """The local path, if `path_or_url` is a pipe or FIFO (`--formulae <(grep ... list)`),
    which fsspec cannot open: it seeks to learn the size."""
    path = path_or_url.removeprefix("file://")
    if "://" in path:
        return None
    try:
        return path if stat.S_ISFIFO(os.stat(path).st_mode) else None
    except OSError:
        return None


@contextlib.contextmanager
def _read_formulae(path_or_url: str) -> Iterator[IO[bytes]]:
    """The file as bytes, decompressed as its name says (`.gz`, `.zst`, ...), pipes too."""
    path = _pipe(path_or_url)
    if path is None:
        with open_file(path_or_url, "rb") as handle:
            yield handle
        return
    codec = infer_compression(path)
    with open(path, "rb") as raw:
        if codec is None:
            yield raw
            return
        with compr[codec](raw, mode="rb") as handle:
            yield handle


def read_formula_file(path_or_url: str) -> list[Formula]:
    """Every formula of a file (local, `memory://`, `gs://`, optionally compressed), in order.

    Blank lines and lines starting with `#` are skipped and duplicates keep their first
    occurrence. If any line is bad nothing is returned: one FormulaError quotes the first
    few bad lines with their numbers and counts them all, so a user fixes a file in one go.
    """
    seen: dict[Formula, None] = {}
    parsed: dict[bytes, Formula | str] = {}  # repeated lines are parsed once
    bad: list[tuple[int, str]] = []
    bad_count = 0
    try:
        with _read_formulae(path_or_url) as handle:
            for number, raw in enumerate(_raw_lines(handle), start=1):
                if raw is None:
                    result: Formula | str = f"line longer than {MAX_LINE_BYTES} bytes"
                else:
                    stripped = raw.strip(_BLANK)
                    if not stripped or stripped[:1] == b"#":
                        continue
                    cached = parsed.get(stripped)
                    if cached is None:
                        if len(parsed) >= PARSE_CACHE_LINES:
                            parsed.clear()
                        text = stripped.decode("utf-8", "replace")
                        cached = parsed[stripped] = check_formula(text)
                    result = cached
                if isinstance(result, str):
                    bad_count += 1
                    if len(bad) < SHOWN_BAD_LINES:
                        bad.append((number, result))
                elif not bad_count:
                    seen[result] = None
    except OSError as exc:
        raise StorageError(f"cannot read formula file {path_or_url}: {exc}") from exc
    if bad_count:
        shown = "; ".join(f"line {number}: {why}" for number, why in bad)
        more = f"; and {bad_count - len(bad)} more" if bad_count > len(bad) else ""
        plural = "line" if bad_count == 1 else "lines"
        message = f"{bad_count} bad {plural} in {path_or_url}: {shown}{more}"
        error = FormulaError(message)
        error.line, error.source = bad[0][0], path_or_url  # the first bad line, for callers
        raise error
    if not seen:
        raise FormulaError(f"no formulae in {path_or_url}")
    return list(seen)


def write_formula_file(formulae: Iterable[Formula], path_or_url: str) -> int:
    """Write one Hill formula per line (compression inferred from the name); return the count."""
    written = 0
    try:
        with open_file(path_or_url, "wb") as handle:
            batch: list[str] = []
            for formula in formulae:
                batch.append(formula.hill)
                if len(batch) >= 65536:
                    handle.write(("\n".join(batch) + "\n").encode("ascii"))
                    written += len(batch)
                    batch = []
            if batch:
                handle.write(("\n".join(batch) + "\n").encode("ascii"))
                written += len(batch)
    except OSError as exc:
        raise StorageError(f"cannot write formula file {path_or_url}: {exc}") from exc
    return written
