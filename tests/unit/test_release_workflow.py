"""The release workflow is linted and says what docs/release.md promises.

GitHub and GHCR are out of reach here, so nothing in it runs but its version check. What is
checked instead: actionlint (with shellcheck on every `run:` block) finds nothing, and the
workflow is triggered by version tags only, pins every action to a commit, asks for no more
than it uses, builds both platforms and signs the image and the chart by digest.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import toolchain

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yaml"
VERSION_SCRIPT = ROOT / ".github" / "scripts" / "release_version.py"

# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a commit, and the release it is.
PINNED = re.compile(r"uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v(\d+)\.\d+\.\d+)$")


def _workflow_files() -> list[Path]:
    files = sorted(WORKFLOWS.glob("*.yaml"))
    assert files, f"no workflows in {WORKFLOWS}"
    assert not list(WORKFLOWS.glob("*.yml")), "name workflows .yaml, as the tests look for"
    return files


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return dict(data)


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def _step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [s for s in _steps(job) if s.get("uses", "").startswith(action + "@")]
    return step


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in _steps(job))


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    """actionlint, told where shellcheck is: without it, `run:` blocks go unchecked."""
    binary = toolchain.built_binary("actionlint", toolchain.ACTIONLINT_VERSION)
    shellcheck = toolchain.on_path("shellcheck")
    return [str(binary), "-no-color", f"-shellcheck={shellcheck}", "-pyflakes="]


def _lint(actionlint: list[str], files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*actionlint, *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _as_release_tags(text: str) -> str:
    """Each pinned action as `@vMAJOR`: actionlint knows popular actions' inputs and
    outputs by tag only, so a pinned `with:` typo or a wrong `outputs.` name would pass."""
    return re.sub(r"@[0-9a-f]{40} # v(\d+)[.\d]*", r"@v\1", text)


def test_actionlint_finds_nothing(actionlint: list[str]) -> None:
    result = _lint(actionlint, _workflow_files(), ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_nothing_in_the_actions_inputs_and_outputs(
    actionlint: list[str], tmp_path: Path
) -> None:
    copies = []
    for path in _workflow_files():
        copy = tmp_path / path.name
        copy.write_text(_as_release_tags(path.read_text()))
        copies.append(copy)
    result = _lint(actionlint, copies, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_misspelled_input_a_wrong_output_and_an_unquoted_variable(
    actionlint: list[str], tmp_path: Path
) -> None:
    """The lint is live: the three mistakes a release workflow hides best are found."""
    text = _as_release_tags(RELEASE.read_text())
    for right, wrong in [
        ("provenance: mode=max", "provenence: mode=max"),
        ("steps.build.outputs.digest", "steps.build.outputs.digests"),
        ('cosign sign --yes "$IMAGE@$DIGEST"', "cosign sign --yes $IMAGE@$DIGEST"),
    ]:
        assert right in text
        text = text.replace(right, wrong)
    bad = tmp_path / "release.yaml"
    bad.write_text(text)
    output = _lint(actionlint, [bad], tmp_path).stdout
    assert 'input "provenence" is not defined' in output
    assert 'property "digests" is not defined' in output
    assert "SC2086" in output


def test_the_release_runs_for_version_tags_only() -> None:
    assert _load(RELEASE)["on"] == {"push": {"tags": ["v*.*.*"]}}


def test_every_action_is_pinned_to_a_commit_and_names_its_release() -> None:
    seen: dict[str, set[str]] = {}
    for path in _workflow_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "uses:" not in line or line.strip().startswith("#"):
                continue
            where = f"{path.name}:{number}: {line.strip()}"
            match = PINNED.search(line)
            assert match, f"{where}: pin to a full commit SHA with `# vX.Y.Z` after it"
            action, sha, _, _ = match.groups()
            seen.setdefault(action, set()).add(sha)
    # One release of each action across the workflows, so an update is one search-and-replace.
    assert {action: shas for action, shas in seen.items() if len(shas) > 1} == {}


def test_permissions_are_none_by_default_and_each_job_has_only_what_it_uses() -> None:
    release = _load(RELEASE)
    assert release["permissions"] == {}
    publish = {"contents": "read", "packages": "write", "id-token": "write"}
    assert {name: job["permissions"] for name, job in release["jobs"].items()} == {
        "verify": {"contents": "read"},
        "image": publish,
        "chart": publish,
    }
    # Whoever asks for an OIDC token signs with it; whoever may write packages pushes.
    for name, job in release["jobs"].items():
        signs = "cosign sign" in _runs(job)
        assert signs == (job["permissions"].get("id-token") == "write"), name
    ci = _load(WORKFLOWS / "ci.yaml")
    assert ci["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in ci["jobs"].values())


def test_checkouts_keep_no_credentials() -> None:
    for path in _workflow_files():
        for name, job in _load(path)["jobs"].items():
            for step in _steps(job):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name} {name}"


def test_the_image_is_built_for_amd64_and_arm64_with_provenance_and_an_sbom() -> None:
    job = _load(RELEASE)["jobs"]["image"]
    uses = [s.get("uses", "").split("@")[0] for s in _steps(job)]
    assert uses.index("docker/setup-qemu-action") < uses.index("docker/build-push-action")
    assert uses.index("docker/setup-buildx-action") < uses.index("docker/build-push-action")
    build = _step_using(job, "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["provenance"] == "mode=max"
    assert build["sbom"] is True
    # The image's version label is the tag's version, as the Dockerfile's VERSION argument.
    assert build["build-args"] == "VERSION=${{ needs.verify.outputs.version }}"


def test_the_image_is_signed_by_the_digest_it_was_pushed_as() -> None:
    job = _load(RELEASE)["jobs"]["image"]
    [sign] = [s for s in _steps(job) if "cosign sign" in s.get("run", "")]
    assert sign["run"] == 'cosign sign --yes "$IMAGE@$DIGEST"'
    assert sign["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert sign["env"]["IMAGE"] == "${{ needs.verify.outputs.image }}"
    assert _step_using(job, "docker/build-push-action")["id"] == "build"


def test_the_chart_is_packaged_at_the_tag_pushed_to_ghcr_and_signed_by_digest() -> None:
    jobs = _load(RELEASE)["jobs"]
    job = jobs["chart"]
    assert job["needs"] == ["verify", "image"], "the chart's default image must exist first"
    script = _runs(job)
    assert 'helm package helm/contactsync --version "$VERSION" --app-version "$VERSION"' in script
    assert 'helm push "$RUNNER_TEMP/chart/contactsync-$VERSION.tgz" "oci://$CHARTS"' in script
    assert 'cosign sign --yes "$CHARTS/contactsync@$digest"' in script
    assert script.index("helm push") < script.index("cosign sign")
    names = _steps(jobs["verify"])[-1]["run"]
    assert 'echo "charts=ghcr.io/$owner/charts"' in names
    assert 'echo "image=ghcr.io/$owner/contactsync"' in names


def test_the_chart_is_packaged_by_the_helm_the_tests_use() -> None:
    job = _load(RELEASE)["jobs"]["chart"]
    go = _step_using(job, "actions/setup-go")["with"]
    assert go["go-version-file"] == "tests/env/helm/go.mod"
    [build] = [s for s in _steps(job) if s.get("name") == "Build helm"]
    assert build["working-directory"] == "tests/env/helm"


def test_publishing_waits_for_the_version_check() -> None:
    jobs = _load(RELEASE)["jobs"]
    assert jobs["image"]["needs"] == "verify"
    [check] = [s for s in _steps(jobs["verify"]) if s.get("id") == "version"]
    assert check["run"] == '.github/scripts/release_version.py "$TAG" >> "$GITHUB_OUTPUT"'
    assert check["env"]["TAG"] == "${{ github.ref_name }}"


def test_setup_builds_the_actionlint_this_test_runs() -> None:
    setup = (ROOT / "tests/env/setup.sh").read_text()
    assert f"\nACTIONLINT_VERSION={toolchain.ACTIONLINT_VERSION} " in setup
    module = (ROOT / "tests/env/actionlint/go.mod").read_text()
    assert f"\tgithub.com/rhysd/actionlint {toolchain.ACTIONLINT_VERSION} " in module


# --- the version check, run for real on a copy of the files it reads --------------------


def _repository(tmp_path: Path, chart: str, app: str, project: str) -> Path:
    scripts = tmp_path / ".github" / "scripts"
    scripts.mkdir(parents=True)
    shutil.copy2(VERSION_SCRIPT, scripts)
    (tmp_path / "helm" / "contactsync").mkdir(parents=True)
    (tmp_path / "helm" / "contactsync" / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: contactsync\nversion: {chart}\nappVersion: {app}\n"
        # A dependency's version is not the chart's.
        "dependencies:\n  - name: other\n    version: 9.9.9\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "contactsync"\nversion = "{project}"\n'
    )
    return scripts / VERSION_SCRIPT.name


def _check(script: Path, tag: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), tag], capture_output=True, text=True, check=False, timeout=30
    )


def test_the_version_check_passes_this_repository_at_its_own_version() -> None:
    chart = yaml.safe_load((ROOT / "helm/contactsync/Chart.yaml").read_text())
    result = _check(VERSION_SCRIPT, f"v{chart['version']}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"version={chart['version']}\n"


def test_the_version_check_prints_the_version_when_all_three_agree(tmp_path: Path) -> None:
    script = _repository(tmp_path, "1.2.3", '"1.2.3"', "1.2.3")
    result = _check(script, "v1.2.3")
    assert (result.returncode, result.stdout) == (0, "version=1.2.3\n"), result.stderr


@pytest.mark.parametrize(
    ("chart", "app", "project", "names"),
    [
        ("1.2.4", '"1.2.3"', "1.2.3", "Chart.yaml version is '1.2.4'"),
        ("1.2.3", '"1.2.0"', "1.2.3", "Chart.yaml appVersion is '1.2.0'"),
        ("1.2.3", "1.2.3", "1.3.0", "pyproject.toml version is '1.3.0'"),
    ],
)
def test_the_version_check_fails_naming_the_file_that_disagrees(
    tmp_path: Path, chart: str, app: str, project: str, names: str
) -> None:
    result = _check(_repository(tmp_path, chart, app, project), "v1.2.3")
    assert result.returncode == 1
    assert names in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("tag", ["1.2.3", "v1.2", "v1.2.3-rc.1", "v1.2.3.4", "v01.2.3x"])
def test_the_version_check_refuses_a_tag_that_is_not_vmajor_minor_patch(
    tmp_path: Path, tag: str
) -> None:
    result = _check(_repository(tmp_path, "1.2.3", "1.2.3", "1.2.3"), tag)
    assert result.returncode == 1
    assert "is not vMAJOR.MINOR.PATCH" in result.stderr
