"""A worker killed with SIGKILL in the middle of a big sync, and started again, finishes the
sync with every allowed contact written once; long syncs continue as new so history stays
bounded. The worker runs as its own process, as in a pod, on the real Temporal dev server.

The 10,000 contacts come from a JSON Lines file and go to PostgreSQL: Radicale stores about
50 cards a second through PUT (3 minutes for the source alone, as long again for a CardDAV
destination), while the file is written in milliseconds and SQL checks "once each" exactly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from contactsync_api.fields import ContactField
from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker.audit import AuditAction
from contactsync_worker.commands import verify_sqlite
from contactsync_worker.destinations.postgres import COLUMNS
from contactsync_worker.main import state_file
from contactsync_worker.sources.files import PAGE_SIZE
from contactsync_worker.store.sqlite import SqliteStore
from contactsync_worker.workflows import PAGES_PER_RUN, SYNC_PAGE
from tests.servers.postgres import PostgresServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles
from tests.worker_process import WorkerProcess, worker_process

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]
log = logging.getLogger(__name__)

ALLOWED_FIELDS = [
    ContactField.FULL_NAME,
    ContactField.EMAILS,
    ContactField.PHONES,
    ContactField.ORGANIZATION,
]
CONSENT = {"mode": "Required", "property": "consent", "purposes": ["directory"]}
ALLOWED_CONTACTS = 10_000
REFUSED_EVERY = 21  # every 21st record has no consent (499 of 10,499): the sync skips them
DESTINATION = "directory"
SCOPE = "tests/phonebook/local"
REQUEST = RegionRunRequest("tests", "phonebook", "local")
# A restarted worker finishes the rest of the sync within this: the heartbeat timeout that
# ends the attempt the dead worker held, the retry's backoff and the remaining pages, far
# less than the page's start-to-close timeout.
RECOVERY_WITHIN = 90.0


class WorkflowStalled(AssertionError):
    """The workflow did not finish in time; the message names what it waits for."""


class Table:
    """The PostgreSQL destination table, read behind the worker's back."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.name = sql.Identifier(schema, "contacts")

    async def query(self, statement: sql.Composed) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            cursor = await conn.execute(statement)
            return await cursor.fetchall()

    async def count(self) -> int:
        """Rows so far; 0 before the worker created the table."""
        try:
            rows = await self.query(sql.SQL("SELECT count(*) FROM {}").format(self.name))
        except psycopg.errors.UndefinedTable:
            return 0
        return int(rows[0][0])


@pytest.fixture
async def table(postgres_server: PostgresServer) -> AsyncIterator[Table]:
    table = Table(postgres_server.dsn, f"crash_{uuid.uuid4().hex[:12]}")
    yield table
    drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(table.schema))
    async with await psycopg.AsyncConnection.connect(table.dsn, autocommit=True) as conn:
        await conn.execute(drop)


def people(allowed: int, refused_every: int = REFUSED_EVERY) -> list[dict[str, Any]]:
    """``allowed`` consenting people, and every ``refused_every``-th record (if not 0) one
    without consent; each record also holds fields the spec does not allow."""
    records: list[dict[str, Any]] = []
    consenting = 0
    while consenting < allowed:
        n = len(records) + 1
        record: dict[str, Any] = {
            "id": f"person-{n:05d}",
            "fullName": f"Person {n:05d}",
            "givenName": "NOT-ALLOWED-given",
            "title": "NOT-ALLOWED-title",
            "note": "NOT-ALLOWED-note",
            "emails": [f"person{n:05d}@example.test"],
            "phones": [f"+49 30 {n:07d}"],
            "organization": f"Org {n % 97}",
            "salary": "NOT-ALLOWED-unknown-key",
        }
        if not refused_every or n % refused_every:
            record["consent"] = "directory"
            consenting += 1
        records.append(record)
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def region_files(
    root: Path,
    source: Mapping[str, Any],
    table: Table,
    temporal: TemporalDevServer,
    consent: Mapping[str, Any] = CONSENT,
) -> WorkerFiles:
    config = RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [{"name": "people", "region": "local", **source}],
            "destinations": [
                {
                    "name": DESTINATION,
                    "region": "local",
                    "postgres": {
                        "dsnSecretRef": {"name": "pg", "key": "dsn"},
                        "schema": table.schema,
                    },
                }
            ],
            "fields": [str(f) for f in ALLOWED_FIELDS],
            "identity": ["email", "uid"],
            "consent": consent,
            "deletes": {"propagate": True, "maxDeletePercent": 20},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )
    files = WorkerFiles(
        root / "pod",
        config,
        task_queue=f"crash-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": table.dsn})
    return files


async def start_sync(client: Client, files: WorkerFiles) -> WorkflowHandle[Any, SyncSummary]:
    return await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(REQUEST),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )


async def page_running(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether a worker has started a sync_page attempt that has not ended yet."""
    description = await handle.describe()
    return any(
        a.activity_type.name == SYNC_PAGE
        and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        for a in description.raw_description.pending_activities
    )


async def wait_mid_sync(
    handle: WorkflowHandle[Any, Any], table: Table, worker: WorkerProcess, within: float = 60.0
) -> None:
    """Poll until the destination holds some contacts but not all, and a page is running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if worker.process.exited():
            raise AssertionError(f"the worker died on its own\n{worker.log_tail()}")
        rows = await table.count()
        if rows >= ALLOWED_CONTACTS:
            raise AssertionError("the sync finished before the test could kill the worker")
        if rows > 0 and await page_running(handle):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no page was written within {within:.0f}s\n{worker.log_tail()}")


async def finish(
    handle: WorkflowHandle[Any, SyncSummary], worker: WorkerProcess, within: float
) -> SyncSummary:
    """The workflow's result, or WorkflowStalled naming the activity it waits for."""
    try:
        return await asyncio.wait_for(handle.result(), timeout=within)
    except TimeoutError:
        pass
    description = await handle.describe()
    pending = [
        f"{a.activity_type.name} attempt {a.attempt} state "
        f"{PendingActivityState.Name(a.state)} started "
        f"{a.last_started_time.ToDatetime():%H:%M:%S} by {a.last_worker_identity or '?'}"
        for a in description.raw_description.pending_activities
    ]
    status = description.status.name if description.status else "?"
    raise WorkflowStalled(
        f"the workflow is still {status} after {within:.0f}s; "
        f"pending: {pending or 'nothing'}\n{worker.log_tail()}"
    )


def disallowed_columns() -> list[str]:
    return [column for field, column in COLUMNS.items() if field not in ALLOWED_FIELDS]


@asynccontextmanager
async def state_store(files: WorkerFiles) -> AsyncIterator[SqliteStore]:
    """The region's SQLite state, as the worker left it."""
    store = await SqliteStore.open(state_file(files.root / "state"))
    try:
        yield store
    finally:
        await store.aclose()


async def audited_creations(store: SqliteStore) -> Counter[str | None]:
    """Pseudonymous subject → how many "created" records the audit trail holds for it."""
    created: Counter[str | None] = Counter()
    after = 0
    while batch := await store.audit_records(SCOPE, after_seq=after, limit=1000):
        created.update(
            r.subject
            for r in batch
            if r.action == AuditAction.CREATED and r.destination == DESTINATION
        )
        after = batch[-1].seq
    return created


async def retried_attempts(handle: WorkflowHandle[Any, Any]) -> int:
    """Activity attempts after the first that the workflow's history records as started."""
    history = await handle.fetch_history()
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and event.activity_task_started_event_attributes.attempt > 1
    )


async def sync_everyone(
    root: Path, temporal: TemporalDevServer, table: Table, count: int, budget_seconds: int
) -> tuple[Client, WorkflowHandle[Any, SyncSummary], SyncSummary]:
    """A sync of ``count`` people who need no consent, from a JSON Lines file, by a worker
    process whose page activities have ``budget_seconds`` each."""
    source = root / "people.jsonl"
    write_jsonl(source, people(count, refused_every=0))
    files = region_files(
        root, {"jsonl": {"path": str(source)}}, table, temporal, consent={"mode": "NotRequired"}
    )
    files.extra_env["CONTACTSYNC_PAGE_BUDGET_SECONDS"] = str(budget_seconds)
    client = await files.client()
    async with worker_process(files, root / "worker.log") as worker:
        handle = await start_sync(client, files)
        summary = await finish(handle, worker, 150.0)
    return client, handle, summary


async def test_kill_9_mid_sync_then_restart_writes_every_allowed_contact_once(
    tmp_path: Path, temporal_server: TemporalDevServer, table: Table
) -> None:
    began = time.monotonic()
    records = people(ALLOWED_CONTACTS)
    expected = {
        r["emails"][0]: (r["fullName"], r["phones"], r["organization"])
        for r in records
        if "consent" in r
    }
    source = tmp_path / "people.jsonl"
    write_jsonl(source, records)
    files = region_files(tmp_path, {"jsonl": {"path": str(source)}}, table, temporal_server)
    client = await files.client()
    log.info("source of %d records written in %.2fs", len(records), time.monotonic() - began)

    async with worker_process(files, tmp_path / "worker.log") as worker:
        started = time.monotonic()
        handle = await start_sync(client, files)
        await wait_mid_sync(handle, table, worker)
        worker.kill()
        partial = await table.count()
        log.info("killed after %.2fs with %d rows written", time.monotonic() - started, partial)
        assert 0 < partial < ALLOWED_CONTACTS
        await worker.restart()
        restarted = time.monotonic()
        summary = await finish(handle, worker, RECOVERY_WITHIN)
        log.info("finished %.2fs after the restart: %s", time.monotonic() - restarted, summary)
        description = await handle.describe()
        log.info("activity attempts retried: %d", await retried_attempts(handle))

    assert description.status == WorkflowExecutionStatus.COMPLETED
    # The attempt the kill cut short reported nothing; its retry finds those contacts
    # already written, so they count as unchanged, not created.
    assert summary.created + summary.unchanged == ALLOWED_CONTACTS
    assert summary.skipped_no_consent == len(records) - ALLOWED_CONTACTS
    assert (summary.updated, summary.deleted, summary.quarantined) == (0, 0, 0)

    rows = await table.query(
        sql.SQL("SELECT emails, full_name, phones, organization FROM {}").format(table.name)
    )
    emails = Counter(email for row in rows for email in row[0])
    assert [e for e, n in emails.items() if n > 1] == [], "contacts written more than once"
    assert len(rows) == ALLOWED_CONTACTS
    assert {row[0][0]: (row[1], row[2], row[3]) for row in rows} == expected
    filled = sql.SQL(" OR ").join(
        sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in disallowed_columns()
    )
    stray = await table.query(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table.name, filled)
    )
    assert stray == [(0,)], "fields outside the allowlist reached the destination"

    async with state_store(files) as store:
        assert await store.count_written(SCOPE, DESTINATION) == ALLOWED_CONTACTS
        created = await audited_creations(store)
    unaudited = ALLOWED_CONTACTS - len(created)
    assert unaudited == 0, f"{unaudited} contacts written without a 'created' audit record"
    assert [s for s, n in created.items() if n > 1] == [], "a creation audited twice"
    verified, words = await verify_sqlite(state_file(files.root / "state"), SCOPE)
    assert verified, words
    log.info("whole test %.2fs", time.monotonic() - began)


async def test_a_sync_of_many_pages_is_one_activity_in_a_short_history(
    tmp_path: Path, temporal_server: TemporalDevServer, table: Table
) -> None:
    """An activity goes on from page to page within its time budget: the history of a sync
    does not grow with the number of contacts."""
    count = 20 * PAGE_SIZE + 1
    # The longest budget a worker accepts, so a slow machine cannot split the pages.
    _, handle, summary = await sync_everyone(tmp_path, temporal_server, table, count, 300)
    history = await handle.fetch_history()

    page_activities = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == SYNC_PAGE
    ]
    assert len(page_activities) == 1
    assert (summary.pages, summary.created) == (21, count)
    # The plan, the pages and the removals: three activities, whatever the source holds.
    assert len(history.events) < 30
    assert await table.count() == count


async def test_a_sync_of_more_pages_than_one_run_holds_continues_as_new(
    tmp_path: Path, temporal_server: TemporalDevServer, table: Table
) -> None:
    # One record more than PAGES_PER_RUN full pages: the last page falls to a second run.
    count = PAGES_PER_RUN * PAGE_SIZE + 1
    # A budget of 0: one page an activity.
    client, handle, summary = await sync_everyone(tmp_path, temporal_server, table, count, 0)

    pages_per_run = []
    run_id = handle.first_execution_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        pages_per_run.append(
            sum(
                1
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                and e.activity_task_scheduled_event_attributes.activity_type.name == SYNC_PAGE
            )
        )
        last = history.events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else ""
        )
    assert pages_per_run == [PAGES_PER_RUN, 1]
    # Totals carry over the continue-as-new: the summary covers both runs.
    assert (summary.pages, summary.created) == (PAGES_PER_RUN + 1, count)
    assert await table.count() == count
