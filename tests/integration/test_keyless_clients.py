"""A client without the region's keys cannot drive its workers: the codec refuses plain
payloads, so a purge started that way never runs; and one with the payload keys but not the
request key cannot destroy data. Real worker, Temporal and Radicale."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from contactsync_api.workflows import PURGE_WORKFLOW, RegionRunRequest
from contactsync_worker.authorization import PURGE, request_key, sign
from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles

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
        await three_people_synced(dav, files, source)
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


async def test_a_purge_not_signed_with_the_request_key_is_refused_and_a_signed_one_runs(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    """Holding the payload keys (a worker, a codec server) is not enough to destroy data:
    the purge activity refuses unless the region's request key signed this very run."""
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (
        files,
        source,
        destination,
    ):
        await three_people_synced(dav, files, source)
        with_payload_keys = await files.client()
        request = RegionRunRequest("tests", "phonebook", "local")
        seed = request_key(files.keys_dir)
        assert seed is not None
        now = datetime.now(UTC)
        elsewhere = f"purge-{uuid.uuid4().hex}"
        attempts = {
            "unsigned": (request, f"purge-{uuid.uuid4().hex}"),
            "signed with another key": (
                replace(request, authorization=sign(os.urandom(32), PURGE, request, "x", now)),
                "x",
            ),
            "signed for another run": (
                replace(request, authorization=sign(seed, PURGE, request, elsewhere, now)),
                f"purge-{uuid.uuid4().hex}",
            ),
        }
        for what, (attempt, workflow_id) in attempts.items():
            with pytest.raises(WorkflowFailureError) as refused:
                await with_payload_keys.execute_workflow(
                    PURGE_WORKFLOW, attempt, id=workflow_id, task_queue=files.task_queue
                )
            activity_failure = refused.value.cause
            assert isinstance(activity_failure, ActivityError), what
            cause = activity_failure.cause
            assert isinstance(cause, ApplicationError), what
            assert cause.type == "Unauthorized", what
            assert len(await cards(dav, destination)) == 3, f"{what}: nothing was purged"

        workflow_id = f"purge-{uuid.uuid4().hex}"
        signed = replace(request, authorization=sign(seed, PURGE, request, workflow_id, now))
        await with_payload_keys.execute_workflow(
            PURGE_WORKFLOW, signed, id=workflow_id, task_queue=files.task_queue
        )
        assert await cards(dav, destination) == {}, "the signed purge ran"


async def three_people_synced(dav: httpx.AsyncClient, files: WorkerFiles, source: str) -> None:
    for n in range(3):
        card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
        response = await dav.put(f"{source}c{n}.vcf", content=card, headers=VCARD)
        assert response.status_code == 201
    assert (await sync(files)).created == 3
