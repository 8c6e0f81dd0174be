"""The Temporal schedules a ContactSync wants, computed from its spec alone (no I/O)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from contactsync_operator import naming
from contactsync_operator.api.manifest import ContactSync
from contactsync_worker.contracts import RETENTION_WORKFLOW, SYNC_WORKFLOW, RegionRunRequest
from contactsync_worker.contracts.durations import to_timedelta
from contactsync_worker.contracts.spec import Overlap
from contactsync_worker.contracts.spec import Schedule as ScheduleSettings

_OVERLAP = {
    Overlap.SKIP: ScheduleOverlapPolicy.SKIP,
    Overlap.BUFFER_ONE: ScheduleOverlapPolicy.BUFFER_ONE,
    Overlap.BUFFER_ALL: ScheduleOverlapPolicy.BUFFER_ALL,
    Overlap.CANCEL_OTHER: ScheduleOverlapPolicy.CANCEL_OTHER,
    Overlap.TERMINATE_OTHER: ScheduleOverlapPolicy.TERMINATE_OTHER,
    Overlap.ALLOW_ALL: ScheduleOverlapPolicy.ALLOW_ALL,
}
# Retention work is light and not urgent: once a day, spread over an hour.
RETENTION_EVERY = timedelta(days=1)
RETENTION_JITTER = timedelta(hours=1)


def sync_schedule(resource: ContactSync, region: str) -> Schedule:
    settings = resource.spec.schedule
    request = _request(resource, region)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SYNC_WORKFLOW,
            request,
            id=naming.sync_schedule_id(resource.namespace, resource.name, region),
            task_queue=request_queue(request),
        ),
        spec=_timing(settings),
        policy=SchedulePolicy(overlap=_OVERLAP[settings.overlap]),
        state=ScheduleState(paused=settings.paused, note=_note(resource)),
    )


def retention_schedule(resource: ContactSync, region: str) -> Schedule:
    request = _request(resource, region)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW,
            request,
            id=naming.retention_schedule_id(resource.namespace, resource.name, region),
            task_queue=request_queue(request),
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=RETENTION_EVERY)], jitter=RETENTION_JITTER
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(paused=resource.spec.schedule.paused, note=_note(resource)),
    )


def describe_timing(settings: ScheduleSettings) -> str:
    """The schedule in a few words, for ``kubectl get`` and reports."""
    if settings.cron is not None:
        words = f"{settings.cron} ({settings.time_zone})"
    else:
        words = f"every {settings.interval}"
    if settings.jitter:
        words += f", jitter {settings.jitter}"
    return words + (" paused" if settings.paused else "")


def request_queue(request: RegionRunRequest) -> str:
    return naming.task_queue(request.namespace, request.contact_sync, request.region)


def _request(resource: ContactSync, region: str) -> RegionRunRequest:
    return RegionRunRequest(
        namespace=resource.namespace,
        contact_sync=resource.name,
        region=region,
        generation=resource.generation,
    )


def _timing(settings: ScheduleSettings) -> ScheduleSpec:
    jitter = to_timedelta(settings.jitter) if settings.jitter else None
    if settings.cron is not None:
        return ScheduleSpec(
            cron_expressions=[settings.cron], time_zone_name=settings.time_zone, jitter=jitter
        )
    assert settings.interval is not None  # the spec's rules guarantee one of the two
    return ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=to_timedelta(settings.interval))],
        time_zone_name=settings.time_zone,
        jitter=jitter,
    )


def _note(resource: ContactSync) -> str:
    return f"managed by contactsync for {resource.namespace}/{resource.name}"
