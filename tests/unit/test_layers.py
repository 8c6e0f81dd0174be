"""The layers in pyproject.toml's [tool.importlinter] hold, and would catch a breach: the API
package importing the worker, a workflow importing an activity, a client library outside its
adapter, the operator reaching into the worker beyond its codec and keyring."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("api", "cli", "operator", "worker")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of ``root``'s pyproject.toml over the packages in ``root``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(root / package) for package in PACKAGES),
    }
    return subprocess.run(
        [str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_layer_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy_of_the_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "api/contactsync_api/fields.py",
            "from contactsync_worker import keyring",
            "The API package imports no other part of the project",
        ),
        (
            "worker/contactsync_worker/workflows.py",
            "from contactsync_worker import activities",
            "Workflows import only the API package",
        ),
        (
            "operator/contactsync_operator/planner.py",
            "from contactsync_worker import store",
            "The operator imports the API package and, of the worker, only",
        ),
        (
            "worker/contactsync_worker/contacts/merge.py",
            "import psycopg",
            "PostgreSQL is spoken in the PostgreSQL store and destination only",
        ),
        (
            "worker/contactsync_worker/keyring.py",
            "from contactsync_worker import settings",
            "The codec, keyring and request signing the operator shares",
        ),
    ],
)
def test_a_breach_of_a_layer_is_reported_by_its_contract(
    copy_of_the_project: Path, module: str, line: str, broken: str
) -> None:
    path = copy_of_the_project / module
    original = path.read_text()
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        result = lint_imports(copy_of_the_project)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    [verdict] = [
        text
        for text in result.stdout.split("\n\n")
        if broken in " ".join(text.split()) and "BROKEN" in text
    ] or [""]
    assert verdict, result.stdout
