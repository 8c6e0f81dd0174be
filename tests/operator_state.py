"""What the operator observes once everything it wants exists: for planner and status tests."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from contactsync_api.manifest import ContactSync
from contactsync_operator.children import HASH_ANNOTATION, worker_objects
from contactsync_operator.observed import (
    Observed,
    ObservedChild,
    ObservedRun,
    ObservedSchedule,
    ObservedWorkers,
)
from contactsync_operator.planner import ref_of
from contactsync_operator.schedules import desired_schedules
from contactsync_operator.settings import OperatorSettings


def in_sync(
    resource: ContactSync,
    settings: OperatorSettings,
    *,
    regions: Collection[str] | None = None,
    paused_by_hand: bool = False,
    ready: int | None = None,
    next_run: datetime | None = None,
    last_run: ObservedRun | None = None,
) -> Observed:
    observed = Observed()
    for region in resource.spec.regions:
        if regions is not None and region.name not in regions:
            continue
        for manifest in worker_objects(resource, region, settings):
            applied = manifest["metadata"]["annotations"][HASH_ANNOTATION]
            observed.children[ref_of(manifest)] = ObservedChild(
                ref_of(manifest), region.name, applied
            )
        if ready is not None:
            observed.workers[region.name] = ObservedWorkers(region.workers.replicas, ready)
        for desired in desired_schedules(resource, region.name):
            observed.schedules[desired.schedule_id] = ObservedSchedule(
                desired.schedule_id,
                desired.fingerprint,
                desired.paused,
                paused_by_hand or desired.paused,
                next_run=next_run,
                last_run=last_run,
            )
            observed.schedule_ids.add(desired.schedule_id)
    return observed
