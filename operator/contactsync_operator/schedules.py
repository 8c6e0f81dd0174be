"""The Temporal schedules a ContactSync wants, computed from its spec alone (no I/O).

Each desired schedule carries a fingerprint of everything the operator controls
except its paused state. The fingerprint is stored in the schedule action's
memo, so the planner compares fingerprints, never the server's normalized form
(``describe()`` returns cron strings as calendars).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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

from contactsync_api.durations import to_timedelta
from contactsync_api.manifest import ContactSync
from contactsync_api.spec import Overlap
from contactsync_api.spec import ScheduleSpec as ScheduleSettings  # temporalio has a ScheduleSpec
from contactsync_api.workflows import RETENTION_WORKFLOW, SYNC_WORKFLOW, RegionRunRequest, SyncInput
from contactsync_operator import naming

FINGERPRINT_MEMO = "contactsync.dev/fingerprint"
PAUSED_MEMO = "contactsync.dev/paused"
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


@dataclass(frozen=True)
class DesiredSchedule:
    schedule_id: str
    schedule: Schedule
    fingerprint: str
    paused: bool


def desired_schedules(resource: ContactSync, region: str) -> list[DesiredSchedule]:
    return [sync_schedule(resource, region), retention_schedule(resource, region)]


def sync_schedule(resource: ContactSync, region: str) -> DesiredSchedule:
    settings = resource.spec.schedule
    schedule_id = naming.sync_schedule_id(resource.namespace, resource.name, region)
    timing = {
        "cron": settings.cron,
        "interval": settings.interval,
        "jitter": settings.jitter,
        "timeZone": settings.time_zone,
        "overlap": settings.overlap.value,
    }
    return _desired(resource, region, schedule_id, SYNC_WORKFLOW, timing, settings.paused)


def retention_schedule(resource: ContactSync, region: str) -> DesiredSchedule:
    schedule_id = naming.retention_schedule_id(resource.namespace, resource.name, region)
    timing = {"every": RETENTION_EVERY.total_seconds(), "jitter": RETENTION_JITTER.total_seconds()}
    paused = resource.spec.schedule.paused
    return _desired(resource, region, schedule_id, RETENTION_WORKFLOW, timing, paused)


def _desired(
    resource: ContactSync,
    region: str,
    schedule_id: str,
    workflow: str,
    timing: Mapping[str, object],
    paused: bool,
) -> DesiredSchedule:
    request = RegionRunRequest(resource.namespace, resource.name, region)
    queue = naming.task_queue(resource.namespace, resource.name, region)
    fingerprint = _fingerprint(
        {"workflow": workflow, "queue": queue, "request": asdict(request), "timing": timing}
    )
    if workflow == SYNC_WORKFLOW:
        spec, policy = _sync_timing(resource.spec.schedule)
    else:
        spec = ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=RETENTION_EVERY)], jitter=RETENTION_JITTER
        )
        policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)
    # Each workflow takes its own input dataclass: the sync carries progress across
    # continue-as-new, the others take the bare request.
    argument: object = SyncInput(request) if workflow == SYNC_WORKFLOW else request
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            workflow,
            argument,
            id=schedule_id,
            task_queue=queue,
            memo={FINGERPRINT_MEMO: fingerprint, PAUSED_MEMO: paused},
        ),
        spec=spec,
        policy=policy,
        state=ScheduleState(paused=paused, note=_note(resource)),
    )
    return DesiredSchedule(schedule_id, schedule, fingerprint, paused)


def describe_timing(settings: ScheduleSettings) -> str:
    """The schedule in a few words, for ``kubectl get`` and reports."""
    if settings.cron is not None:
        words = f"{settings.cron} ({settings.time_zone})"
    else:
        words = f"every {settings.interval}"
    if settings.jitter:
        words += f", jitter {settings.jitter}"
    return words + (" paused" if settings.paused else "")


def _fingerprint(material: Mapping[str, object]) -> str:
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _sync_timing(settings: ScheduleSettings) -> tuple[ScheduleSpec, SchedulePolicy]:
    jitter = to_timedelta(settings.jitter) if settings.jitter else None
    policy = SchedulePolicy(overlap=_OVERLAP[settings.overlap])
    if settings.cron is not None:
        spec = ScheduleSpec(
            cron_expressions=[settings.cron], time_zone_name=settings.time_zone, jitter=jitter
        )
        return spec, policy
    assert settings.interval is not None  # the spec's rules guarantee one of the two
    spec = ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=to_timedelta(settings.interval))],
        time_zone_name=settings.time_zone,
        jitter=jitter,
    )
    return spec, policy


def _note(resource: ContactSync) -> str:
    return f"managed by contactsync for {resource.namespace}/{resource.name}"
