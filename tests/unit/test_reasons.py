"""Every condition reason is one the operator writes, and docs/operator.md lists each with who
acts on it: people search the docs for the reason a condition or an alert shows them."""

from __future__ import annotations

import re
from pathlib import Path

from contactsync_api.reasons import RETRIED_BY_ITSELF, STATE_REASONS, Reason

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs" / "operator.md"
OPERATOR = ROOT / "operator" / "contactsync_operator"


def status_tables() -> list[list[list[str]]]:
    """The tables of the docs' Status section, as rows of cells, headers left out."""
    section = DOCS.read_text().split("\n## Status\n", 1)[1].split("\n## ", 1)[0]
    tables: list[list[list[str]]] = []
    for block in re.split(r"\n(?!\|)", section):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            tables.append([[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]])
    return tables


def named(cell: str) -> set[str]:
    return set(re.findall(r"`([A-Za-z]+)`", cell))


def test_every_reason_is_written_by_the_operator() -> None:
    code = "\n".join(path.read_text() for path in OPERATOR.glob("*.py"))
    unused = [reason.name for reason in Reason if f"Reason.{reason.name}" not in code]
    assert unused == []


def test_the_docs_list_exactly_the_reasons_there_are() -> None:
    conditions, problems = status_tables()
    documented = set().union(
        *(named(row[-1]) for row in conditions), *(named(row[0]) for row in problems)
    )
    assert documented == {str(reason) for reason in Reason}
    assert {name for row in problems for name in named(row[0])} == {
        str(reason) for reason in Reason if reason not in STATE_REASONS
    }


def test_the_docs_say_which_problems_the_operator_retries_by_itself() -> None:
    _, problems = status_tables()
    retried = {
        name for row in problems if row[-1].startswith("the operator") for name in named(row[0])
    }
    assert retried == {str(reason) for reason in RETRIED_BY_ITSELF}
