"""Rewrite Kubernetes 1.20's vendor/modules.txt in the format Go >= 1.17 requires.

Run in the source tree with the original modules.txt as argument (scripts/test-kubernetes.sh):
every vendored module becomes an explicit requirement of go.mod (`go 1.17`), and each package
line is listed under the longest module path that contains it, after `## explicit`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main(original: Path) -> None:
    headers: dict[str, str] = {}
    packages: list[str] = []
    for line in original.read_text().splitlines():
        if line.startswith("# "):
            words = line[2:].split()
            if len(words) > 1 and words[1] != "=>":
                headers[words[0]] = line
        elif line.strip() and not line.startswith("##"):
            packages.append(line)
    owned: dict[str, list[str]] = {module: [] for module in headers}
    for package in packages:
        owner = max(
            (m for m in headers if package == m or package.startswith(m + "/")),
            key=len,
            default=None,
        )
        if owner is None:
            raise SystemExit(f"no module for vendored package {package}")
        owned[owner].append(package)
    gomod = json.loads(subprocess.check_output(["go", "mod", "edit", "-json"]))
    required = {r["Path"] for r in gomod.get("Require") or []}
    missing = [f"-require={m}@{headers[m][2:].split()[1]}" for m in headers if m not in required]
    if missing:
        subprocess.check_call(["go", "mod", "edit", *missing])
    subprocess.check_call(["go", "mod", "edit", "-go=1.17"])
    out: list[str] = []
    for module in sorted(headers):
        out += [headers[module], "## explicit", *sorted(owned[module])]
    for replace in gomod.get("Replace") or []:
        if "Version" in replace["Old"]:
            continue
        new = replace["New"]
        version = f" {new['Version']}" if "Version" in new else ""
        out.append(f"# {replace['Old']['Path']} => {new['Path']}{version}")
    Path("vendor/modules.txt").write_text("\n".join(out) + "\n")
    print(f"{len(headers)} modules, {len(missing)} requirements added, {len(packages)} packages")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
