"""Build hook: compile the cloudsurge-surge C engine during the package build.

The engine (cloudsurge_dask/engine/*.c) is linked with nauty's geng.c, which is
compiled from the Debian package source at /usr/share/nauty/geng.c, with the
static nauty library built for WORDSIZE=32, MAXN=WORDSIZE (libnautyW1), with
zlib (-z) and with libzstd (-Z, the pipeline's compressed parts).  The binary
lands in <build_lib>/cloudsurge_dask/bin/ so wheels ship it, or in the source
tree's cloudsurge_dask/bin/ for editable installs; the same binary is installed
as the `cloudsurge-surge` script, so the command on PATH is the native program
itself (no interpreter starts it).

Build requirements (Debian/Ubuntu): a C compiler plus `apt-get install nauty
libnauty2-dev zlib1g-dev libzstd-dev`.  Overrides: CC, CLOUDSURGE_GENG_C (path of
geng.c), CLOUDSURGE_CFLAGS (extra compiler flags).
"""

from __future__ import annotations

import glob
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

# setuptools provides distutils (its own copy where the standard library has none)
from distutils.command.build_scripts import build_scripts  # isort: skip

HERE = Path(__file__).resolve().parent
ENGINE_SRC = HERE / "cloudsurge_dask" / "engine"
BINARY = "cloudsurge-surge"
APT_HINT = (
    "install the Debian packages: apt-get install nauty libnauty2-dev zlib1g-dev libzstd-dev"
)


def _find_geng() -> Path:
    """Locate geng.c (shipped by the Debian package libnauty2-dev)."""
    cand = os.environ.get("CLOUDSURGE_GENG_C", "/usr/share/nauty/geng.c")
    path = Path(cand)
    if not path.is_file():
        raise SystemExit(f"error: nauty's geng.c not found at {path}; {APT_HINT}")
    return path


def _nauty_includes() -> list[str]:
    """Include flags for gtools.h (nauty/) and nauty.h (multiarch nauty/)."""
    dirs: list[str] = []
    if shutil.which("pkg-config"):
        res = subprocess.run(
            ["pkg-config", "--cflags", "nauty"], capture_output=True, text=True, check=False
        )
        if res.returncode == 0:
            dirs += [f for f in shlex.split(res.stdout) if f.startswith("-I")]
    for pattern in ("/usr/include/nauty", "/usr/include/*/nauty", "/usr/local/include/nauty"):
        dirs += [f"-I{d}" for d in sorted(glob.glob(pattern))]
    found = any(Path(d[2:], "nauty.h").is_file() for d in dirs)
    if not found:
        raise SystemExit(f"error: nauty.h not found; {APT_HINT}")
    return list(dict.fromkeys(dirs))


def _nauty_lib() -> list[str]:
    """Prefer the static WORDSIZE=32 library so the binary needs no nauty at run time."""
    for pattern in (
        "/usr/lib/*/libnautyW1.a",
        "/usr/lib/libnautyW1.a",
        "/usr/local/lib/libnautyW1.a",
    ):
        hits = sorted(glob.glob(pattern))
        if hits:
            return [hits[0]]
    return ["-lnautyW1"]


def _cpu_flags() -> list[str]:
    """-mpopcnt on an x86-64 build machine that has the instruction (every x86-64 CPU
    since 2008): the engine's graph filters and geng count bits all the time, and without
    it each count is a libgcc call (~8 % of a filtered run).  CLOUDSURGE_CFLAGS=-mno-popcnt
    builds for older CPUs."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
    return ["-mpopcnt"] if "popcnt" in flags.split() else []


def compile_engine(dest_dir: Path) -> Path:
    """Compile the engine executable into dest_dir and return its path."""
    cc = shlex.split(os.environ.get("CC", "cc"))
    sources = sorted(str(p) for p in ENGINE_SRC.glob("*.c"))
    if not sources:
        raise SystemExit(f"error: no engine sources in {ENGINE_SRC}")
    defines = [
        "-DWORDSIZE=32",
        "-DMAXN=WORDSIZE",
        "-DGENG_MAIN=geng_main",
        "-DOUTPROC=cs_outproc",
        "-DPRUNE=cs_prune",
        "-DPREPRUNE=cs_preprune",
    ]
    extra = shlex.split(os.environ.get("CLOUDSURGE_CFLAGS", ""))
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / BINARY
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / BINARY
        cmd = [
            *cc,
            "-O3",
            "-std=gnu11",
            *defines,
            *_cpu_flags(),
            *_nauty_includes(),
            f"-I{ENGINE_SRC}",
            *extra,
            "-o",
            str(out),
            *sources,
            str(_find_geng()),
            *_nauty_lib(),
            "-lpthread",
            "-lz",
            "-lzstd",
        ]
        print("compiling engine:", " ".join(shlex.quote(c) for c in cmd))
        try:
            subprocess.run(cmd, check=True)
        except FileNotFoundError as exc:
            raise SystemExit(f"error: C compiler {cc[0]!r} not found ({exc}); {APT_HINT}") from exc
        except subprocess.CalledProcessError as exc:
            raise SystemExit(
                f"error: compiling the cloudsurge-surge engine failed ({exc}); "
                f"needs a C compiler and {APT_HINT}"
            ) from exc
        shutil.copyfile(out, target)
    target.chmod(0o755)
    return target


class BuildPyWithEngine(build_py):
    """build_py that also compiles the C engine into the package's bin/ directory."""

    built: Path | None = None

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            BuildPyWithEngine.built = compile_engine(HERE / "cloudsurge_dask" / "bin")
        else:
            BuildPyWithEngine.built = compile_engine(
                Path(self.build_lib) / "cloudsurge_dask" / "bin"
            )


class EngineScript(build_scripts):
    """The compiled engine itself is the `cloudsurge-surge` script: a call costs the
    program's own start-up, not an interpreter's."""

    def get_source_files(self) -> list[str]:
        return []

    def run(self) -> None:
        self.run_command("build_py")
        built = BuildPyWithEngine.built
        if built is None:
            raise SystemExit("error: the engine was not compiled before the scripts step")
        target = Path(self.build_dir) / BINARY
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)
        target.chmod(0o755)


class BinaryDistribution(Distribution):
    """Mark wheels platform-specific: they contain a native executable, which is
    also the one script (so build_scripts and install_scripts run)."""

    def has_ext_modules(self) -> bool:
        return True

    def has_scripts(self) -> bool:
        return True


setup(
    # what EngineScript puts in place of scripts (setuptools installs scripts only when
    # this list is not empty)
    scripts=[f"cloudsurge_dask/bin/{BINARY}"],
    cmdclass={"build_py": BuildPyWithEngine, "build_scripts": EngineScript},
    distclass=BinaryDistribution,
)
