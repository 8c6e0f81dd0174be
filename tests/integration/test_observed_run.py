"""How the operator reads a scheduled sync's outcome: a run that continued as new (a long
sync does, every PAGES_PER_RUN pages) is one run, reported by how its chain ended, not as the
CONTINUED_AS_NEW of its first link. Real Temporal dev server, a worker in this process."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from contactsync_api.workflows import SyncSummary
from contactsync_operator.temporal import observed_run
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.temporal]


@workflow.defn(name="ContinuesOnce")
class ContinuesOnce:
    """Stands in for a long sync: its first run hands over to a second, which finishes."""

    @workflow.run
    async def run(self, continued: bool) -> SyncSummary:
        if not continued:
            workflow.continue_as_new(True)
        await workflow.sleep(timedelta(milliseconds=10))
        return SyncSummary(created=7)


async def test_a_run_that_continued_as_new_reads_as_how_its_chain_ended(
    temporal_server: TemporalDevServer,
) -> None:
    client = await Client.connect(temporal_server.address)
    queue = f"observed-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[ContinuesOnce],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            ContinuesOnce.run, False, id=f"sync-{uuid.uuid4().hex}", task_queue=queue
        )
        await handle.result()
    started = SimpleNamespace(
        workflow_id=handle.id, first_execution_run_id=handle.first_execution_run_id
    )
    run = await observed_run(client, started)
    assert run is not None
    assert run.status == "COMPLETED", "not the first link's CONTINUED_AS_NEW"
    assert run.summary == SyncSummary(created=7)
    first = await client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id
    ).describe()
    assert run.started_at == first.start_time, "started when the schedule started it"
