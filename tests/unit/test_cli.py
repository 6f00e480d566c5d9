"""The command line as declared: flags, types, variables, help and README all from one place."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudsurge_dask.cli import SUBCOMMANDS, configuration_table, main
from cloudsurge_dask.clusters.kubeobjects import KubeValues
from cloudsurge_dask.declaration import declared
from cloudsurge_dask.errors import ConfigError
from cloudsurge_dask.settings import STORED, JobMeta, Settings

README = Path(__file__).resolve().parents[2] / "README.md"
OWN_FLAGS = {"run": {"--resume", "--quiet"}, "formulae": {"--out"}, "export": {"--to"},
             "manifests": {"--out"}, "cat": {"--limit", "--sample", "--seed"},
             "ls": {"--sort"}, "plan": {"--samples", "--draws", "--seed", "--json"},
             "verify": {"--deep", "--rescreen", "--seed", "--repair"},
             "sbatch-script": {"--out", "--redis-url-file", "--python"}}  # fmt: skip


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_readme_configuration_table_is_the_declarations() -> None:
    text = README.read_text()
    pattern = r"<!-- settings table:[^\n]*-->\n(.*?)\n<!-- end of settings table -->"
    found = re.search(pattern, text, re.S)
    assert found, "README lost its settings-table markers"
    assert found.group(1) == configuration_table(), (
        "README's configuration table differs from the declarations; paste this:\n"
        + configuration_table()
    )


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_takes_exactly_its_declared_flags(command: str) -> None:
    params = main.commands[command].params
    flags = {opt for p in params for opt in p.opts if opt.startswith("--")} - {"--help"}
    declared_flags = {
        item.flag for cls in (Settings, KubeValues) for item in declared(cls)
        if command in item.commands
    }  # fmt: skip
    assert flags == declared_flags | OWN_FLAGS.get(command, set())


def test_a_bad_number_gets_clicks_message_on_one_line() -> None:
    code, out, err = invoke("run", "--max-heavy-atoms", "abc")
    assert code == 2
    first, *rest = err.strip().splitlines()
    assert first.startswith("error: Invalid value for '--max-heavy-atoms'"), err
    assert "'abc' is not a valid integer" in first
    assert rest == ["see 'main run --help'"] and out == ""


def test_out_of_range_values_are_refused_with_the_range() -> None:
    code, _, err = invoke("run", "--max-heavy-atoms", "33")
    assert code == 2 and "33 is not in the range 1<=x<=32" in err
    code, _, err = invoke("run", "--codec", "rar")
    assert code == 2 and "'rar' is not one of 'zst', 'gz', 'zip'" in err


def test_a_flag_of_another_subcommand_is_no_such_option() -> None:
    code, _, err = invoke("enqueue", "formulae.txt", "--workers", "3")
    assert code == 2
    assert err.startswith("error: No such option '--workers'"), err
    code, _, err = invoke("status", "J1", "--pods", "3")
    assert code == 2 and "No such option '--pods'" in err


def test_a_bad_variable_names_the_flag_and_the_variable() -> None:
    code, _, err = invoke("run", env={"CLOUDSURGE_CODEC": "rar"})
    assert code == 2
    assert "'--codec'" in err and "CLOUDSURGE_CODEC" in err and "Traceback" not in err


def test_version() -> None:
    code, out, _ = invoke("--version")
    assert code == 0 and out.strip() == f"cloudsurge-dask, version {version('cloudsurge-dask')}"


def test_help_groups_the_flags_and_shows_types_defaults_and_variables() -> None:
    code, out, _ = invoke("run", "--help")
    assert code == 0
    sections = re.findall(r"^(\w+):$", out, re.M)
    assert sections == ["Options", "Formulae", "Queue", "Generator", "Screening", "Output",
                        "Cluster", "Kubernetes", "Slurm"]  # fmt: skip
    kubernetes = out.split("\nKubernetes:\n", 1)[1].split("\nSlurm:\n", 1)[0]
    assert "--pods INTEGER" in kubernetes and "--workers" not in kubernetes
    assert "--codec [zst|gz|zip]" in out
    assert "env var: CLOUDSURGE_WORKERS" in out and "default: (number of cores)" in out


def test_values_from_code_pass_the_same_types() -> None:
    with pytest.raises(ConfigError, match="--max-heavy-atoms=33"):
        Settings(max_heavy_atoms=33)
    with pytest.raises(ConfigError, match="CLOUDSURGE_WORKERS='0'"):
        Settings.build(env={"CLOUDSURGE_WORKERS": "0"})
    with pytest.raises(ConfigError, match="--parallelism=0"):
        KubeValues(parallelism=0)
    assert Settings.build({"elements": "C, N"}, env={}).elements == ("C", "N")


def test_job_meta_stores_exactly_the_stored_settings() -> None:
    settings = Settings(part_size=7, codec="gz", surge_options=("-T",), workers=1)
    data = JobMeta.of(settings, "J1").to_dict()
    assert set(data) == {*STORED, "output"} and data["output"] == "./results/J1"
    back = JobMeta.from_dict(data)
    assert back.root == "./results/J1"
    assert all(getattr(back.settings, name) == getattr(settings, name) for name in STORED)


@pytest.mark.parametrize("command", ["status", "stop", "export"])
def test_redis_forward_without_kubernetes_credentials_is_one_line(
    command: str, tmp_path: Path
) -> None:
    """`status`, `stop`, `export` reach a cluster's Redis as `run` does (--redis-forward); with
    no credentials that is the run's one line naming the fix, not a kr8s traceback."""
    env = {"KUBECONFIG": str(tmp_path / "absent"), "HOME": str(tmp_path),
           "CLOUDSURGE_REDIS_URL": "redis://:pw@cloudsurge-redis.chem:6379/0"}  # fmt: skip
    more = ["--to", str(tmp_path / "out.parquet")] if command == "export" else []
    done = subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", command, "20261207T000000-abcdef",
         "--redis-forward", "--output", str(tmp_path), *more],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: no Kubernetes credentials: set KUBECONFIG"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
