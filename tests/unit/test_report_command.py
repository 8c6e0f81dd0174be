"""`contactsync report` as people run it: on every example, in both formats, against the JSON
schema docs/cli.md documents; an invalid manifest refused word for word as `check` refuses it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from contactsync_cli.processing_record.markdown import SECTIONS
from contactsync_cli.processing_record.model import (
    SCHEMA_VERSION,
    Endpoint,
    Report,
    Stated,
    Statement,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
CLI_DOC = ROOT / "docs" / "cli.md"


def contactsync(*args: str | Path) -> subprocess.CompletedProcess[str]:
    paths = [ROOT / part for part in ("api", "cli", "operator", "worker")] + [ROOT]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    return subprocess.run(
        [sys.executable, "-m", "contactsync_cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


def is_contactsync(path: Path) -> bool:
    return all(d.get("kind") == "ContactSync" for d in yaml.safe_load_all(path.read_text()) if d)


# Shapes the schema uses in several places; docs/cli.md documents each once, as `Shape.key`.
SHAPES: tuple[type[BaseModel], ...] = (Statement, Stated, Endpoint)


def schema_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every JSON key path of ``model`` (``records[].transfers.regions[].egressPorts``), down
    to the shapes, whose keys are named ``Statement.text``."""
    paths = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        annotation = info.annotation
        listed = typing.get_origin(annotation) is list
        inner = typing.get_args(annotation)[0] if listed else annotation
        if typing.get_origin(inner) in (types.UnionType, typing.Union):
            inner = next(a for a in typing.get_args(inner) if a is not type(None))
        paths.add(path)
        if inner in SHAPES:
            assert isinstance(inner, type)
            paths |= schema_paths(inner, f"{inner.__name__}.")
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            paths |= schema_paths(inner, f"{path}{'[]' if listed else ''}.")
    return paths


def documented_paths() -> set[str]:
    section = CLI_DOC.read_text().split("### The JSON schema", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z0-9_.\[\]]+)` \|", section, re.M))


def test_docs_document_every_key_of_the_json_schema() -> None:
    assert documented_paths() == schema_paths(Report)


def test_the_documented_excerpt_is_real_output() -> None:
    marker = "<!-- excerpt: contactsync report examples/quickstart.yaml -->"
    excerpt = CLI_DOC.read_text().split(marker, 1)[1].split("```markdown\n", 1)[1]
    lines = [line for line in excerpt.split("\n```", 1)[0].splitlines() if line]
    ran = contactsync("report", "examples/quickstart.yaml")
    assert ran.returncode == 0, ran.stderr
    output = ran.stdout.splitlines()
    assert len(lines) > 10
    for line in lines:
        assert line in output, line


CONTACTSYNCS = [p for p in EXAMPLES if is_contactsync(p)]


@pytest.mark.parametrize("path", CONTACTSYNCS, ids=[p.stem for p in CONTACTSYNCS])
def test_json_of_every_example_parses_and_holds_only_documented_keys(path: Path) -> None:
    ran = contactsync("report", path.relative_to(ROOT), "--format", "json")
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert document["schemaVersion"] == SCHEMA_VERSION
    Report.model_validate(document)  # unknown or missing keys are refused
    [record] = document["records"]
    assert record["contactSync"]["name"] == yaml.safe_load(path.read_text())["metadata"]["name"]


@pytest.mark.parametrize("path", CONTACTSYNCS, ids=[p.stem for p in CONTACTSYNCS])
def test_markdown_of_every_example_has_each_section(path: Path) -> None:
    ran = contactsync("report", path.relative_to(ROOT))
    assert ran.returncode == 0, ran.stderr
    headings = re.findall(r"^## \d+\. (.+?)(?: \(Art\. 30\(1\)\(\w\)\))?$", ran.stdout, re.M)
    assert headings == list(SECTIONS)


@pytest.mark.parametrize(
    "path", [p for p in EXAMPLES if not is_contactsync(p)], ids=lambda p: p.stem
)
def test_a_file_that_is_not_a_contactsync_is_refused_as_check_refuses_it(path: Path) -> None:
    report, check = contactsync("report", path), contactsync("check", path)
    assert report.returncode == check.returncode == 2
    assert report.stderr == check.stderr != ""
    assert report.stdout == ""


def test_an_invalid_manifest_is_refused_as_check_refuses_it(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    document = yaml.safe_load((ROOT / "examples" / "quickstart.yaml").read_text())
    document["spec"]["sources"][0]["carddav"]["allowInsecure"] = False
    document["spec"]["retention"] = {"auditLog": "forever"}
    manifest.write_text(yaml.safe_dump(document))
    report, check = (
        contactsync("report", manifest, "--format", "json"),
        contactsync("check", manifest),
    )
    assert report.returncode == check.returncode == 2
    assert report.stderr == check.stderr
    assert "spec.sources[0].carddav.url" in report.stderr
    assert "spec.retention.auditLog" in report.stderr
    assert report.stdout == ""
    missing = contactsync("report", tmp_path / "missing.yaml")
    assert missing.returncode == 2
    assert missing.stderr == contactsync("check", tmp_path / "missing.yaml").stderr != ""


def test_several_contactsyncs_in_one_file_get_one_record_each_written_to_out(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "both.yaml"
    manifest.write_text(
        "\n---\n".join(
            (ROOT / "examples" / f"{n}.yaml").read_text() for n in ("quickstart", "multi-region")
        )
    )
    out = tmp_path / "record.json"
    ran = contactsync("report", manifest, "--format", "json", "--out", out)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""
    records = Report.model_validate_json(out.read_text()).records
    assert [r.contact_sync.name for r in records] == ["quickstart", "global-phonebook"]
    unwritable = contactsync("report", manifest, "--out", tmp_path / "no" / "such" / "dir.md")
    assert unwritable.returncode == 2
    assert unwritable.stderr.startswith("contactsync report: cannot write ")
    assert "Traceback" not in unwritable.stderr
