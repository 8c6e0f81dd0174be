"""Status of a ContactSync from the plan, what was observed and what executing it did (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contactsync_api.errors import ErrorType
from contactsync_api.manifest import ContactSync
from contactsync_api.reasons import RETRIED_BY_ITSELF, Reason
from contactsync_api.status import (
    Condition,
    ConditionStatus,
    ConditionType,
    ContactSyncStatus,
    LastSync,
    RegionStatus,
    SyncResult,
    WorkerCounts,
    serialized,
)
from contactsync_operator import naming
from contactsync_operator.observed import Observed, ObservedRun
from contactsync_operator.planner import Plan, RegionPlan
from contactsync_operator.schedules import describe_timing

_RUN_RESULTS = {
    "COMPLETED": SyncResult.SUCCEEDED,
    "RUNNING": SyncResult.RUNNING,
    "FAILED": SyncResult.FAILED,
    "TIMED_OUT": SyncResult.FAILED,
    "TERMINATED": SyncResult.FAILED,
    "CANCELED": SyncResult.FAILED,
}
# What a condition says: True or False, why, and for people the details.
Verdict = tuple[bool, Reason, str]


@dataclass(frozen=True)
class Problem:
    """Something a user must act on, with a searchable reason."""

    reason: Reason
    message: str


@dataclass
class Outcome:
    """What executing a plan did."""

    problems: list[Problem] = field(default_factory=list)
    schedules_present: set[str] = field(default_factory=set)


def condition(
    kind: ConditionType,
    verdict: Verdict,
    generation: int,
    previous: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Condition:
    """The condition ``kind`` as of ``now``, given the conditions the status holds already."""
    true, reason, message = verdict
    status = ConditionStatus.TRUE if true else ConditionStatus.FALSE
    before = next((c for c in previous if c.get("type") == kind), {})
    # The transition time moves only when the status does, as Kubernetes conditions expect.
    since = _time(before.get("lastTransitionTime")) if before.get("status") == status else None
    return Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since or now,
        observed_generation=generation,
    )


def deletion_waits(
    previous: Sequence[Mapping[str, Any]], message: str, generation: int, now: datetime
) -> list[dict[str, Any]]:
    """The conditions while deletion waits: Degraded says why, and the others stay as the last
    reconcile wrote them (no reconcile runs once deletion has begun)."""
    verdict = (True, Reason.CLEANUP_BLOCKED, message)
    degraded = condition(ConditionType.DEGRADED, verdict, generation, previous, now)
    others = [dict(c) for c in previous if c.get("type") != degraded.type]
    return [*others, serialized(degraded)]


def spec_refused(
    previous: Sequence[Mapping[str, Any]], message: str, generation: int, now: datetime
) -> list[dict[str, Any]]:
    """The conditions of a spec the API server admitted and the model refuses (a time zone or
    an LDAP filter no CEL rule can check): nothing of it is applied, and a person must fix it.
    What an earlier generation created is left as it is."""
    problem = (True, Reason.INVALID_SPEC, message)
    verdicts: tuple[tuple[ConditionType, Verdict], ...] = (
        (ConditionType.READY, (False, Reason.INVALID_SPEC, message)),
        (ConditionType.PROGRESSING, (False, Reason.IDLE, "")),
        (ConditionType.DEGRADED, problem),
        (ConditionType.RECONCILING, (False, Reason.STALLED, "")),
        (ConditionType.STALLED, problem),
    )
    return [
        serialized(condition(kind, verdict, generation, previous, now))
        for kind, verdict in verdicts
    ]


def _time(written: object) -> datetime | None:
    if not isinstance(written, str):
        return None
    try:
        return datetime.fromisoformat(written)
    except ValueError:
        return None


def _last_sync(run: ObservedRun | None) -> LastSync | None:
    if run is None:
        return None
    result = _RUN_RESULTS.get(run.status, SyncResult.FAILED)
    if run.failure_type == ErrorType.MASS_DELETE_BLOCKED:
        result = SyncResult.BLOCKED
    last = LastSync(
        result=result,
        workflow_id=run.workflow_id,
        started_at=run.started_at,
        finished_at=run.closed_at,
        failure_type=run.failure_type,
        message=run.failure,
    )
    summary = run.summary
    if summary is None:
        return last  # counts left unset: the CRD defaults them
    return last.model_copy(
        update={
            "created": summary.created,
            "updated": summary.updated,
            "deleted": summary.deleted,
            "unchanged": summary.unchanged,
            "skipped_no_consent": summary.skipped_no_consent,
            "quarantined": summary.quarantined,
            "dropped_emails": summary.dropped_emails,
            "dropped_phones": summary.dropped_phones,
            "quarantined_invalid_values": summary.quarantined_invalid_values,
            "quarantined_no_identity": summary.quarantined_no_identity,
            "audit_checkpoint": summary.audit_checkpoint or None,
        }
    )


def _region_status(resource: ContactSync, region: RegionPlan, observed: Observed) -> RegionStatus:
    if not region.served_here:
        return RegionStatus(name=region.name, served_here=False)
    spec_region = next(r for r in resource.spec.regions if r.name == region.name)
    counts = observed.workers.get(region.name)
    sync_id = naming.sync_schedule_id(resource.namespace, resource.name, region.name)
    schedule = observed.schedules.get(sync_id)
    return RegionStatus(
        name=region.name,
        served_here=True,
        task_queue=naming.task_queue(resource.namespace, resource.name, region.name),
        schedule_id=sync_id,
        retention_schedule_id=naming.retention_schedule_id(
            resource.namespace, resource.name, region.name
        ),
        workers=WorkerCounts(
            desired=spec_region.workers.replicas, ready=counts.ready if counts else 0
        ),
        next_sync_time=schedule.next_run if schedule else None,
        last_sync=_last_sync(schedule.last_run if schedule else None),
    )


def _region_ready(
    resource: ContactSync, region: RegionPlan, observed: Observed, outcome: Outcome
) -> bool:
    if region.blocked_reason or not set(region.schedule_ids) <= outcome.schedules_present:
        return False
    desired = next(r for r in resource.spec.regions if r.name == region.name).workers.replicas
    counts = observed.workers.get(region.name)
    return desired == 0 or (counts is not None and counts.ready > 0)


def missing_schedules(plan: Plan, observed: Observed, outcome: Outcome) -> dict[str, int]:
    """How many of its schedules each served region lacks after the reconcile. Empty while
    Temporal cannot be read: then nobody knows, and TemporalUnavailable says so."""
    if observed.temporal_error:
        return {}
    return {
        r.name: len(set(r.schedule_ids) - outcome.schedules_present)
        for r in plan.regions
        if r.served_here
    }


def build_status(
    resource: ContactSync,
    plan: Plan,
    observed: Observed,
    outcome: Outcome,
    previous_conditions: Sequence[Mapping[str, Any]],
    now: datetime,
) -> ContactSyncStatus:
    served = [r for r in plan.regions if r.served_here]
    ready_regions = [r for r in served if _region_ready(resource, r, observed, outcome)]
    problems = list(outcome.problems)
    problems += [
        Problem(r.blocked_reason, r.blocked_message or "") for r in served if r.blocked_reason
    ]
    if observed.temporal_error:
        problems.append(Problem(Reason.TEMPORAL_UNAVAILABLE, observed.temporal_error))
    generation = resource.generation
    all_ready = not problems and len(ready_regions) == len(served)
    waiting = [r.name for r in served if r not in ready_regions]
    ready: Verdict
    if all_ready:
        ready = (True, Reason.RECONCILED, f"{len(served)} region(s) served here are running")
    elif problems:
        ready = (False, problems[0].reason, problems[0].message)
    else:
        ready = (False, Reason.WORKERS_NOT_READY, f"waiting for workers in: {', '.join(waiting)}")
    progressing: Verdict = (
        (True, Reason.APPLYING, "applying changes")
        if plan.changes_anything
        else (
            not all_ready and not problems,
            Reason.WAITING_FOR_WORKERS if waiting and not problems else Reason.IDLE,
            "",
        )
    )
    degraded: Verdict = (
        (True, problems[0].reason, "; ".join(f"{p.reason}: {p.message}" for p in problems))
        if problems
        else (False, Reason.AS_EXPECTED, "")
    )
    for_a_person = [p for p in problems if p.reason not in RETRIED_BY_ITSELF]
    stalled: Verdict = (
        (True, for_a_person[0].reason, "; ".join(f"{p.reason}: {p.message}" for p in for_a_person))
        if for_a_person
        else (False, Reason.AS_EXPECTED, "")
    )
    reconciling: Verdict = (
        (False, Reason.STALLED if for_a_person else Reason.RECONCILED, "")
        if for_a_person or all_ready
        else (
            (True, problems[0].reason, problems[0].message)
            if problems
            else (True, Reason.APPLYING, "applying changes")
            if plan.changes_anything
            else (
                True,
                Reason.WAITING_FOR_WORKERS,
                f"waiting for workers in: {', '.join(waiting)}",
            )
        )
    )
    conditions = [
        condition(kind, verdict, generation, previous_conditions, now)
        for kind, verdict in (
            (ConditionType.READY, ready),
            (ConditionType.PROGRESSING, progressing),
            (ConditionType.DEGRADED, degraded),
            (ConditionType.RECONCILING, reconciling),
            (ConditionType.STALLED, stalled),
        )
    ]
    finished = [
        s.last_run.closed_at
        for s in observed.schedules.values()
        if s.last_run and s.last_run.closed_at
    ]
    return ContactSyncStatus(
        observed_generation=generation,
        conditions=conditions,
        regions=[_region_status(resource, r, observed) for r in plan.regions],
        schedule=describe_timing(resource.spec.schedule),
        regions_ready=f"{len(ready_regions)}/{len(served)}",
        last_sync_time=max(finished) if finished else None,
    )


def reconcile_outcome(status: ContactSyncStatus) -> str:
    """The reconcile's outcome for the operator's metrics: "degraded" exactly when the status
    it wrote says Degraded (problems met while applying, a region blocked, or Temporal
    unreadable), else "ok", so the metric and the status never disagree."""
    degraded = any(
        c.type == ConditionType.DEGRADED and c.status == ConditionStatus.TRUE
        for c in status.conditions
    )
    return "degraded" if degraded else "ok"
