"""The README's main job: the quickstart runs on an embedded Temporal dev server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CLI = Path(sys.executable).parent / "contactsync"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=180, cwd=ROOT, check=False
    )


def test_quickstart_syncs_the_sample_contacts_on_the_dev_server() -> None:
    result = run("local", "examples/quickstart.yaml", "--demo", "examples/sample-contacts")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ContactSync default/quickstart: valid" in out
    assert "Temporal dev server started (temporal version" in out
    # Each schedule line carries what the dev server said back: its state and next run time.
    for kind in ("sync", "retention"):
        line = re.search(
            rf"schedule contactsync/default/quickstart/local/{kind}: (\S+), next run (\S+)", out
        )
        assert line, out
        assert line.group(1) == "active"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", line.group(2))
    # 8 samples: 6 consented to "directory", one to "newsletter" only, one to nothing.
    assert "sync run 1 of region local: created 6, updated 0, deleted 0" in out
    assert "skipped without consent 2" in out
    assert "sync run 2 of region local: created 0, updated 0, deleted 0" in out
    assert "/alice/phonebook/ holds 6 contacts (read back over CardDAV)" in out
    assert "Temporal dev server stopped" in out


def test_quickstart_refuses_an_invalid_manifest_naming_the_field(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    text = (ROOT / "examples" / "quickstart.yaml").read_text()
    manifest.write_text(text.replace("fields: [fullName,", "fields: [ssn, fullName,"))
    result = run("local", str(manifest))
    assert result.returncode == 2
    assert "spec.fields[0]" in result.stderr
    assert "Temporal dev server started" not in result.stdout


def test_check_reports_every_example_valid() -> None:
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
    result = run("check", *examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" is valid") == len(examples)
