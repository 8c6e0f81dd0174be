"""A worker under its region's egress policy, in whole syncs against Radicale on 127.0.0.1: a
policy that covers the server syncs, one that does not is refused before connecting and the
refusal deletes nothing."""

from __future__ import annotations

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

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]

LOOPBACK = {"policies": ["loopback"], "allow": [{"cidr": "127.0.0.1/32"}]}
PUBLIC = {
    "policies": ["public-internet"],
    "allow": [{"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"]}],
}


async def activity_failures(client: Client, workflow_id: str) -> list[ApplicationError]:
    """The activity failures a run's history records, decoded with the region's keys."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    failures = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failure = event.activity_task_failed_event_attributes.failure
            error = await client.data_converter.decode_failure(failure)
            assert isinstance(error, ApplicationError)
            failures.append(error)
    return failures


def run_error(error: WorkflowFailureError) -> ApplicationError:
    cause: BaseException | None = error.cause
    assert isinstance(cause, ApplicationError), error
    return cause


async def test_a_policy_that_does_not_cover_the_server_refuses_it_and_deletes_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    source = radicale_server.create_addressbook()
    destination = radicale_server.create_addressbook()
    for n in range(3):
        card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
        assert (await dav.put(f"{source}c{n}.vcf", content=card, headers=VCARD)).is_success
    books: dict[str, Any] = {"source_book": source, "destination_book": destination}

    async with carddav_region(
        tmp_path, radicale_server, temporal_server, egress=LOOPBACK, **books
    ) as (files, _, _):
        assert (await sync(files)).created == 3

    # The same region (same state) once the platform allows only public addresses.
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, egress=PUBLIC, **books
    ) as (files, _, _):
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
        refused = run_error(failed.value)
        assert refused.type == "ConfigurationError", "the policy refused it: not retried"
        assert "egress to 127.0.0.1 port" in refused.message
        assert refused.message.endswith("nothing was deleted on account of source team")
        [page] = await activity_failures(client, handle.id)
    assert len(await cards(dav, destination)) == 3, "a refused source is not an empty one"
    assert page.type == "ConfigurationError"
    assert "egress to 127.0.0.1 port" in page.message
    assert "outside what ContactSyncEgressPolicy public-internet allows" in page.message
