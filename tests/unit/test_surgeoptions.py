"""The --surge-options whitelist: Surge 2.0's filter options pass, anything else is refused
with a reason, and the pipeline's own options (output format, splitting) never pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudsurge_dask.cli import main
from cloudsurge_dask.errors import ConfigError
from cloudsurge_dask.generate.options import PRESETS, validate_options
from cloudsurge_dask.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"

ALLOWED = [
    "-T", "-P", "-b", "-R",
    "-t0", "-t2", "-t1:3", "-f0", "-f1:3", "-p0", "-p1:2", "-h0", "-h1:2",
    "-C0", "-C1:2", "-e1", "-e5", "-e6:8", "-e12:13", "-d3", "-d2", "-c3",
    "-B1", "-B9", "-B1,2,3", "-B2,4,6", "-B1,2,3,4,5,6,7,8,9",
    "-EAs3", "-EAzAs5", "-EXCl1", "-EGe4", "-EAs35", "-EAzAs54",
]  # fmt: skip

# (option, a fragment of the reason)
REFUSED = [
    ("-S", "output format"),
    ("-u", "stores the structures"),
    ("-F", "--format sdf"),
    ("-A", "output format"),
    ("-O1", "output format"),
    ("-O3", "output format"),
    ("-z", "--codec"),
    ("-oFILE", "never to a file"),
    ("-o/tmp/x", "never to a file"),
    ("-v", "statistics"),
    ("-m1/2", "--split-structures"),
    ("-m3/2", "--split-structures"),
    ("-B0", "from 1 to 9, not 0"),
    ("-B10", "from 1 to 9, not 10"),
    ("-B1,0,12", "not 0, 12"),
    ("-B", "comma-separated list"),
    ("-B1,,2", "comma-separated list"),
    ("-B1,2;", "comma-separated list"),
    ("-B 1", "not an option word"),
    ("-EX", "element definition"),
    ("-E", "element definition"),
    ("-Eas3", "element definition"),
    ("-EAs", "element definition"),
    ("-EAs345", "element definition"),
    ("-E3", "element definition"),
    ("-EAsBrCl3", "element definition"),
    ("-t", "-t# or -t#:#"),
    ("-e", "-e# or -e#:#"),
    ("-t3:1", "range 3:1 is empty"),
    ("-p1:", "-p# or -p#:#"),
    ("-h1:2:3", "-h# or -h#:#"),
    ("-C1000", "-C# or -C#:#"),
    ("-tx", "-t# or -t#:#"),
    ("-d3:4", "-d takes one number"),
    ("-c", "-c takes one number"),
    ("-c0", "-c takes 1 to 8, not 0"),
    ("-d9", "-d takes 1 to 8, not 9"),
    ("-EAs0", "valence or coordination of 0"),
    ("-EAs30", "valence or coordination of 0"),
    ("-EC4", "C is already an element"),
    ("-EH1", "H is already an element"),
    ("-ENxN4", "Nx is already an element"),
    ("-Tx", "-T (no triple bonds) takes no value"),
    ("-T;", "takes no value"),
    ("-R1", "takes no value"),
    ("-Z1:10", "the pipeline asks the built-in engine for compressed parts itself"),
    ("-x", "-x is not an option of Surge 2.0"),
    ("-H6", "-H is not an option of Surge 2.0"),
    ("--help", "not an option word"),
    ("$(id)", "not an option word"),
    ("T", "not an option word"),
    ("", "not an option word"),
    ("-T\u00e9", "not an option word"),
]


@pytest.mark.parametrize("option", ALLOWED)
def test_surge_options_pass(option: str) -> None:
    assert validate_options([option]) == (option,)


@pytest.mark.parametrize(("option", "reason"), REFUSED, ids=[o or "empty" for o, _ in REFUSED])
def test_anything_else_is_refused_with_its_reason(option: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_options([option])
    message = str(caught.value)
    assert message.startswith(f"--surge-options: {option!r} is refused: "), message
    assert reason in message


def test_a_line_is_split_like_a_shell_and_every_word_checked() -> None:
    line = "-P -T -B1,2,3 -B5 -t0 -f0 -e6:8 -EAzAs5 -R"
    assert Settings.build({"surge_options": line}, env={}).surge_options == tuple(line.split())
    with pytest.raises(ConfigError, match="'-T;' is refused"):
        Settings.build({"surge_options": "-T; touch /tmp/x"}, env={})
    with pytest.raises(ConfigError, match="cannot split"):
        Settings.build({"surge_options": "-T '-P"}, env={})


def test_the_production_preset_is_the_reference_line_and_documented() -> None:
    assert PRESETS["cloudsurge-production"] == ("-P", "-T", "-B1,2,3,4,5,7,8,9", "-t0", "-f0")
    settings = Settings(preset="cloudsurge-production", surge_options=("-R",))
    assert settings.generator_options == (*PRESETS["cloudsurge-production"], "-R")
    assert Settings().generator_options == ()
    assert all(validate_options(line) == line for line in PRESETS.values())
    assert "`--preset`" in README.read_text() and "cloudsurge-production" in README.read_text()


def test_the_cli_refuses_an_output_option_in_one_line() -> None:
    result = CliRunner().invoke(main, ["run", "--surge-options", "-F"], env={})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: Invalid value for '--surge-options' (env var: 'CLOUDSURGE_SURGE_OPTIONS'): "
        "'-F' is refused: the pipeline chooses the output format (use --format sdf)",
        "see 'main run --help'",
    ]
    result = CliRunner().invoke(main, ["run", "--preset", "fast"], env={})
    assert result.exit_code == 2 and "'fast' is not one of 'none', 'cloudsurge-production'" in (
        result.stderr
    )
