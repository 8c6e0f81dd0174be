"""The Dockerfile is the one recipe for the image: linted, pinned, non-root, labelled."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.servers import toolchain

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _stages() -> list[list[str]]:
    """The instructions of each stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = [[]]
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if (
            line.upper().startswith("FROM ")
            and stages[-1]
            and any(s.upper().startswith("FROM ") for s in stages[-1])
        ):
            stages.append([])
        stages[-1].append(line)
    return stages


def _instructions(stage: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) + 1 :] for line in stage if line.upper().startswith(keyword + " ")]


def test_hadolint_finds_nothing() -> None:
    hadolint = toolchain.on_path("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_an_unpinned_base(tmp_path: Path) -> None:
    """The lint is live: the same configuration refuses a base image without a tag."""
    bad = tmp_path / "Dockerfile"
    bad.write_text('FROM debian\nUSER 10001\nCMD ["true"]\n')
    result = subprocess.run(
        [
            str(toolchain.on_path("hadolint")),
            "--no-color",
            "--config",
            str(ROOT / ".hadolint.yaml"),
            str(bad),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def test_the_base_image_is_pinned_to_a_point_release() -> None:
    args = [
        line for line in DOCKERFILE.read_text().splitlines() if line.startswith("ARG BASE_IMAGE=")
    ]
    assert len(args) == 1
    image = args[0].split("=", 1)[1]
    name, _, tag = image.partition(":")
    assert name == "debian"
    assert re.fullmatch(r"\d+\.\d+-slim", tag), f"{image} is not pinned to a Debian point release"


def test_the_final_stage_runs_as_a_numeric_non_root_user_and_holds_no_build_tools() -> None:
    build, final = _stages()
    users = _instructions(final, "USER")
    assert users == ["10001:10001"]
    final_text = " ".join(final)
    for tool in ("python3-venv", "pip install", "gcc", "build-essential"):
        assert tool not in final_text, f"{tool} in the final stage"
    # The build stage removes its own installers from the venv it hands over.
    assert any("pip uninstall --yes pip setuptools" in line for line in _instructions(build, "RUN"))
    assert _instructions(final, "ENTRYPOINT") == ['["contactsync"]']


def test_oci_labels_carry_source_version_and_licence() -> None:
    final = _stages()[-1]
    labels = " ".join(_instructions(final, "LABEL"))
    for key in ("source", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    version_arg = _instructions(final, "ARG")
    chart = yaml.safe_load((ROOT / "helm/contactsync/Chart.yaml").read_text())
    assert f"VERSION={chart['appVersion']}" in version_arg


def test_the_build_context_is_the_package_sources_only() -> None:
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*", "the context must start from nothing and allow files in"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "api", "cli", "operator", "worker"}
    copied = " ".join(_instructions(_stages()[0], "COPY"))
    for name in allowed:
        assert name in copied
