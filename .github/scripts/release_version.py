#!/usr/bin/env python3
"""Checks that a release tag names the version the repository declares, and prints it.

    .github/scripts/release_version.py v0.2.0    # prints "version=0.2.0" or exits 1

The tag must be vMAJOR.MINOR.PATCH, and that version must be the chart's `version` and
`appVersion` (helm/contactsync/Chart.yaml) and the package's (pyproject.toml): a release
publishes one version of each, and the chart's default image is its appVersion.

The release workflow runs this on GitHub's runner with the system Python, so it uses the
standard library only; Chart.yaml is read for its two top-level scalars, not parsed whole.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TAG = re.compile(r"v(\d+\.\d+\.\d+)")


def chart_field(chart: str, key: str) -> str | None:
    match = re.search(rf"^{key}:[ \t]*([\"']?)([^\"'\s#]+)\1[ \t]*(?:#.*)?$", chart, re.MULTILINE)
    return match.group(2) if match else None


def declared_versions(root: Path) -> dict[str, str | None]:
    chart = (root / "helm/contactsync/Chart.yaml").read_text()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return {
        "helm/contactsync/Chart.yaml version": chart_field(chart, "version"),
        "helm/contactsync/Chart.yaml appVersion": chart_field(chart, "appVersion"),
        "pyproject.toml version": project.get("version"),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} TAG", file=sys.stderr)
        return 2
    tag = argv[1]
    match = TAG.fullmatch(tag)
    if not match:
        print(f"::error::tag {tag!r} is not vMAJOR.MINOR.PATCH", file=sys.stderr)
        return 1
    version = match.group(1)
    wrong = {where: found for where, found in declared_versions(ROOT).items() if found != version}
    for where, found in wrong.items():
        print(f"::error::tag {tag} but {where} is {found!r}", file=sys.stderr)
    if wrong:
        return 1
    print(f"version={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
