"""Values that are not what their field says, in whole syncs from a JSON Lines file into
PostgreSQL: dropped and counted, or their record quarantined; a record that names no one is
quarantined and reported by id; the audit holds counts and ids, never the values."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.postgres, pytest.mark.temporal]
NAME = "invalid-values"
SCOPE = f"tests/{NAME}/local"
PEOPLE = [
    {
        "id": "ada",
        "fullName": "Ada Lovelace",
        "emails": ["ada@example.org", "not-an-email"],
        "phones": ["030 1234567", "call me maybe"],
    },
    {
        "id": "bob",
        "fullName": "Bob Book",
        "emails": ["bob@example.org"],
        "phones": ["+49 30 7654321"],
    },
    # No email, no uid, no name: nothing to merge on and nothing to show.
    {"id": "n-17", "title": "Engineer"},
]
BAD = ("not-an-email", "call me maybe")


def region(people: Path, table: str, values: dict[str, Any]) -> RegionConfig:
    return RegionConfig.model_validate(
        {
            "contactSync": f"tests/{NAME}",
            "region": {"name": "local"},
            "sources": [{"name": "people", "region": "local", "jsonl": {"path": str(people)}}],
            "destinations": [
                {
                    "name": "phonebook",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": ["fullName", "emails", "phones", "title"],
            "identity": ["email", "uid"],
            "consent": {"mode": "NotRequired"},
            "values": values,
            "deletes": {"propagate": True, "maxDeletePercent": 100},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


async def synced(
    tmp_path: Path,
    temporal: TemporalDevServer,
    postgres: PostgresServer,
    values: dict[str, Any],
) -> tuple[SyncSummary, list[tuple[Any, ...]]]:
    """One sync of PEOPLE under ``values``; the summary and the rows written."""
    people = tmp_path / "people.jsonl"
    people.write_text("".join(json.dumps(person) + "\n" for person in PEOPLE))
    table = f"phonebook_{uuid.uuid4().hex[:8]}"
    files = WorkerFiles(
        tmp_path,
        region(people, table, values),
        task_queue=f"sync-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    async with running_worker(files, free_port()):
        client = await files.client()
        summary: SyncSummary = await client.execute_workflow(
            SYNC_WORKFLOW,
            SyncInput(RegionRunRequest("tests", NAME, "local")),
            id=f"sync-{uuid.uuid4().hex}",
            task_queue=files.task_queue,
            result_type=SyncSummary,
        )
    with psycopg.connect(postgres.dsn) as db:
        query = sql.SQL("SELECT full_name, emails, phones FROM {} ORDER BY full_name").format(
            sql.Identifier("public", table)
        )
        rows = db.execute(query).fetchall()
    return summary, rows


def audit(tmp_path: Path) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        rows = db.execute(
            "SELECT action, detail FROM audit_log WHERE scope = ? ORDER BY seq", (SCOPE,)
        ).fetchall()
        everything = " ".join(str(v) for row in db.execute("SELECT * FROM audit_log") for v in row)
    for bad in BAD:
        assert bad not in everything, "the audit never holds a value"
    return [(action, json.loads(detail)) for action, detail in rows]


async def test_invalid_values_are_dropped_and_counted_and_phones_written_as_e164(
    tmp_path: Path, temporal_server: TemporalDevServer, postgres_server: PostgresServer
) -> None:
    values = {"invalid": "Drop", "phones": {"normalize": "E164", "defaultRegion": "DE"}}
    summary, rows = await synced(tmp_path, temporal_server, postgres_server, values)

    assert rows == [
        ("Ada Lovelace", ["ada@example.org"], ["+49301234567"]),
        ("Bob Book", ["bob@example.org"], ["+49307654321"]),
    ]
    assert (summary.created, summary.dropped_emails, summary.dropped_phones) == (2, 1, 1)
    assert (summary.quarantined, summary.quarantined_no_identity) == (1, 1)
    assert summary.quarantined_invalid_values == 0
    records = audit(tmp_path)
    assert [d for a, d in records if a == "values_dropped"] == [
        {"item": "ada", "emails": 1, "phones": 1}
    ]
    [quarantined] = [d for a, d in records if a == "quarantined"]
    assert quarantined["item"] == "n-17"
    assert "no identity value (email, uid) and no name" in quarantined["reason"]


async def test_quarantine_sets_aside_the_whole_record_with_an_invalid_value(
    tmp_path: Path, temporal_server: TemporalDevServer, postgres_server: PostgresServer
) -> None:
    summary, rows = await synced(
        tmp_path, temporal_server, postgres_server, {"invalid": "Quarantine"}
    )

    # As written: the spec asks for no normalization.
    assert rows == [("Bob Book", ["bob@example.org"], ["+49 30 7654321"])]
    assert (summary.created, summary.dropped_emails, summary.dropped_phones) == (1, 0, 0)
    assert (summary.quarantined, summary.quarantined_invalid_values) == (2, 1)
    assert summary.quarantined_no_identity == 1
    records = audit(tmp_path)
    assert not [d for a, d in records if a == "values_dropped"]
    reasons = {d["item"]: d["reason"] for a, d in records if a == "quarantined"}
    assert set(reasons) == {"ada", "n-17"}
    assert reasons["ada"] == (
        "values that are not what their field says: 1 of emails not valid, 1 of phones not valid"
    )
