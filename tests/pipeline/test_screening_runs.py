"""Screened runs through the whole pipeline: a local Dask cluster of real processes, screening
child processes, a worker SIGKILLed mid-screening, and the commands that read the results."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rdkit import Chem, rdBase
from rdkit.Chem.Descriptors import MolWt  # type: ignore[attr-defined]
from rdkit.Contrib.NP_Score import npscorer

from cloudsurge_dask.engine import engine_path
from cloudsurge_dask.formulae.formula import parse_formula
from cloudsurge_dask.output.records import TaskStatus
from cloudsurge_dask.results.verify import verify_output
from cloudsurge_dask.run.job import run_job
from cloudsurge_dask.run.resumption import contradictions
from cloudsurge_dask.settings import JobMeta, Settings

rdBase.DisableLog("rdApp.*")
CHILD = "cloudsurge_dask.screen.child"


def engine_lines(formula: str) -> list[str]:
    run = subprocess.run([str(engine_path()), "-S", formula], capture_output=True, check=True)
    return run.stdout.decode().splitlines()


def screen_children() -> dict[int, int]:
    """Screening processes on this machine: pid -> parent pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if CHILD.encode() in command:
            found[int(entry.name)] = parent
    return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudsurge_dask", *args],
        capture_output=True, text=True, check=False, cwd=cwd,
    )  # fmt: skip


def test_screened_run_on_dask_with_screening_processes(tmp_path: Path) -> None:
    """2 Dask workers, 2 screening processes each; a worker SIGKILLed while its screening
    processes work loses and duplicates nothing, and its screening processes die with it."""
    formulae = ["C8H10O", "C7H8O", "C6H10O", "C7H14O", "C6H8N2", "C5H6O2", "C3H8", "C4H6"]
    settings = Settings.build({
        "output": str(tmp_path / "out"), "workers": 2, "screen_processes": 2,
        "lease_seconds": 2.0, "batch_size": 1, "part_size": 5000,
        "screen": ("np_likeness >= 0", "MolWt < 130"),
        "inline_structures": 0,  # on Dask workers alone: one of them is killed
    }, env={})  # fmt: skip
    killed: list[int] = []
    orphans: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            children = screen_children()
            for pid, parent in children.items():
                # a child with CPU time beyond building its screens is screening a task
                if parent != os.getpid() and cpu_seconds(pid) > 0.8:
                    os.kill(parent, signal.SIGKILL)
                    killed.append(parent)
                    orphans.extend(p for p, q in children.items() if q == parent)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    outcome = run_job(settings, [parse_formula(f) for f in formulae], quiet=True)
    thread.join()
    assert killed, "no worker was killed mid-screening"
    time.sleep(0.5)
    assert not set(orphans) & set(screen_children()), "screening processes outlived their drain"
    frame = outcome.records
    assert sorted(set(frame["formula"])) == sorted(formulae)
    assert frame["task"].nunique() > len(formulae)  # the large ones were split into slices
    assert (frame["status"] == TaskStatus.OK).all(), frame[frame["status"] != TaskStatus.OK]
    assert frame["attempts"].max() >= 2
    model = npscorer.readNPModel()
    sums = frame.groupby("formula")[["structures", "generated"]].sum()
    for formula, (structures, generated) in sums.iterrows():
        lines = engine_lines(str(formula))
        mols = [Chem.MolFromSmiles(s) for s in lines]
        keep = [m for m in mols if npscorer.scoreMol(m, model) >= 0 and MolWt(m) < 130]
        assert (structures, generated) == (len(keep), len(lines)), formula
    report = verify_output(settings, outcome.job)
    assert report.ok, report.problems
    assert report.structures == int(frame["structures"].sum())


def test_screened_cli_run_reads_back(tmp_path: Path) -> None:
    """`run` with screens and --stereo, then status, ls, verify --deep --rescreen, job.json."""
    run = run_cli(
        "run", "--max-heavy-atoms", "5", "--elements", "C,N,O", "--output", "out",
        "--workers", "2", "--screen", "MolWt < 75", "--screen", "exclude [#7]", "--stereo",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    job = run.stdout.strip().splitlines()[-1]
    assert "screening: " in run.stderr and "generated" in run.stderr, run.stderr
    ledger = json.loads((tmp_path / "out" / job / "job.json").read_text())
    assert ledger["screening"]["screens"] == ["MolWt < 75", "exclude [#7]"]
    assert ledger["screening"]["stereo"] is True and ledger["screening"]["rdkit"]
    assert 0 < ledger["structures"] < ledger["generated"]
    status = run_cli("status", job, "--output", "out", cwd=tmp_path)
    assert f"{ledger['structures']:,} structures kept of {ledger['generated']:,}" in status.stdout
    listing = run_cli("ls", job, "--output", "out", cwd=tmp_path)
    rows = [line.split("\t") for line in listing.stdout.splitlines()[1:]]
    assert sum(int(r[3]) for r in rows) == ledger["structures"]
    assert sum(int(r[5]) for r in rows) == ledger["generated"]
    check = run_cli(
        "verify", job, "--output", "out", "--deep", "--rescreen", "50", "--seed", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert check.returncode == 0 and "OK" in check.stdout, check.stderr
    assert "screened 50 stored structures again" in check.stderr
    shown = run_cli("cat", job, "C2H6O", "--output", "out", cwd=tmp_path)
    assert shown.stdout.split() == ["CCO", "COC"]  # no stereocentres: as RDKit writes them


def test_resume_with_other_screens_is_refused_by_name() -> None:
    queued = Settings.build({"screen": ("MolWt < 100",)}, env={})
    meta = JobMeta.of(queued, "J")
    again = JobMeta.from_dict(meta.to_dict())
    assert again.settings.screen == queued.screen  # stored and read back as the workers do
    other = Settings.build({"screen": ("MolWt < 200",), "stereo": True}, env={})
    problems = contradictions(frozenset({"screen", "stereo"}), other, again, "J")
    assert any(p.startswith("--screen ") for p in problems), problems
    assert any(p.startswith("--stereo ") for p in problems), problems
    assert contradictions(frozenset({"screen"}), queued, again, "J") == []


def test_plan_preview_agrees_with_the_run(tmp_path: Path) -> None:
    """The preview's projections against a real run of the same command line: generated
    within 15 %, kept within 25 % (stated tolerances; a sample of a few formulae)."""
    flags = [
        "--max-heavy-atoms", "6", "--elements", "C,N,O", "--screen", "np_likeness >= 0",
        "--screen", "MolWt < 90",
    ]  # fmt: skip
    planned = run_cli("plan", *flags, "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    preview = json.loads(planned.stdout)
    assert not (tmp_path / "results").exists()  # a preview writes nothing
    run = run_cli("run", *flags, "--output", "out", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    job = run.stdout.strip().splitlines()[-1]
    ledger = json.loads((tmp_path / "out" / job / "job.json").read_text())
    assert abs(preview["generated"] / ledger["generated"] - 1) < 0.15, (preview, ledger)
    assert abs(preview["kept"] / ledger["structures"] - 1) < 0.25, (preview, ledger)
    assert len(preview["pass_rates"]) == 2 and all(0 < r <= 1 for r in preview["pass_rates"])
    assert preview["cpu_hours"] > 0 and preview["bytes"] > 0 and preview["samples"]
    text = run_cli("plan", *flags, cwd=tmp_path)
    assert "screen 'np_likeness >= 0': passes" in text.stdout and "CPU-hours" in text.stdout
