"""Dry runs against real servers: a region synced once, then changed at its sources; the dry
run reports what the next sync does (which then does exactly that), and writes nothing: not
to the destination, the state store (items, identities, sync tokens, written hashes, the
audit chain), nor Temporal."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contactsync_api.errors import SourceUnavailable
from contactsync_worker.dry_run import Change, GuardCheck, describe, dry_run
from contactsync_worker.main import state_file
from tests.carddav_sync import VCARD, carddav_region, cards, region_config, sync, vcard
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
CONSENT = {"mode": "Required", "property": "X-CONSENT", "purposes": ["directory"]}


async def put(dav: httpx.AsyncClient, book: str, name: str, card: bytes) -> None:
    response = await dav.put(f"{book}{name}.vcf", content=card, headers=VCARD)
    assert response.status_code in (201, 204), response.text


def state_rows(files: WorkerFiles) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the worker's SQLite state, read without writing."""
    path = state_file(files.root / "state")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}  # noqa: S608
    finally:
        conn.close()


def state_bytes(files: WorkerFiles) -> dict[str, str]:
    """The digests of the state file and its write-ahead log, as they are on disk."""
    path = state_file(files.root / "state")
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (path, path.with_name(f"{path.name}-wal"))
        if p.exists()
    }


def application_error(error: WorkflowFailureError) -> ApplicationError:
    """The ApplicationError under a workflow failure: the searchable type and message."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    assert isinstance(cause, ApplicationError), error
    return cause


async def temporal_view(files: WorkerFiles) -> tuple[list[str], list[str]]:
    """The workflows of the region's task queue and the namespace's schedules."""
    client = await Client.connect(files.temporal_address, namespace=files.temporal_namespace)
    runs = [w.id async for w in client.list_workflows(f'TaskQueue = "{files.task_queue}"')]
    schedules = [s.id async for s in await client.list_schedules()]
    return sorted(runs), sorted(schedules)


async def everything(files: WorkerFiles, dav: httpx.AsyncClient, book: str) -> dict[str, object]:
    """What a dry run must leave alone: the book, the state (rows and bytes), Temporal."""
    return {
        "book": await cards(dav, book),
        "rows": state_rows(files),
        "bytes": state_bytes(files),
        "temporal": await temporal_view(files),
    }


async def test_the_dry_run_reports_what_the_next_sync_does_and_writes_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server, consent=CONSENT) as (
        files,
        source,
        book,
    ):
        for n in range(6):
            card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org", "directory")
            await put(dav, source, f"c{n}", card)
        assert (await sync(files)).created == 6

        renamed = vcard("u0", "Person Zero", "p0@example.org", "directory")
        await put(dav, source, "c0", renamed)  # one edit
        await put(dav, source, "c6", vcard("u6", "Person 6", "p6@example.org", "directory"))
        assert (await dav.delete(f"{source}c1.vcf")).status_code in (200, 204)  # one removed
        await put(dav, source, "c2", vcard("u2", "Person 2", "p2@example.org"))  # withdrawn

        before = await everything(files, dav, book)
        rows = before["rows"]
        assert isinstance(rows, dict)
        assert rows["checkpoints"], "the source's sync token is in the state"
        assert rows["audit_head"], "so is the audit chain's head"
        report = await dry_run(files.settings(free_port()), detail=True)
        assert await everything(files, dav, book) == before, "the dry run wrote something"

        (plan,) = report.destinations
        assert (plan.name, plan.created, plan.updated, plan.deleted) == ("phonebook", 1, 1, 2)
        assert (plan.unchanged, plan.held) == (3, 6)
        assert sorted(c.change for c in plan.changes) == [
            Change.CREATE,
            Change.DELETE,
            Change.DELETE,
            Change.UPDATE,
        ]
        assert all(c.values is None for c in plan.changes), "values only when asked for"
        written = [c for c in plan.changes if c.change is not Change.DELETE]
        assert all(c.fields == ("emails", "fullName") for c in written)
        (reading,) = report.sources
        assert (reading.name, reading.skipped_no_consent, reading.quarantined) == ("team", 1, 0)
        assert reading.read == 3, "a CardDAV source lists what changed: the edit, the new, c2"
        assert report.guard == (GuardCheck("phonebook", 2, 6, 50, blocked=False),)
        lines = describe(report)
        assert "destination phonebook: would create 1, update 1, delete 2, unchanged 3" in (
            "\n".join(lines)
        )
        assert not any("Person" in line or "example.org" in line for line in lines)

        real = await sync(files)
        assert replace(real, audit_checkpoint="") == report.summary
        assert (real.created, real.updated, real.deleted, real.skipped_no_consent) == (1, 1, 2, 1)
        assert len(await cards(dav, book)) == 5


async def test_values_are_listed_only_when_asked_for(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (files, source, _):
        await put(dav, source, "c0", vcard("u0", "Ada Lovelace", "ada@example.org"))
        quiet = await dry_run(files.settings(free_port()))
        assert quiet.destinations[0].changes == ()
        assert not any("Ada" in line for line in describe(quiet))
        loud = await dry_run(files.settings(free_port()), values=True)
        (change,) = loud.destinations[0].changes
        assert change.change is Change.CREATE
        assert change.values is not None
        assert change.values["fullName"] == "Ada Lovelace"
        emails = change.values["emails"]
        assert isinstance(emails, list)
        assert [e["value"] for e in emails] == ["ada@example.org"]
        assert any("Ada Lovelace" in line for line in describe(loud))


async def test_a_dry_run_that_trips_the_guard_says_so_and_writes_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    deletes = {"propagate": True, "maxDeletePercent": 20}
    async with carddav_region(tmp_path, radicale_server, temporal_server, deletes=deletes) as (
        files,
        source,
        book,
    ):
        for n in range(10):
            await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
        assert (await sync(files)).created == 10
        for n in range(5):
            assert (await dav.delete(f"{source}c{n}.vcf")).status_code in (200, 204)

        before = await everything(files, dav, book)
        report = await dry_run(files.settings(free_port()))
        assert await everything(files, dav, book) == before, "the dry run wrote something"

        assert report.blocked
        assert report.guard == (GuardCheck("phonebook", 5, 10, 20, blocked=True),)
        assert report.guard[0].percent == 50
        assert report.destinations[0].deleted == 0, "the guard deletes nothing"
        assert "mass-delete guard on phonebook: BLOCKS the sync (5 of 10, 50%, limit 20%)" in (
            describe(report)
        )
        with pytest.raises(WorkflowFailureError) as blocked:
            await sync(files)
        refused = application_error(blocked.value)
        assert refused.type == "MassDeleteBlocked"
        assert refused.message == report.blocked_message
        assert len(await cards(dav, book)) == 10


async def test_an_unreachable_source_is_an_error_not_an_empty_source(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    source = radicale_server.create_addressbook()
    book = radicale_server.create_addressbook()
    for n in range(3):
        await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, source_book=source, destination_book=book
    ) as (files, _, _):
        assert (await sync(files)).created == 3
        # The same region and state, while its source cannot be reached.
        dead = region_config(f"http://127.0.0.1:{free_port()}/nobody/book/", book)
        unreachable = WorkerFiles(
            files.root, dead, f"dry-{uuid.uuid4().hex[:8]}", files.temporal_address
        )
        before = await everything(files, dav, book)
        with pytest.raises(SourceUnavailable) as failed:
            await dry_run(unreachable.settings(free_port()))
        assert "team" in str(failed.value)
        assert await everything(files, dav, book) == before


async def test_merges_that_trip_the_guard_in_a_page_are_reported_and_write_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    people = tmp_path / "people.csv"
    rows = [(f"p{n}", f"Person {n}", f"p{n}@example.org") for n in range(10)]
    people.write_text("id,fullName,emails\n" + "".join(f"{i},{n},{e}\n" for i, n, e in rows))
    csv = {"name": "people", "region": "local", "csv": {"path": str(people)}}
    async with carddav_region(
        tmp_path / "worker",
        radicale_server,
        temporal_server,
        sources=[csv],
        fields=["fullName", "emails"],
        identity=["email"],
        deletes={"propagate": True, "maxDeletePercent": 20},
    ) as (files, _, book):
        assert (await sync(files)).created == 10
        # Three rows, each joining two people: three contacts would be folded away (30%).
        joins = "".join(
            f"j{n},Joined {n},p{n}@example.org;p{n + 5}@example.org\n" for n in range(3)
        )
        people.write_text(people.read_text() + joins)

        before = await everything(files, dav, book)
        report = await dry_run(files.settings(free_port()))
        assert await everything(files, dav, book) == before, "the dry run wrote something"

        assert report.blocked
        assert report.guard == (GuardCheck("phonebook", 3, 10, 20, blocked=True),)
        (reading,) = report.sources
        assert (reading.name, reading.whole) == ("people", False)
        assert report.destinations[0].deleted == 0
        with pytest.raises(WorkflowFailureError) as blocked:
            await sync(files)
        refused = application_error(blocked.value)
        assert refused.message == report.blocked_message
