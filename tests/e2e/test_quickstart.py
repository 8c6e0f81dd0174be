"""The README's main job: ``make quickstart`` runs the sample on an embedded Temporal dev
server, twice on one throwaway state directory; and again, on a fresh one, as a person
trying it a second time would."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parents[2]
CLI = Path(sys.executable).parent / "contactsync"
# What the Makefile's quickstart target runs (after the set-up), with a fresh --state-dir.
QUICKSTART = (
    "run",
    "examples/quickstart.yaml",
    "--demo",
    "examples/sample-contacts",
    "--log-format",
    "text",
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], capture_output=True, text=True, timeout=180, cwd=ROOT, check=False
    )


def counts(out: str, label: str) -> dict[str, int]:
    """A row of the summary table, by column."""
    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("pages"))
    columns = [c.strip() for c in header.split("  ") if c.strip()]
    found = next(line.split() for line in lines if line.split()[:1] == [label])
    return dict(zip(columns, map(int, found[-len(columns) :]), strict=True))


def test_the_makefile_runs_what_this_test_runs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"QUICKSTART := {' '.join(QUICKSTART)}\n" in makefile
    assert '$(CLI) $(QUICKSTART) --state-dir "$$state"' in makefile


def test_quickstart_syncs_the_samples_then_nothing_twice_in_a_row() -> None:
    for _ in range(2):  # a fresh state each time, as each `make quickstart` makes
        with tempfile.TemporaryDirectory() as state:
            first = run(*QUICKSTART, "--state-dir", state)
            second = run(*QUICKSTART, "--state-dir", state)

        assert first.returncode == 0, first.stderr
        out = first.stdout
        assert "ContactSync default/quickstart: valid" in out
        assert re.search(
            r"Temporal dev server started \(temporal version .+\) at 127\.0\.0\.1:", out
        )
        # 8 samples: 6 consented to "directory", one to "newsletter" only, one to nothing.
        book = counts(out, "team-book")
        assert (book["created"], book["no consent"], book["quarantined"]) == (6, 2, 0)
        assert "/alice/phonebook/ holds 6 contacts (read back over CardDAV)" in out
        assert "Temporal dev server stopped" in out
        assert out.rstrip().endswith("default/quickstart region local: synced")

        assert second.returncode == 0, second.stderr
        again = counts(second.stdout, "total")
        assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)
        assert "/alice/phonebook/ holds 6 contacts" in second.stdout


def test_quickstart_refuses_an_invalid_manifest_naming_the_field(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    text = (ROOT / "examples" / "quickstart.yaml").read_text()
    manifest.write_text(text.replace("fields: [fullName,", "fields: [ssn, fullName,"))
    result = run("run", str(manifest), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "spec.fields[0]" in result.stderr
    assert "Temporal dev server started" not in result.stdout


def test_local_is_an_alias_of_run_with_a_throwaway_state() -> None:
    result = run("local", "examples/quickstart.yaml", "--demo", "examples/sample-contacts")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("contactsync local is deprecated: use contactsync run")
    assert counts(result.stdout, "team-book")["created"] == 6


def test_check_reports_every_example_valid() -> None:
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
    result = run("check", *examples)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" is valid") == len(examples)
