"""Failures say what they are, through the real worker, Temporal and Radicale: a refused login,
an address book that is not there and a Secret without its key each fail the run under their
own type, at once, deleting nothing; a rotated password is used by the running worker; and each
expected outcome is one log line without a traceback."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles
from tests.worker_logs import worker_log

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]


async def put_cards(dav: httpx.AsyncClient, book: str, *numbers: int) -> None:
    for n in numbers:
        card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
        response = await dav.put(f"{book}c{n}.vcf", content=card, headers=VCARD)
        assert response.status_code in (201, 204), response.text


async def failed_run(files: WorkerFiles) -> tuple[ApplicationError, int]:
    """A run that fails: its error as the operator reads it (the first ApplicationError under
    Temporal's wrappers), and how many attempts its last activity took."""
    client = await files.client()
    handle = await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(RegionRunRequest("tests", "phonebook", "local")),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    error: BaseException | None = failed.value.cause
    while error is not None and not isinstance(error, ApplicationError):
        error = error.__cause__
    assert isinstance(error, ApplicationError), failed.value
    return error, await attempts(client, handle.id)


async def attempts(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = [
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    return max(started, default=0)


def one_line_about(lines: list[dict[str, Any]], error_type: str) -> dict[str, Any]:
    """The worker's line of an expected outcome: exactly one, no traceback anywhere."""
    about = [line for line in lines if line.get("error") == error_type]
    assert len(about) == 1, about
    assert not [line for line in lines if "traceback" in line or "Traceback" in line["message"]]
    assert about[0]["severity"] == "warning"
    assert about[0]["message"].count(error_type) == 1, "named once, by its type"
    return about[0]


async def test_a_refused_password_fails_the_run_at_once_as_authentication_refused(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (files, source, book):
        await put_cards(dav, source, 1, 2)
        assert (await sync(files)).created == 2
        files.write_secret("dav", {"password": "not-the-password"})
        with worker_log() as lines:
            refused, attempts = await failed_run(files)
    assert refused.type == "SourceAuthenticationRefused"
    assert "authentication failed (HTTP 401)" in refused.message
    assert refused.message.endswith("nothing was deleted on account of source team")
    assert attempts == 1, "the same password would be refused again: not retried"
    assert len(await cards(dav, book)) == 2
    line = one_line_about(lines, "SourceAuthenticationRefused")
    assert line["message"].startswith("page of source team failed with")
    assert "not-the-password" not in str(lines)


async def test_an_address_book_that_is_not_there_fails_as_not_found(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
) -> None:
    missing = f"{radicale_server.url}/{radicale_server.username}/no-such-{uuid.uuid4().hex[:8]}/"
    async with carddav_region(tmp_path, radicale_server, temporal_server, source_book=missing) as (
        files,
        _,
        _,
    ):
        with worker_log() as lines:
            not_found, attempts = await failed_run(files)
    assert not_found.type == "SourceNotFound"
    assert "collection not found (HTTP 404)" in not_found.message
    assert attempts == 1
    one_line_about(lines, "SourceNotFound")


async def test_a_secret_without_the_key_it_needs_is_a_configuration_error(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (files, _, _):
        (files.secrets_dir / "dav" / "password").unlink()
        with worker_log() as lines:
            misconfigured, attempts = await failed_run(files)
    assert misconfigured.type == "ConfigurationError"
    assert "CardDAV source 'team'" in misconfigured.message
    assert "Secret 'dav' has no key 'password'" in misconfigured.message
    assert attempts == 1
    one_line_about(lines, "ConfigurationError")


async def test_a_rotated_password_is_used_by_the_running_worker(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
) -> None:
    """The server's password changes, then the mounted Secret (as the kubelet updates it);
    the worker that read the old one keeps running and its next run logs in with the new."""
    user = f"rotating-{uuid.uuid4().hex[:8]}"
    server = radicale_server.set_password(user, "first-password")
    async with (
        carddav_region(tmp_path, server, temporal_server) as (files, source, book),
        httpx.AsyncClient(auth=(user, "first-password"), timeout=10.0) as dav,
    ):
        await put_cards(dav, source, 1, 2)
        assert (await sync(files)).created == 2

        server = radicale_server.set_password(user, "second-password")
        refused, _ = await failed_run(files)
        assert refused.type == "SourceAuthenticationRefused"

        files.write_secret("dav", {"password": "second-password"})
        async with httpx.AsyncClient(auth=(user, "second-password"), timeout=10.0) as rotated:
            await put_cards(rotated, source, 3)
            summary = await sync(files)
            written = await cards(rotated, book)
    assert summary.created == 1, "read and written with the new password"
    assert len(written) == 3


async def test_a_blocked_mass_delete_is_one_line_without_a_traceback(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        deletes={"propagate": True, "maxDeletePercent": 20},
    ) as (files, source, book):
        await put_cards(dav, source, *range(10))
        assert (await sync(files)).created == 10
        for n in range(5):
            assert (await dav.delete(f"{source}c{n}.vcf")).is_success
        with worker_log() as lines:
            blocked, _ = await failed_run(files)
    assert blocked.type == "MassDeleteBlocked"
    assert blocked.message.startswith("this sync would delete 5 of 10 contacts of phonebook")
    assert len(await cards(dav, book)) == 10
    line = one_line_about(lines, "MassDeleteBlocked")
    assert line["message"].startswith("removals of tests/phonebook/local failed with")
    assert "this sync would delete 5 of 10" in line["message"]
    # Nor with plain logging (local mode configures none): the SDK's record of the failure,
    # which carries the traceback, stays at DEBUG.
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in shown if r.exc_info] == []
