"""The shared schedule listing against a real Temporal: many reconciles' lookups within a
period cost one listing, each finds its own resource's schedules, and a schedule the operator
deleted is gone at once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)

from contactsync_operator.schedule_index import ScheduleIndex, operator_schedules
from tests.servers.temporal import NAMESPACE, TemporalDevServer

pytestmark = pytest.mark.temporal


async def test_one_listing_serves_every_lookup_of_a_period(
    temporal_server: TemporalDevServer,
) -> None:
    client = await Client.connect(temporal_server.address, namespace=NAMESPACE)
    run = uuid.uuid4().hex[:8]
    prefixes = [f"contactsync/it-{run}/book-{i}/eu/" for i in range(3)]
    for prefix in prefixes:
        await client.create_schedule(
            prefix + "sync",
            Schedule(
                action=ScheduleActionStartWorkflow("W", id=prefix + "run", task_queue="q"),
                spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]),
                state=ScheduleState(paused=True),
            ),
        )
    listings = 0

    async def counted(listed: Client) -> set[str]:
        nonlocal listings
        listings += 1
        return await operator_schedules(listed)

    index = ScheduleIndex(counted)
    deadline = time.monotonic() + 30
    # Listing is eventually consistent: wait until the last one created shows.
    while not await index.ids(client, prefixes[-1], max_age=0):
        assert time.monotonic() < deadline, "the new schedules never showed in a listing"
        await asyncio.sleep(0.5)
    before = listings
    found = await asyncio.gather(
        *(index.ids(client, p, max_age=60) for p in prefixes for _ in range(20))
    )
    assert listings == before
    assert found == [{p + "sync"} for p in prefixes for _ in range(20)]

    await client.get_schedule_handle(prefixes[0] + "sync").delete()
    index.forget(NAMESPACE, prefixes[0] + "sync")
    assert await index.ids(client, prefixes[0], max_age=60) == set()
    for prefix in prefixes[1:]:
        await client.get_schedule_handle(prefix + "sync").delete()
