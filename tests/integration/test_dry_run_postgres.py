"""A dry run of a region whose state and destination are in PostgreSQL: the state is read in
one read-only transaction and copied, so neither the state rows nor the table change, and
the next sync does what the dry run said."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker.dry_run import dry_run
from contactsync_worker.store.copy import TABLES
from contactsync_worker.store.postgres import DEFAULT_SCHEMA
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]


@pytest.fixture
def schema(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"dry_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def write_people(path: Path, people: dict[str, str]) -> None:
    """One JSON Lines record per id: the name given, an address made from the id."""
    path.write_text(
        "".join(
            json.dumps({"id": i, "fullName": name, "emails": [f"{i}@example.test"]}) + "\n"
            for i, name in people.items()
        )
    )


def region_files(
    root: Path, source: Path, schema: str, postgres: PostgresServer, temporal: TemporalDevServer
) -> WorkerFiles:
    config = RegionConfig.model_validate(
        {
            "contactSync": f"tests/{schema}",  # a scope of its own in the shared store
            "region": {
                "name": "local",
                "store": {"postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}}},
            },
            "sources": [{"name": "people", "region": "local", "jsonl": {"path": str(source)}}],
            "destinations": [
                {
                    "name": "directory",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": schema},
                }
            ],
            "fields": ["fullName", "emails"],
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )
    files = WorkerFiles(root, config, f"dry-{uuid.uuid4().hex[:8]}", temporal.address)
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    return files


async def sync(files: WorkerFiles, schema: str) -> SyncSummary:
    client = await files.client()
    result: SyncSummary = await client.execute_workflow(
        SYNC_WORKFLOW,
        SyncInput(RegionRunRequest("tests", schema, "local")),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )
    return result


async def everything(dsn: str, schema: str, scope: str) -> dict[str, list[tuple[Any, ...]]]:
    """The scope's rows in every state table (the audit log too) and the destination's rows."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for table in [*(t for t, _, _ in TABLES), "audit_log"]:
            query = sql.SQL("SELECT * FROM {} WHERE scope = %s").format(
                sql.Identifier(DEFAULT_SCHEMA, table)
            )
            found[table] = sorted(await (await conn.execute(query, (scope,))).fetchall())
        query = sql.SQL("SELECT * FROM {} ORDER BY contact_id").format(
            sql.Identifier(schema, "contacts")
        )
        found["destination"] = await (await conn.execute(query)).fetchall()
    return found


async def test_a_dry_run_on_postgresql_state_predicts_the_sync_and_writes_nothing(
    tmp_path: Path,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
    schema: str,
) -> None:
    source = tmp_path / "people.jsonl"
    people = {f"p{n}": f"Person {n}" for n in range(5)}
    write_people(source, people)
    files = region_files(tmp_path / "pod", source, schema, postgres_server, temporal_server)
    scope = f"tests/{schema}/local"
    async with running_worker(files, free_port()):
        assert (await sync(files, schema)).created == 5
        people["p0"] = "Person Zero"  # one edit
        people["p5"] = "Person 5"  # one new
        del people["p1"]  # one removed
        write_people(source, people)

        before = await everything(postgres_server.dsn, schema, scope)
        assert before["items"], "the state is in PostgreSQL"
        assert before["audit_head"], "so is the audit chain"
        report = await dry_run(files.settings(free_port()))
        assert await everything(postgres_server.dsn, schema, scope) == before

        (plan,) = report.destinations
        assert (plan.created, plan.updated, plan.deleted, plan.unchanged) == (1, 1, 1, 3)
        (reading,) = report.sources
        assert (reading.read, reading.whole) == (5, True)
        real = await sync(files, schema)
        assert replace(real, audit_checkpoint="") == report.summary
        assert (real.created, real.updated, real.deleted) == (1, 1, 1)
