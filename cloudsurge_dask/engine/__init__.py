"""Locate and run the bundled ``cloudsurge-surge`` structure generator.

The generator is a C executable compiled at install time (see ``setup.py``) from the C
sources beside this file and shipped inside the package, so workers need no separately
installed Surge and always run the exact engine this version of the package was tested with.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import EngineMissing

BINARY_NAME = "cloudsurge-surge"


def engine_path() -> Path:
    """Return the engine binary inside the installed package.

    Raises EngineMissing (instead of falling back to some ``surge`` on PATH)
    so a broken install fails loudly rather than silently changing results.
    """
    path = Path(__file__).parent.parent / "bin" / BINARY_NAME
    if not path.is_file():
        raise EngineMissing(
            f"cloudsurge-surge engine binary not found at {path}: reinstall the package "
            "(pip install .) on a machine with a C compiler and the Debian packages "
            "'nauty libnauty2-dev'"
        )
    return path


def main() -> None:
    """Console entry point: replace this process with the engine binary.

    exec (rather than a subprocess) keeps stdin/stdout/stderr, exit status and
    signals those of the engine itself, so the script is a true drop-in.
    """
    try:
        path = engine_path()
    except EngineMissing as exc:
        sys.exit(f">E {exc}")
    os.execv(path, [str(path), *sys.argv[1:]])
