"""The Temporal dev server is a real one: schedules can be created and described."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)

from tests.servers.temporal import NAMESPACE, TemporalDevServer

pytestmark = pytest.mark.temporal


async def test_schedule_is_created_and_described(temporal_server: TemporalDevServer) -> None:
    client = await Client.connect(temporal_server.address, namespace=NAMESPACE)
    schedule_id = f"smoke-{uuid.uuid4().hex[:8]}"
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                "SmokeWorkflow", id=f"{schedule_id}-run", task_queue="smoke-queue"
            ),
            spec=ScheduleSpec(cron_expressions=["*/15 * * * *"], jitter=timedelta(minutes=2)),
            state=ScheduleState(paused=True, note="smoke test"),
        ),
    )
    try:
        description = await handle.describe()
        assert description.id == schedule_id
        assert description.schedule.state.paused
        assert description.schedule.spec.jitter == timedelta(minutes=2)
        action = description.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == "smoke-queue"
        assert description.info.next_action_times, "a cron schedule has upcoming runs"
    finally:
        await handle.delete()
