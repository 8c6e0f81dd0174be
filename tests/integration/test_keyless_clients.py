"""A client without the region's keys cannot drive its workers: the codec refuses plain
payloads, so a purge started that way never runs. Real worker, Temporal and Radicale."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from contactsync_worker.contracts import PURGE_WORKFLOW, RegionRunRequest
from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]


async def test_a_purge_started_without_the_keys_never_runs(
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
        for n in range(3):
            card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
            response = await dav.put(f"{source}c{n}.vcf", content=card, headers=VCARD)
            assert response.status_code == 201
        assert (await sync(files)).created == 3
        keyless = await Client.connect(temporal_server.address)  # no codec, no keys
        handle = await keyless.start_workflow(
            PURGE_WORKFLOW,
            RegionRunRequest("tests", "phonebook", "local"),
            id=f"keyless-purge-{uuid.uuid4().hex}",
            task_queue=files.task_queue,
        )
        try:
            # The worker picks the task up and fails it at decoding, again and again.
            for _ in range(50):
                events = [e async for e in handle.fetch_history_events()]
                if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in events):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the worker never looked at the keyless workflow")
            assert not any(
                e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events
            ), "the purge activity was never scheduled"
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            assert len(await cards(dav, destination)) == 3, "nothing was purged"
        finally:
            await handle.terminate("test cleanup")
