"""Consent, the mass-delete guard and an unreachable source, in whole syncs."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_operator.temporal import observed_run
from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]


async def put(dav: httpx.AsyncClient, book: str, name: str, card: bytes) -> None:
    response = await dav.put(f"{book}{name}.vcf", content=card, headers=VCARD)
    assert response.status_code in (201, 204), response.text


def application_error(error: WorkflowFailureError) -> ApplicationError:
    """The ApplicationError under a workflow failure: the searchable type and message."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    assert isinstance(cause, ApplicationError), error
    return cause


async def test_only_consenting_contacts_are_written_and_withdrawal_removes_them(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    consent = {"mode": "Required", "property": "X-CONSENT", "purposes": ["directory"]}
    # One contact of one: any deletion is 100%, which the default guard would refuse.
    deletes = {"propagate": True, "maxDeletePercent": 100}
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, consent=consent, deletes=deletes
    ) as (
        files,
        source,
        destination,
    ):
        await put(dav, source, "yes", vcard("u1", "Ada Lovelace", "ada@example.org", "directory"))
        await put(
            dav, source, "other", vcard("u2", "Alan Turing", "alan@example.org", "newsletter")
        )
        await put(dav, source, "none", vcard("u3", "Grace Hopper", "grace@example.org"))
        first = await sync(files)
        assert (first.created, first.skipped_no_consent) == (1, 2)
        written = "".join((await cards(dav, destination)).values())
        assert "Ada Lovelace" in written
        assert "Alan Turing" not in written
        assert "Grace Hopper" not in written

        await put(dav, source, "yes", vcard("u1", "Ada Lovelace", "ada@example.org"))  # withdrawn
        second = await sync(files)
        assert second.deleted == 1
        assert await cards(dav, destination) == {}


async def test_mass_delete_guard_stops_the_sync_and_deletes_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    deletes = {"propagate": True, "maxDeletePercent": 20}
    async with carddav_region(tmp_path, radicale_server, temporal_server, deletes=deletes) as (
        files,
        source,
        destination,
    ):
        for n in range(10):
            await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
        assert (await sync(files)).created == 10
        for n in range(5):
            assert (await dav.delete(f"{source}c{n}.vcf")).status_code in (200, 204)
        with pytest.raises(WorkflowFailureError) as blocked:
            await sync(files)
        refused = application_error(blocked.value)
        assert refused.type == "MassDeleteBlocked"
        assert "5 of 10 contacts of phonebook (50%, limit 20%)" in refused.message
        assert len(await cards(dav, destination)) == 10


async def test_unreachable_source_fails_its_step_and_deletes_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    fast_retries = {"CONTACTSYNC_SOURCE_ATTEMPTS": "2", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.2"}
    source = radicale_server.create_addressbook()
    destination = radicale_server.create_addressbook()
    for n in range(3):
        await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, source_book=source, destination_book=destination
    ) as (files, _, _):
        assert (await sync(files)).created == 3

    # The same region (same state) while its source cannot be reached.
    dead = f"http://127.0.0.1:{free_port()}/nobody/book/"
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        fast_retries,
        source_book=dead,
        destination_book=destination,
    ) as (files, _, _):
        with pytest.raises(WorkflowFailureError) as failed:
            await sync(files)
        unavailable = application_error(failed.value)
        assert unavailable.type == "SourceUnreachable"
        assert "team" in unavailable.message
    assert len(await cards(dav, destination)) == 3, "an unreachable source is not an empty one"

    async with carddav_region(
        tmp_path, radicale_server, temporal_server, source_book=source, destination_book=destination
    ) as (files, _, _):
        again = await sync(files)
        assert (again.created, again.deleted) == (0, 0)
    assert len(await cards(dav, destination)) == 3


async def test_changing_one_percent_of_the_source_writes_only_that_one_percent(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (
        files,
        source,
        destination,
    ):
        for n in range(100):
            await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
        assert (await sync(files)).created == 100
        before = await cards(dav, destination)
        await put(dav, source, "c42", vcard("u42", "Person Forty-Two", "p42@example.org"))
        changed = await sync(files)
        assert (changed.created, changed.updated, changed.deleted) == (0, 1, 0)
        after = await cards(dav, destination)
        assert len(after) == 100
        assert sum(after[href] != before.get(href) for href in after) == 1


async def test_a_removed_contact_is_held_for_the_grace_period(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    retention = {"removedContacts": "1d", "auditLog": "400d", "workflowHistory": "7d"}
    deletes = {"propagate": True, "maxDeletePercent": 100}
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, retention=retention, deletes=deletes
    ) as (files, source, destination):
        for n in range(3):
            await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
        await sync(files)
        assert (await dav.delete(f"{source}c1.vcf")).status_code in (200, 204)
        held = await sync(files)
        assert (held.deleted, held.held) == (0, 1)
        assert len(await cards(dav, destination)) == 3, "kept until the grace period is over"


async def test_the_operator_reads_a_run_refused_at_removals_as_blocked(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    """The refusal comes from the removals activity, so Temporal reports the run as failed
    with "Activity task failed"; the operator must read the worker's own error beneath it."""
    deletes = {"propagate": True, "maxDeletePercent": 20}
    async with carddav_region(tmp_path, radicale_server, temporal_server, deletes=deletes) as (
        files,
        source,
        _,
    ):
        for n in range(10):
            await put(dav, source, f"c{n}", vcard(f"u{n}", f"Person {n}", f"p{n}@example.org"))
        assert (await sync(files)).created == 10
        for n in range(5):
            assert (await dav.delete(f"{source}c{n}.vcf")).status_code in (200, 204)
        client = await files.client()
        handle = await client.start_workflow(
            SYNC_WORKFLOW,
            SyncInput(RegionRunRequest("tests", "phonebook", "local")),
            id=f"sync-{uuid.uuid4().hex}",
            task_queue=files.task_queue,
            result_type=SyncSummary,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        started = SimpleNamespace(
            workflow_id=handle.id, first_execution_run_id=handle.first_execution_run_id
        )
        run = await observed_run(client, started)
    assert run is not None
    assert run.failure_type == "MassDeleteBlocked"
    assert run.failure is not None
    assert "5 of 10 contacts of phonebook" in run.failure
    assert "Activity task failed" not in run.failure


async def test_a_destination_that_is_down_fails_the_run_as_itself_not_as_the_source(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    """The source reads fine; nothing answers at the PostgreSQL destination's port. The run
    must say DestinationUnreachable, without the database's own words, not blame the source."""
    down = {
        "name": "phonebook",
        "region": "local",
        "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}},
    }
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        destinations=[down],
        extra_env={"CONTACTSYNC_SOURCE_ATTEMPTS": "2", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.2"},
    ) as (files, source, _):
        files.write_secret("pg", {"dsn": f"host=127.0.0.1 port={free_port()} user=u password=pw"})
        await put(dav, source, "c0", vcard("u0", "Person 0", "p0@example.org"))
        with pytest.raises(WorkflowFailureError) as failed:
            await sync(files)
    refused = application_error(failed.value)
    assert refused.type == "DestinationUnreachable"
    assert "team" not in refused.message, "the source is not blamed"
    assert "Connection refused" not in refused.message
