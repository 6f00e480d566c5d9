"""The strict formula grammar, Hill order and formula files (local, memory://, gs://)."""

from __future__ import annotations

import gzip
import itertools
import os
import re
import string
import threading
import time
import uuid
from pathlib import Path

import fsspec
import pytest
from support.refdata import reference_counts

from cloudsurge_dask.errors import FormulaError, StorageError
from cloudsurge_dask.formulae.formula import MAX_HEAVY_ATOMS, VALENCES, Formula, parse_formula
from cloudsurge_dask.formulae.source import read_formula_file, write_formula_file
from cloudsurge_dask.formulae.task import Task

# (hostile input, a fragment the error message must contain)
HOSTILE = [
    # option injection into the generator's command line
    ("-oFILE", "looks like a command-line option"),
    ("--help", "looks like a command-line option"),
    ("-u", "looks like a command-line option"),
    ("-S", "looks like a command-line option"),
    ("-m0/2", "looks like a command-line option"),
    ("-", "looks like a command-line option"),
    # path separators
    ("../x", "path separator"),
    ("a/b", "path separator"),
    ("/etc/passwd", "path separator"),
    ("C6H6/../../x", "path separator"),
    ("..\\x", "path separator"),
    ("C;rm -rf /", "path separator"),
    # shell metacharacters
    ("$(id)", "shell metacharacter '$'"),
    ("`id`", "shell metacharacter '`'"),
    ("C|sh", "shell metacharacter '|'"),
    ("C&&id", "shell metacharacter '&'"),
    ("C;id", "shell metacharacter ';'"),
    ("C>out", "shell metacharacter '>'"),
    ("C<in", "shell metacharacter '<'"),
    ("C*", "shell metacharacter '*'"),
    ("C?", "shell metacharacter '?'"),
    ("CH4'", "shell metacharacter"),
    ('CH4"', "shell metacharacter"),
    ("C{1,2}", "shell metacharacter '{'"),
    ("C!", "shell metacharacter '!'"),
    ("~C", "shell metacharacter '~'"),
    ("[13C]H4", "shell metacharacter '['"),
    ("C6H6.", "unexpected character '.'"),
    ("C=O", "unexpected character '='"),
    ("C+", "unexpected character '+'"),
    ("C6H6,C2H6", "unexpected character ','"),
    # unicode lookalikes, invisible and combining characters
    ("\uff23\uff16\uff28\uff16", "non-ASCII character U+FF23"),  # fullwidth C6H6
    ("\u04216\u041d6", "non-ASCII character U+0421"),  # Cyrillic Es 6 En 6
    ("CH\u2084", "non-ASCII character U+2084"),  # subscript four
    ("C\uff16", "non-ASCII character U+FF16"),  # fullwidth six
    ("C\u039f2", "non-ASCII character U+039F"),  # Greek capital omicron
    ("C\u03016H6", "non-ASCII character U+0301"),  # combining acute accent
    ("C\u200bH4", "non-ASCII character U+200B"),  # zero-width space
    ("C\u202eH4", "non-ASCII character U+202E"),  # right-to-left override
    ("C\u00a0H4", "non-ASCII character U+00A0"),  # no-break space
    ("\ufeffCH4", "non-ASCII character U+FEFF"),  # byte-order mark
    # control characters and whitespace inside
    ("C\x00H4", "control character U+0000"),
    ("C\x1b[31m", "control character U+001B"),
    ("\x7fC", "control character U+007F"),
    ("C\tH4", "contains whitespace"),
    ("C H4", "contains whitespace"),
    ("C\nH4", "contains whitespace"),
    ("C6H6 C6H6", "contains whitespace"),
    # huge counts
    ("C99999999999999999999", "too many heavy atoms: 99999999999999999999"),
    ("C200", f"too many heavy atoms: 200 (limit {MAX_HEAVY_ATOMS})"),
    (f"C{MAX_HEAVY_ATOMS + 1}", f"too many heavy atoms: {MAX_HEAVY_ATOMS + 1}"),
    (f"C20N{MAX_HEAVY_ATOMS - 19}", f"too many heavy atoms: {MAX_HEAVY_ATOMS + 1}"),
    ("Q" * 1000, "formula too long: 1000 characters"),
    # zero counts and leading zeros
    ("C0", "count must be a positive integer in 'C0'"),
    ("C00", "count must be a positive integer in 'C00'"),
    ("C01", "leading zeros in 'C01'"),
    ("C6H06", "leading zeros in 'H06'"),
    ("CH0", "count must be a positive integer in 'H0'"),
    # repeated elements
    ("CC", "element 'C' appears twice"),
    ("CH4C", "element 'C' appears twice"),
    ("CHH", "element 'H' appears twice"),
    ("ClCl2", "element 'Cl' appears twice"),
    ("C2H4C2H4", "element 'C' appears twice"),
    ("C2NOCl2ON", "element 'O' appears twice"),
    # case and unknown elements
    ("c6h6", "upper-case: 'c' at position 1"),
    ("C6h6", "upper-case: 'h' at position 3"),
    ("co2", "upper-case: 'c' at position 1"),
    ("Co2", "unknown element 'Co'"),
    ("CL2", "unknown element 'L'"),
    ("Xx", "unknown element 'Xx'"),
    ("NaCl", "unknown element 'Na'"),
    ("D2O", "unknown element 'D'"),
    ("Sn", "unknown element 'Sn'"),
    ("NX", "unknown element 'X'"),
    ("Uuo", "unknown element 'Uuo'"),
    ("CHx", "unknown element 'Hx'"),
    # digits without an element
    ("6C", "count '6' at position 1 follows no element"),
    ("123", "count '1' at position 1 follows no element"),
    # hydrogens only, or more than the heavy atoms can carry
    ("H2", "no heavy atom"),
    ("H", "no heavy atom"),
    ("CH5", "too many hydrogens: 5"),
    ("C2H7", "too many hydrogens: 7"),
    ("FH2", "too many hydrogens: 2"),
    ("H4O", "too many hydrogens: 4"),
    # empty
    ("", "empty formula"),
    ("   ", "empty formula"),
    ("\t\r\n", "empty formula"),
]


def _reference_formulae() -> list[str]:
    """The formula column of the reference table, as written there (not in Hill order)."""
    return sorted({formula for formula, options in reference_counts() if not options})


def _element_counts(text: str) -> dict[str, int]:
    """An independent tokeniser for well-formed formulae, to check what the parser keeps."""
    counts: dict[str, int] = {}
    for element, digits in re.findall(r"([A-Z][a-z]?)(\d*)", text):
        counts[element] = counts.get(element, 0) + (int(digits) if digits else 1)
    return counts


def _hill_by_definition(counts: dict[str, int]) -> str:
    """Hill order written from its definition, independently of the package."""
    if "C" in counts:
        order = ["C"] + (["H"] if "H" in counts else []) + sorted(set(counts) - {"C", "H"})
    else:
        order = sorted(counts)
    return "".join(e if counts[e] == 1 else f"{e}{counts[e]}" for e in order)


def test_there_are_at_least_fifty_hostile_cases() -> None:
    assert len(HOSTILE) >= 50
    assert len({text for text, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("text", "fragment"), HOSTILE)
def test_hostile_input_is_refused_with_a_precise_safe_message(text: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    message = str(caught.value)
    assert fragment in message
    assert message.isascii()
    assert all(char in string.printable and char not in "\t\n\r\x0b\x0c" for char in message)
    assert len(message) < 250


@pytest.mark.parametrize("text", ["-oX", "$(id)", "C;rm -rf /", "\u0421"])
def test_not_a_formula_messages_show_the_input_as_an_ascii_repr(text: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert f"not a formula: {text!a}" in str(caught.value)


def test_long_input_is_truncated_in_the_message() -> None:
    text = "-" + "x" * 10_000
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    message = str(caught.value)
    assert "..." in message
    assert len(message) < 200


@pytest.mark.parametrize("value", [None, b"CH4", 4])
def test_non_text_is_refused(value: object) -> None:
    with pytest.raises(FormulaError, match="expected text"):
        parse_formula(value)  # type: ignore[arg-type]


def test_line_and_source_are_reported() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("Xx", line=7, source="in.txt")
    assert str(caught.value).startswith("in.txt:7: unknown element 'Xx'")
    assert caught.value.line == 7
    assert caught.value.source == "in.txt"


def test_reference_formulae_round_trip_through_hill_order() -> None:
    formulae = _reference_formulae()
    assert len(formulae) > 9000
    for text in formulae:
        formula = parse_formula(text)
        counts = _element_counts(text)
        assert formula.hydrogens == counts.pop("H", 0)
        assert dict(formula.counts) == counts
        assert formula.heavy_atoms == sum(counts.values())
        assert formula.hill == _hill_by_definition(_element_counts(text))
        assert str(formula) == formula.hill
        assert parse_formula(formula.hill) == formula
        assert parse_formula(formula.hill).hill == formula.hill
        assert Task(formula.hill).key == formula.hill
        assert Task.from_key(formula.hill).formula == formula.hill


@pytest.mark.parametrize("text", ["C8H11NO", "BrH", "ClH", "Cl2", "H2O", "H3N", "HI", "CBrClFI"])
def test_hill_strings_are_fixed_points(text: str) -> None:
    assert parse_formula(text).hill == _hill_by_definition(_element_counts(text))
    assert parse_formula(text).hill == text


def test_surrounding_whitespace_is_stripped() -> None:
    assert parse_formula(" \tC6H6\r\n") == parse_formula("C6H6")


def test_hydrogen_limit_follows_the_valence_rule() -> None:
    for text in _reference_formulae()[:500]:
        heavy = {e: n for e, n in _element_counts(text).items() if e != "H"}
        most = max(sum(n * (VALENCES[e] - 2) for e, n in heavy.items()) + 2, 0)
        base = "".join(f"{e}{n}" for e, n in heavy.items())
        assert parse_formula(f"{base}H{most}" if most else base).hydrogens == most
        with pytest.raises(FormulaError, match="too many hydrogens"):
            parse_formula(f"{base}H{most + 1}")


def test_heavy_atom_limit_is_inclusive() -> None:
    assert parse_formula(f"C{MAX_HEAVY_ATOMS}").heavy_atoms == MAX_HEAVY_ATOMS


def test_formula_constructor_normalises_and_validates() -> None:
    shuffled = Formula((("O", 1), ("Cl", 2), ("C", 3)), 4)
    assert shuffled == Formula((("C", 3), ("Cl", 2), ("O", 1)), 4)
    assert shuffled.hill == _hill_by_definition({"O": 1, "Cl": 2, "C": 3, "H": 4})
    assert hash(shuffled) == hash(parse_formula(shuffled.hill))
    for counts, hydrogens in [
        ((("Xx", 1),), 0),
        ((("C", 0),), 0),
        ((("C", 1), ("C", 2)), 0),
        ((("C", 1),), -1),
    ]:
        with pytest.raises(ValueError):
            Formula(counts, hydrogens)


# --- formula files -------------------------------------------------------------------


def _memory_url(name: str) -> str:
    return f"memory://formulae-{uuid.uuid4().hex}/{name}"


def _write_bytes(url: str, data: bytes) -> None:
    with fsspec.open(url, "wb") as handle:
        handle.write(data)


def test_read_skips_comments_and_blanks_and_keeps_first_occurrences() -> None:
    texts = _reference_formulae()[:40]
    lines = ["# a comment", ""]
    for text in texts:
        lines += [f"  {text}  ", "   # indented comment", "\t"]
    lines += [_hill_by_definition(_element_counts(text)) for text in texts]  # same formulae
    url = _memory_url("f.txt")
    _write_bytes(url, "\r\n".join(lines).encode())
    expected = list(dict.fromkeys(_hill_by_definition(_element_counts(t)) for t in texts))
    assert [f.hill for f in read_formula_file(url)] == expected


def test_bad_lines_are_all_counted_and_the_first_few_shown() -> None:
    good = _reference_formulae()[:30]
    hostile = [text for text, _ in HOSTILE if "\n" not in text and text.strip()][:8]
    lines: list[str] = []
    bad_numbers: list[int] = []
    for index, text in enumerate(good):
        lines.append(text)
        if index < len(hostile):
            lines.append(hostile[index])
            bad_numbers.append(len(lines))
    url = _memory_url("bad.txt")
    _write_bytes(url, "\n".join(lines).encode())
    with pytest.raises(FormulaError) as caught:
        read_formula_file(url)
    message = str(caught.value)
    assert f"{len(hostile)} bad lines in {url}" in message
    assert caught.value.line == bad_numbers[0]
    for number in bad_numbers[:5]:
        assert f"line {number}: " in message
    assert f"line {bad_numbers[5]}: " not in message
    assert f"and {len(hostile) - 5} more" in message
    assert message.isascii()


def test_one_bad_line_rejects_the_whole_file() -> None:
    url = _memory_url("one.txt")
    _write_bytes(url, b"CH4\nC2H6\n-oOUT\nC3H8\n")
    with pytest.raises(FormulaError, match=r"1 bad line in .*line 3: not a formula: '-oOUT'"):
        read_formula_file(url)


def test_invalid_utf8_and_overlong_lines_are_bad_lines() -> None:
    url = _memory_url("junk.txt")
    _write_bytes(url, b"CH4\nC\xff\xfeH4\n" + b"C" * 100_000 + b"\nC2H6\n" + b"N" * 100_000)
    with pytest.raises(FormulaError) as caught:
        read_formula_file(url)
    message = str(caught.value)
    assert "3 bad lines" in message
    assert "line 2: not a formula" in message and "U+FFFD" in message
    assert "line 3: line longer than" in message
    assert "line 5: line longer than" in message


@pytest.mark.parametrize("content", [b"", b"\n\n", b"# only\n  # comments\n\n"])
def test_a_file_without_formulae_is_an_error(content: bytes) -> None:
    url = _memory_url("empty.txt")
    _write_bytes(url, content)
    with pytest.raises(FormulaError, match="no formulae in "):
        read_formula_file(url)


def test_a_missing_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read formula file"):
        read_formula_file(str(tmp_path / "absent.txt"))


def test_write_then_read_round_trip_local_and_gzip(tmp_path: Path) -> None:
    formulae = [parse_formula(text) for text in _reference_formulae()[:300]]
    for name in ("f.txt", "f.txt.gz"):
        path = str(tmp_path / name)
        assert write_formula_file(formulae, path) == len(formulae)
        assert read_formula_file(path) == list(dict.fromkeys(formulae))
    with gzip.open(tmp_path / "f.txt.gz", "rt") as handle:
        assert handle.read().splitlines() == [f.hill for f in formulae]


def test_a_pipe_is_read_like_a_file(tmp_path: Path) -> None:
    """`--formulae <(grep ... list)`: a pipe, which fsspec cannot open (it seeks); read in a
    stream, decompressed as its name says."""
    formulae = [parse_formula(text) for text in _reference_formulae()[:300]]
    text = "".join(f"{f.hill}\n" for f in formulae).encode()
    for name, data in (("f.txt", text), ("f.txt.gz", gzip.compress(text))):
        fifo = tmp_path / name
        os.mkfifo(fifo)

        def feed(fifo: Path = fifo, data: bytes = data) -> None:
            with open(fifo, "wb") as handle:
                handle.write(data)

        writer = threading.Thread(target=feed)
        writer.start()
        assert read_formula_file(str(fifo)) == list(dict.fromkeys(formulae))
        writer.join(timeout=30)


def test_write_then_read_round_trip_on_gcs(gcs_bucket: str) -> None:
    formulae = [parse_formula(text) for text in _reference_formulae()[:200]]
    url = f"{gcs_bucket}/formulae.txt"
    assert write_formula_file(formulae, url) == len(formulae)
    assert read_formula_file(url) == formulae


def _many_distinct(count: int) -> list[str]:
    """Distinct, valid formulae written in a non-Hill order, enumerated independently."""
    found: list[str] = []
    for c, n, o, s in itertools.product(range(20), range(12), range(8), range(5)):
        if not 0 < c + n + o + s <= MAX_HEAVY_ATOMS:
            continue
        for h in range(0, 2 * c + n + 3):
            found.append(
                "".join(
                    f"{e}{k}" for e, k in (("O", o), ("H", h), ("S", s), ("N", n), ("C", c)) if k
                )
            )
            if len(found) == count:
                return found
    raise AssertionError("not enough formulae")


def test_a_large_file_streams_quickly_and_dedupes(tmp_path: Path) -> None:
    distinct = _many_distinct(150_000)
    lines = distinct + distinct[::3]  # 200,000 lines, a quarter of them repeats
    path = tmp_path / "big.txt"
    path.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    formulae = read_formula_file(str(path))
    elapsed = time.monotonic() - started
    assert [f.hill for f in formulae] == [_hill_by_definition(_element_counts(t)) for t in distinct]
    assert elapsed < 30


def test_formulae_survive_pickling_as_dask_ships_them() -> None:
    import pickle

    for text in _reference_formulae()[:100]:
        formula = parse_formula(text)
        copy = pickle.loads(pickle.dumps(formula))
        assert copy == formula
        assert hash(copy) == hash(formula)
        assert copy.hill == formula.hill
