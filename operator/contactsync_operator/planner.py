"""The pure heart of the operator: spec + observed state → the changes to make.

No I/O here. The executor carries a plan out; table-driven tests check plans
without a cluster or a Temporal server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contactsync_api.manifest import ContactSync
from contactsync_api.reasons import Reason
from contactsync_api.spec import DeletionPolicy
from contactsync_operator import naming, overrides
from contactsync_operator.children import HASH_ANNOTATION, worker_objects
from contactsync_operator.egress_selection import denial, egress_for
from contactsync_operator.observed import ChildRef, Observed
from contactsync_operator.schedules import DesiredSchedule, desired_schedules
from contactsync_operator.settings import OperatorSettings

Manifest = dict[str, Any]


@dataclass(frozen=True)
class CreateSchedule:
    desired: DesiredSchedule


@dataclass(frozen=True)
class UpdateSchedule:
    desired: DesiredSchedule
    # True when the spec's paused value is unchanged: the schedule keeps whatever pause
    # state a person gave it, rather than being silently unpaused by an unrelated edit.
    keep_pause_state: bool


@dataclass(frozen=True)
class DeleteSchedule:
    schedule_id: str


ScheduleChange = CreateSchedule | UpdateSchedule | DeleteSchedule


@dataclass(frozen=True)
class PurgeRetiredRegion:
    """A region the spec no longer declares, under ``deletionPolicy: Purge``: its workers
    erase what it wrote, and only then are they and the rest of its children deleted.

    ``keys_secret`` and ``temporal_namespace`` come from the region's Deployment, the only
    place that still knows them; None when the Deployment is gone (nothing can purge)."""

    region: str
    workflow_id: str
    task_queue: str
    keys_secret: str | None
    temporal_namespace: str | None
    children: tuple[ChildRef, ...]


@dataclass(frozen=True)
class RegionPlan:
    name: str
    served_here: bool
    blocked_reason: Reason | None = None
    blocked_message: str | None = None
    schedule_ids: tuple[str, ...] = ()


@dataclass
class Plan:
    apply: list[Manifest] = field(default_factory=list)
    delete: list[ChildRef] = field(default_factory=list)
    schedules: list[ScheduleChange] = field(default_factory=list)
    regions: list[RegionPlan] = field(default_factory=list)
    purges: list[PurgeRetiredRegion] = field(default_factory=list)

    @property
    def changes_anything(self) -> bool:
        return bool(self.apply or self.delete or self.schedules or self.purges)


def ref_of(manifest: Manifest) -> ChildRef:
    return ChildRef(manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"])


def plan(resource: ContactSync, observed: Observed, settings: OperatorSettings) -> Plan:
    result = Plan()
    wanted_children: set[ChildRef] = set()
    wanted_schedules: set[str] = set()
    egress = egress_for(observed.egress_policies, observed.namespace_labels)
    denied = denial(egress, resource.namespace)
    for region in resource.spec.regions:
        if not settings.serves(region.name):
            result.regions.append(RegionPlan(region.name, served_here=False))
            continue
        access = observed.access.get(region.name)
        if access is not None and access.problem:
            result.regions.append(RegionPlan(region.name, True, access.reason, access.problem))
            # Keep what exists: a Secret gone for a moment must not tear the region down.
            wanted_children |= {
                c.ref for c in observed.children.values() if c.region == region.name
            }
            wanted_schedules |= {
                s for s in observed.schedule_ids if _region_of(resource, s) == region.name
            }
            continue
        ports = observed.database_ports.get(region.name, ())
        keys = observed.worker_keys.get(region.name)
        for manifest in worker_objects(resource, region, settings, ports, keys, egress):
            ref = ref_of(manifest)
            seen = observed.children.get(ref)
            if denied and seen is None:
                continue  # nothing new without egress; what exists is narrowed to none
            wanted_children.add(ref)
            if (
                seen is None
                or seen.applied_hash != manifest["metadata"]["annotations"][HASH_ANNOTATION]
            ):
                result.apply.append(manifest)
        if denied:
            result.regions.append(RegionPlan(region.name, True, *denied))
            wanted_schedules |= {
                s for s in observed.schedule_ids if _region_of(resource, s) == region.name
            }
            continue
        desired = desired_schedules(resource, region.name)
        wanted_schedules |= {d.schedule_id for d in desired}
        if observed.temporal_error is None:
            result.schedules += [c for d in desired if (c := _schedule_change(d, observed))]
        result.regions.append(
            RegionPlan(region.name, True, schedule_ids=tuple(d.schedule_id for d in desired))
        )
    unwanted = [ref for ref in observed.children if ref not in wanted_children]
    result.purges = _retired_region_purges(resource, observed, settings, unwanted)
    held_for_purge = {ref for purge in result.purges for ref in purge.children}
    result.delete = sorted(
        (ref for ref in unwanted if ref not in held_for_purge),
        key=lambda ref: (ref.kind, ref.name),
    )
    if observed.temporal_error is None:
        served_elsewhere = {r.name for r in result.regions if not r.served_here}
        result.schedules += [
            DeleteSchedule(schedule_id)
            for schedule_id in sorted(observed.schedule_ids - wanted_schedules)
            if _region_of(resource, schedule_id) not in served_elsewhere
        ]
    return result


def retired_regions(resource: ContactSync, observed: Observed) -> list[str]:
    """Regions this ContactSync still has children for but no longer declares."""
    declared = {r.name for r in resource.spec.regions}
    return sorted({c.region for c in observed.children.values()} - declared)


def _retired_region_purges(
    resource: ContactSync, observed: Observed, settings: OperatorSettings, unwanted: list[ChildRef]
) -> list[PurgeRetiredRegion]:
    if resource.spec.deletion_policy is not DeletionPolicy.PURGE or overrides.is_set(
        resource.annotations, overrides.SKIP_PURGE
    ):
        return []
    purges = []
    for region in retired_regions(resource, observed):
        if not settings.serves(region):
            continue  # its workers run in another cluster, whose operator purges it
        workers = observed.workers.get(region)
        children = tuple(
            sorted(
                (ref for ref in unwanted if observed.children[ref].region == region),
                key=lambda ref: (ref.kind, ref.name),
            )
        )
        # Each incarnation of a region purges once: removed, added back and removed again is
        # a new Deployment, so a new workflow id, and the second purge is not read as done.
        incarnation = workers.deployment_uid if workers else resource.uid
        purges.append(
            PurgeRetiredRegion(
                region=region,
                workflow_id=naming.purge_workflow_id(
                    resource.namespace, resource.name, region, incarnation
                ),
                task_queue=naming.task_queue(resource.namespace, resource.name, region),
                keys_secret=workers.keys_secret if workers else None,
                temporal_namespace=workers.temporal_namespace if workers else None,
                children=children,
            )
        )
    return purges


def _schedule_change(desired: DesiredSchedule, observed: Observed) -> ScheduleChange | None:
    seen = observed.schedules.get(desired.schedule_id)
    if seen is None:
        return CreateSchedule(desired)
    spec_pause_unchanged = seen.applied_paused == desired.paused
    if seen.fingerprint == desired.fingerprint and spec_pause_unchanged:
        return None
    return UpdateSchedule(desired, keep_pause_state=spec_pause_unchanged)


def _region_of(resource: ContactSync, schedule_id: str) -> str:
    """'contactsync/ns/name/REGION/sync' → REGION."""
    rest = schedule_id.removeprefix(naming.resource_prefix(resource.namespace, resource.name))
    return rest.split("/", 1)[0]
