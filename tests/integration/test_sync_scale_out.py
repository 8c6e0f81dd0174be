"""The pages of one sync worked by two worker processes at once, on the real Temporal dev
server with a PostgreSQL state store both share: every page is written once, the same
person in two pages worked at the same time is one contact, and the mass-delete guard
counts every page's deletions however they interleave."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from contactsync_api.errors import ErrorType
from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker.sources.carddav import PAGE_SIZE as CARDDAV_PAGE_SIZE
from contactsync_worker.sources.files import PAGE_SIZE
from contactsync_worker.workflows import COMMIT_CHECKPOINT, SYNC_PAGE
from tests.servers.postgres import PostgresServer
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles
from tests.worker_process import WorkerProcess, worker_process

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]

PAGES = 6
PEOPLE = PAGES * PAGE_SIZE
SLICES = 4


def person(n: int, *, phone: str | None = None, emails: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": f"row-{n:05d}",
        "fullName": f"Person {n:05d}",
        "emails": emails or [f"person{n:05d}@example.test"],
        "phones": [phone or f"+49 30 {n:07d}"],
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def schema(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"scale_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def region_files(
    root: Path,
    source: Path | Mapping[str, Any],
    schema: str,
    postgres: PostgresServer,
    temporal: TemporalDevServer,
) -> WorkerFiles:
    """A region reading ``source`` (a JSON Lines file, or a source kind's spec) into a
    PostgreSQL table, its state in PostgreSQL too."""
    kind = {"jsonl": {"path": str(source)}} if isinstance(source, Path) else dict(source)
    config = RegionConfig.model_validate(
        {
            "contactSync": f"tests/{schema}",  # a scope of its own in the shared store
            "region": {
                "name": "local",
                "store": {"postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}}},
            },
            "sources": [{"name": "people", "region": "local", **kind}],
            "destinations": [
                {
                    "name": "directory",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": schema},
                }
            ],
            "fields": ["fullName", "emails", "phones"],
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 20},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )
    files = WorkerFiles(
        root / "pod",
        config,
        task_queue=f"scale-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
        # One page an activity and two activities a worker at most, so the four slices
        # spread over both workers.
        extra_env={
            "CONTACTSYNC_PAGE_BUDGET_SECONDS": "0",
            "CONTACTSYNC_PAGE_CONCURRENCY": str(SLICES),
            "CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES": "2",
        },
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    return files


@asynccontextmanager
async def two_workers(files: WorkerFiles, root: Path) -> AsyncIterator[list[WorkerProcess]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(worker_process(files, root / f"worker-{n}.log"))
            for n in (1, 2)
        ]


async def sync(client: Client, files: WorkerFiles) -> WorkflowHandle[Any, SyncSummary]:
    return await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(RegionRunRequest("tests", files.config.contact_sync.split("/")[1], "local")),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )


async def rows(dsn: str, schema: str) -> list[tuple[Any, ...]]:
    table = sql.Identifier(schema, "contacts")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute(
            sql.SQL("SELECT full_name, emails, phones FROM {} ORDER BY full_name").format(table)
        )
        return await cursor.fetchall()


async def page_activities(handle: WorkflowHandle[Any, Any]) -> Mapping[str, Any]:
    """Who started each sync_page activity, and how many were in flight at most."""
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    identities: list[str] = []
    in_flight = most = 0
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
            if name == SYNC_PAGE:
                in_flight += 1
                most = max(most, in_flight)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            if scheduled[started.scheduled_event_id] == SYNC_PAGE:
                identities.append(started.identity)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed = event.activity_task_completed_event_attributes
            if scheduled[completed.scheduled_event_id] == SYNC_PAGE:
                in_flight -= 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failed = event.activity_task_failed_event_attributes
            if scheduled[failed.scheduled_event_id] == SYNC_PAGE:
                in_flight -= 1
    return {"workers": set(identities), "most_in_flight": most}


async def test_two_workers_share_the_pages_of_one_sync_and_merge_across_them(
    tmp_path: Path,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
    schema: str,
) -> None:
    # The second half repeats the first half's people with another phone number: each pair
    # lies three pages apart, so the pages that hold them are worked at the same time.
    half = PEOPLE // 2
    records = [person(n) for n in range(half)]
    records += [
        {**person(n), "id": f"again-{n:05d}", "phones": [f"+33 1 {n:08d}"]} for n in range(half)
    ]
    source = tmp_path / "people.jsonl"
    write_jsonl(source, records)
    files = region_files(tmp_path, source, schema, postgres_server, temporal_server)
    client = await files.client()

    async with two_workers(files, tmp_path):
        handle = await sync(client, files)
        summary = await handle.result()
        seen = await page_activities(handle)

    assert summary.pages == PAGES
    assert summary.quarantined == 0
    assert len(seen["workers"]) == 2, seen  # both processes worked pages
    assert seen["most_in_flight"] >= 2, seen  # and pages were in flight at once
    written = await rows(postgres_server.dsn, schema)
    assert len(written) == half, "the same person became two contacts"
    for name, emails, phones in written:
        n = int(name.rsplit(" ", 1)[1])
        assert emails == [f"person{n:05d}@example.test"]
        assert sorted(phones) == sorted([f"+49 30 {n:07d}", f"+33 1 {n:08d}"])


async def test_the_guard_counts_the_folds_of_pages_worked_at_once(
    tmp_path: Path,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
    schema: str,
) -> None:
    """Each of three later pages folds 10% of the contacts; any one alone is under the
    20% limit, all three are not: the run stops before the third is deleted, whichever
    pages come first."""
    source = tmp_path / "people.jsonl"
    write_jsonl(source, [person(n) for n in range(PEOPLE)])
    files = region_files(tmp_path, source, schema, postgres_server, temporal_server)
    client = await files.client()
    tenth = PEOPLE // 10

    async with two_workers(files, tmp_path):
        first = await (await sync(client, files)).result()
        assert first.created == PEOPLE
        # Records of pages 3, 4 and 5 (0-based) each name their own email and one of a
        # contact of page 0: every such record folds that contact into its own.
        joined = [person(n) for n in range(PEOPLE)]
        for page, start in ((3, 0), (4, tenth), (5, 2 * tenth)):
            for k in range(tenth):
                n = page * PAGE_SIZE + k
                other = start + k
                joined[n] = person(
                    n, emails=[f"person{n:05d}@example.test", f"person{other:05d}@example.test"]
                )
        write_jsonl(source, joined)
        with pytest.raises(WorkflowFailureError) as failed:
            await (await sync(client, files)).result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ErrorType.MASS_DELETE_BLOCKED
    left = len(await rows(postgres_server.dsn, schema))
    # Two pages' folds at most (20% of the contacts), never the third.
    assert PEOPLE - 2 * tenth <= left < PEOPLE, left


@pytest.mark.carddav
async def test_a_carddav_listing_worked_in_slices_commits_its_token_once_all_are_written(
    tmp_path: Path,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
    radicale_server: RadicaleServer,
    schema: str,
) -> None:
    cards = 2 * CARDDAV_PAGE_SIZE + 100  # three pages: the first, then two slices
    book = f"{radicale_server.url}/{radicale_server.username}/{schema}/"
    auth = (radicale_server.username, radicale_server.password)
    vcard = {"Content-Type": "text/vcard; charset=utf-8"}
    async with httpx.AsyncClient(auth=auth, timeout=60.0) as dav:
        # The whole book in one PUT of the collection: Radicale stores each card as an item.
        whole = "".join(vcard_of(n) for n in range(cards))
        assert (await dav.put(book, content=whole, headers=vcard)).is_success
        source = {
            "carddav": {
                "url": book,
                "allowInsecure": True,
                "credentialsSecretRef": {"name": "dav"},
            }
        }
        files = region_files(tmp_path, source, schema, postgres_server, temporal_server)
        files.write_secret(
            "dav", {"username": radicale_server.username, "password": radicale_server.password}
        )
        client = await files.client()
        async with two_workers(files, tmp_path):
            first_run = await sync(client, files)
            first = await first_run.result()
            commits = await activities_named(first_run, COMMIT_CHECKPOINT)
            quiet = await (await sync(client, files)).result()
            changed = vcard_of(7).replace("Person 00007", "Person 00007 Changed")
            url = f"{book}card-00007.vcf"
            assert (await dav.put(url, content=changed, headers=vcard)).is_success
            delta = await (await sync(client, files)).result()

    assert (first.pages, first.created) == (3, cards)
    assert commits == 1  # the token, once, after both slices
    # The next run starts from that token: an empty listing, one page, nothing written.
    assert (quiet.pages, quiet.created, quiet.updated, quiet.unchanged) == (1, 0, 0, 0)
    assert (delta.created, delta.updated) == (0, 1)
    assert len(await rows(postgres_server.dsn, schema)) == cards


def vcard_of(n: int) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-{n:05d}\r\nFN:Person {n:05d}\r\n"
        f"EMAIL:person{n:05d}@example.test\r\nEND:VCARD\r\n"
    )


async def activities_named(handle: WorkflowHandle[Any, Any], name: str) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == name
    )
