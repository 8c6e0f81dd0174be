"""``contactsync run --follow``: after the first sync, the regions' schedules on the dev
server (created, or updated to what the manifest says now), and each sync they start
reported as it runs, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from contactsync_api.manifest import ContactSync
from contactsync_cli.region_watch import (
    RegionOutcome,
    RegionWorker,
    Watch,
    report_outcome,
    watch_sync,
    worker_failure,
)
from contactsync_operator import naming, schedules

# A sync a schedule started is noticed this often.
FOLLOW_SECONDS = 5.0


async def follow(
    watch: Watch, resource: ContactSync, regions: Sequence[RegionWorker]
) -> list[RegionOutcome]:
    """Create or update the regions' schedules, then report each scheduled sync as it runs,
    until ``stop``. Returns the outcome of a region whose worker died, or of a sync ``stop``
    interrupted; the others were reported as they ended, and following went on."""
    for region in regions:
        for desired in schedules.desired_schedules(resource, region.name):
            await _upsert_schedule(watch.client, desired)
            description = await watch.client.get_schedule_handle(desired.schedule_id).describe()
            upcoming = description.info.next_action_times[:1]
            when = upcoming[0].isoformat(timespec="seconds") if upcoming else "none"
            state = "paused" if description.schedule.state.paused else "active"
            watch.report(f"  schedule {desired.schedule_id}: {state}, next run {when}")
            region.watched.update(_started(description.info.recent_actions))
    watch.report("Following the schedules; SIGINT or SIGTERM (Ctrl-C) stops")
    stopped = asyncio.create_task(watch.stop.wait())
    try:
        while not watch.stop.is_set():
            for region in regions:
                if region.worker.done():
                    failure = worker_failure(region.worker)
                    return [RegionOutcome(watch.contact_sync, region.name, failure=failure)]
                outcome = await _follow_region(watch, resource, region)
                if outcome is not None:
                    return [outcome]
            await asyncio.wait({stopped}, timeout=FOLLOW_SECONDS)
    finally:
        stopped.cancel()
    return []


async def _follow_region(
    watch: Watch, resource: ContactSync, region: RegionWorker
) -> RegionOutcome | None:
    """Watch the syncs the region's schedule started since last asked, if any."""
    schedule_id = naming.sync_schedule_id(resource.namespace, resource.name, region.name)
    description = await watch.client.get_schedule_handle(schedule_id).describe()
    for workflow_id, run_id in _started(description.info.recent_actions).items():
        if workflow_id in region.watched:
            continue
        region.watched.add(workflow_id)
        watch.report(f"Scheduled sync of region {region.name} started ({workflow_id})")
        outcome = await watch_sync(watch, region, workflow_id, run_id)
        if outcome.interrupted or region.worker.done():
            return outcome
        report_outcome(outcome, watch.report, _error)
    return None


def _started(actions: Sequence[ScheduleActionResult]) -> dict[str, str]:
    """Workflow id -> first run id of the workflows schedule actions started."""
    started: dict[str, str] = {}
    for action in actions:
        if isinstance(action.action, ScheduleActionExecutionStartWorkflow):
            started[action.action.workflow_id] = action.action.first_execution_run_id
    return started


async def _upsert_schedule(client: Client, desired: schedules.DesiredSchedule) -> None:
    try:
        await client.create_schedule(desired.schedule_id, desired.schedule)
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=desired.schedule)

        await client.get_schedule_handle(desired.schedule_id).update(updated)


def _error(line: str) -> None:
    """A failed scheduled sync: its error line, and following goes on."""
    print(f"contactsync run: {line}", file=sys.stderr, flush=True)
