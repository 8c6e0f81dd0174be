"""The Makefile and the pre-commit hooks stay what the README promises: every target described
in `make help`, `make crd` writing every CRD copy, and the hooks running what CI runs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
MAKEFILE = ROOT / "Makefile"


def make(*args: str) -> str:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def phony_targets() -> list[str]:
    [line] = [line for line in MAKEFILE.read_text().splitlines() if line.startswith(".PHONY:")]
    return line.split(":", 1)[1].split()


def test_make_help_describes_every_target() -> None:
    listed = set(re.findall(r"make ([a-z0-9-]+)\s", make("-s", "help")))
    assert listed == set(phony_targets())


def test_make_crd_writes_every_crd_copy() -> None:
    commands = make("-n", "crd")
    written = set(re.findall(r"> (\S+)", commands)) | set(
        re.findall(r"^cp \S+ (\S+)$", commands, re.M)
    )
    chart_files = ROOT / "helm" / "contactsync" / "files"
    copies = {f"helm/contactsync/files/{p.name}" for p in chart_files.glob("*crd*.yaml")}
    generated = {"crds/contactsync.yaml", "crds/contactsyncegresspolicy.yaml"}
    assert len(copies) == 3
    assert copies | generated <= written, sorted((copies | generated) - written)
    assert "deploy/render.sh" in commands, "and the kubectl artifacts built from them"


def test_the_commit_hooks_run_what_make_lint_runs() -> None:
    lint = make("-n", "lint").split("\n")
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"]]
    for command in filter(None, (line.strip() for line in lint)):
        assert command in entries, f"no pre-commit hook runs `{command}`"
